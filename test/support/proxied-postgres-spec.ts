// A postgres spec's PostgreSQL behind a silent proxy (support/silent-proxy.ts: reset, partition) and
// the app it starts on it: set up before the spec's cases, all closed after them (shutdown-*.spec.ts).
import type { INestApplication } from '@nestjs/common';
import { startPostgres, TestPostgres } from './postgres';
import { SilentProxy, silentProxy } from './silent-proxy';

export interface ProxiedPostgres {
  pg: TestPostgres;
  proxy: SilentProxy;
  /** The spec's app, closed after its cases (before PostgreSQL stops). */
  app: INestApplication | undefined;
}

/** Registers the spec's beforeAll / afterAll; `database`: its database's name on the cluster. */
export function proxiedPostgresSpec(database: string): ProxiedPostgres {
  const spec = { app: undefined } as ProxiedPostgres;
  beforeAll(async () => {
    spec.pg = startPostgres();
    spec.proxy = await silentProxy(await spec.pg.database(database));
  });
  afterAll(async () => {
    await spec.proxy?.close();
    await spec.app?.close();
    spec.pg?.stop();
  });
  return spec;
}
