// A stop gives PostgreSQL's own retention round up at once, as it gives up the shipper's batch and
// the API's reads (StoreService's stop signal, pg-client.ts withClient: ESHUTDOWN). The round in flight
// across a partition held the stop: RetentionService's shutdown awaits it, and its statement waited
// for the silence bound (SILENT_MS, 60 s), past what a stop may take. What the round had not committed
// is redone by a later one (each batch its own transaction). An api instance (its central retention
// on) through test/support/silent-proxy.ts, frozen while the round's first statement waits.
import request from 'supertest';
import type { Pool } from 'pg';
import { RetentionService } from '../../src/retention/retention.service';
import { StoreService } from '../../src/storage/store.service';
import { startApp } from '../support/app';
import { proxiedPostgresSpec } from '../support/proxied-postgres-spec';
import { waitFor } from '../support/wait';

// Without the stop's signal the round ends only at SILENT_MS (60 s): the case fails on its outcome, not on jest's timeout.
jest.setTimeout(150_000);

const spec = proxiedPostgresSpec('shutdown_retention');

it('a central retention round waiting on a partitioned PostgreSQL is given up by the stop (ESHUTDOWN), not held until the silence bound', async () => {
  spec.app = await startApp({ LIVETRACE_DB: spec.proxy.url, LIVETRACE_ROLE: 'api', LIVETRACE_PG_POOL: '4', LIVETRACE_READ_WORKERS: '0', LIVETRACE_CENTRAL_RETENTION_DAYS: '1' });
  const retention = spec.app.get(RetentionService);
  expect(retention.central).toBe(true);
  // A round that ran: the pool holds idle connections the next round takes (no connect to wait on).
  expect(await retention.centralRound()).toMatchObject({ ran: true });
  const http = request(spec.app.getHttpServer());
  await Promise.all([http.get('/upcalls'), http.get('/upcalls'), http.get('/upcalls')]);
  const pool = spec.app.get(StoreService).central!.pool as Pool;
  expect(pool.idleCount).toBeGreaterThan(1);
  spec.proxy.partition();
  const idle = pool.idleCount;
  const round = retention.centralRound().then(
    () => ({ ended: 'without an error' }) as Record<string, unknown>,
    (err: NodeJS.ErrnoException) => ({ code: err.code, message: err.message }),
  );
  // Its first statement is on one of the idle connections, waiting for an answer that never comes.
  await waitFor('the round to wait on PostgreSQL', async () => pool.idleCount < idle || undefined, 10_000);
  const closed = spec.app.close();
  spec.app = undefined;
  expect(await round).toEqual({ code: 'ESHUTDOWN', message: 'abandoned: the process is stopping' });
  await closed;
  spec.proxy.heal();
});

it('a central retention round whose connect waits on a partitioned PostgreSQL is given up by the stop (ESHUTDOWN), not held until the connect timeout and warned of as a failure', async () => {
  spec.proxy.heal();
  spec.app = await startApp({ LIVETRACE_DB: spec.proxy.url, LIVETRACE_ROLE: 'api', LIVETRACE_PG_POOL: '4', LIVETRACE_READ_WORKERS: '0', LIVETRACE_CENTRAL_RETENTION_DAYS: '1' });
  const retention = spec.app.get(RetentionService);
  expect(await retention.centralRound()).toMatchObject({ ran: true });
  const pool = spec.app.get(StoreService).central!.pool as Pool;
  // Every connection gone, and a new one connects to the partition and hears nothing.
  spec.proxy.reset();
  spec.proxy.partition();
  await waitFor('the reset connections to leave the pool', async () => pool.totalCount === 0 || undefined, 10_000);
  const round = retention.centralRound().then(
    () => ({ ended: 'without an error' }) as Record<string, unknown>,
    (err: NodeJS.ErrnoException) => ({ code: err.code, message: err.message }),
  );
  // The round's connect is under way (counted by the pool at once), its startup never answered.
  expect(pool.totalCount).toBe(1);
  const closed = spec.app.close();
  spec.app = undefined;
  // Not pg's own connectionTimeoutMillis ('Connection terminated due to connection timeout'), which
  // RetentionService's shutdown (before the pool's close) waited out, then warned of as a failed round.
  expect(await round).toEqual({ code: 'ESHUTDOWN', message: 'abandoned: the process is stopping' });
  await closed;
  spec.proxy.heal();
});
