// The provider network across chassis (test/support/provider-network.ts) on PostgreSQL: one agent
// per chassis and an api instance, each with its own SQLite spool shipped to one database; the api
// instance's answers (the localnet look, PathStore.localnetPasses, both ways) are PostgreSQL's.
import { join } from 'node:path';
import { startPostgres, TestPostgres } from '../support/postgres';
import { providerNetworkCases } from '../support/provider-network';

jest.setTimeout(300_000);

let pg: TestPostgres | undefined;

providerNetworkCases(
  'livetrace-pgprov-',
  async () => {
    pg = startPostgres();
    const url = await pg.database('provider_network');
    return (dir, name) => ({ LIVETRACE_DB: url, LIVETRACE_SPOOL: join(dir, `spool-${name}.sqlite`) });
  },
  () => pg?.stop(),
);
