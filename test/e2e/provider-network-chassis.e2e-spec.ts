// The provider network across chassis (test/support/provider-network.ts) on one SQLite file.
import { providerNetworkCases } from '../support/provider-network';

jest.setTimeout(300_000);

providerNetworkCases('livetrace-prov-', async () => (dir) => ({ LIVETRACE_DB: `${dir}/prov.sqlite` }));
