// A read that waits on PostgreSQL when the process stops is given up at once (StoreService's
// onModuleDestroy aborts PgReader's reads, pg-client.ts withClient: ESHUTDOWN). Its request is
// answered as any read PostgreSQL did not answer: 503, retry later (another instance, or this one
// once started again), not 500 'internal error' with a stack logged as a fault of the code.
import request from 'supertest';
import type { Pool } from 'pg';
import { StoreService } from '../../src/storage/store.service';
import { startApp } from '../support/app';
import { proxiedPostgresSpec } from '../support/proxied-postgres-spec';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spec = proxiedPostgresSpec('shutdown_read');

it('a read waiting on a silent PostgreSQL when the api stops answers 503 (retry), not 500', async () => {
  spec.app = await startApp({ LIVETRACE_DB: spec.proxy.url, LIVETRACE_ROLE: 'api', LIVETRACE_PG_POOL: '3', LIVETRACE_READ_WORKERS: '0' });
  const server = spec.app.getHttpServer();
  await spec.app.listen(0, '127.0.0.1');
  expect((await request(server).get('/upcalls')).status).toBe(200);
  const pool = spec.app.get(StoreService).central!.pool as Pool;
  spec.proxy.freeze();
  const answer = request(server).get('/upcalls').timeout(30_000).then((r) => ({ status: r.status, message: r.body.message as string }));
  // The read is on a connection of the pool, waiting for PostgreSQL.
  await waitFor('the read to wait on PostgreSQL', async () => pool.totalCount - pool.idleCount >= 1 || undefined, 10_000);
  const closed = spec.app.close();
  spec.app = undefined;
  expect(await answer).toEqual({ status: 503, message: expect.stringMatching(/^the central database is unreachable, retry later: /) });
  await closed;
  spec.proxy.heal();
});
