// The end of a stop closes the central pool (central.ts close, pg-client.ts endPool) without waiting
// on a partitioned PostgreSQL for what the stop gave up. pg-pool's end() resolves once no client is
// left, and a connect under way across a partition (the startup never answered) counts until pg's
// connectionTimeoutMillis (5 s): a stop whose deadline (ship-stop.ts STOP_FLUSH_MS) gave up a batch
// waiting on a connect then waited for that connect too, ~10 s in all instead of ~5. The close destroys
// such a connect: it fails as given up by the stop (ESHUTDOWN), not by pg's own connect timeout.
// Through test/support/silent-proxy.ts: connections reset, then partitioned, so a new connect hangs.
import request from 'supertest';
import type { Pool } from 'pg';
import { StoreService } from '../../src/storage/store.service';
import { startApp } from '../support/app';
import { proxiedPostgresSpec } from '../support/proxied-postgres-spec';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spec = proxiedPostgresSpec('shutdown_connect');

it("the stop's close of the central pool gives up a connect still waiting on a partitioned PostgreSQL rather than waiting out its connect timeout", async () => {
  spec.app = await startApp({ LIVETRACE_DB: spec.proxy.url, LIVETRACE_ROLE: 'api', LIVETRACE_PG_POOL: '3', LIVETRACE_READ_WORKERS: '0' });
  expect((await request(spec.app.getHttpServer()).get('/upcalls')).status).toBe(200);
  const pool = spec.app.get(StoreService).central!.pool as Pool;
  // Every connection gone, and a new one connects to the partition and hears nothing.
  spec.proxy.reset();
  spec.proxy.partition();
  await waitFor('the reset connections to leave the pool', async () => (pool.idleCount === 0 && pool.totalCount < 3) || undefined, 10_000);
  const before = pool.totalCount;
  // A connect of the pool under way when the process stops (as the shipper's next batch or a read's):
  // counted by the pool at once (a client of its own, the pool not full), its startup never answered.
  const connect = pool.connect().then(
    (client) => {
      client.release(true);
      return { connected: true } as Record<string, unknown>;
    },
    (err: NodeJS.ErrnoException) => ({ code: err.code, message: err.message }),
  );
  // What the stop's last hook calls (StoreService.onApplicationShutdown), once the stop gave the work up.
  expect(pool.totalCount).toBe(before + 1);
  await spec.app.get(StoreService).central!.close();
  // Given up by the close (ESHUTDOWN), not ended by pg's connectionTimeoutMillis ('Connection terminated due to connection timeout').
  expect(await connect).toEqual({ code: 'ESHUTDOWN', message: 'abandoned: the process is stopping' });
  expect(pool.totalCount).toBe(0);
  await spec.app.close();
  spec.app = undefined;
  spec.proxy.heal();
});
