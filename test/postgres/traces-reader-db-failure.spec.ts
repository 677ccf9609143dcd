// GET /traces?logical_port=<a name OVN does not know> answered by a reader thread: when the thread is
// restarting, the main thread asks PostgreSQL whether the port exists (the 404 of 51f7114). When the
// thread's failure is PostgreSQL's (silent here: a partition, the thread's query given up after a
// minute), that probe would be a second wait on the same silent server before the same 503: it is
// not sent. A real api instance, its reader thread and main pool through test/support/silent-proxy.ts.
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { ReadWorkersService } from '../../src/read-workers/read-workers.service';
import { StoreService } from '../../src/storage/store.service';
import { TraceStore } from '../../src/traces/trace-store';
import { startApp } from '../support/app';
import { startPostgres, TestPostgres } from '../support/postgres';
import { SilentProxy, silentProxy } from '../support/silent-proxy';

// The thread's wait on a silent PostgreSQL is SILENT_MS / QUERY_TIMEOUT_MS (a minute each), not shortened here.
jest.setTimeout(240_000);

let pg: TestPostgres;
let proxy: SilentProxy;
let app: INestApplication;

beforeAll(async () => {
  pg = startPostgres();
  proxy = await silentProxy(await pg.database('traces_reader_db_failure'));
  app = await startApp({ LIVETRACE_DB: proxy.url, LIVETRACE_ROLE: 'api', LIVETRACE_PG_POOL: '3', LIVETRACE_READ_WORKERS: '1' });
});

afterAll(async () => {
  await proxy?.close();
  await app?.close();
  pg?.stop();
});

it('a reader thread that failed on a silent PostgreSQL answers 503 without probing the port again', async () => {
  const server = app.getHttpServer();
  const pool = app.get(ReadWorkersService).pool!;
  expect(pool.size).toBe(1);
  const store = app.get(TraceStore);
  const probe = jest.spyOn(store, 'hasPort');
  // Both sides hold a connection now: the thread read the (empty) page, the main thread probed (404).
  expect((await request(server).get('/traces?logical_port=no-such-port')).status).toBe(404);
  expect(probe).toHaveBeenCalledTimes(1);
  probe.mockClear();
  // Should the probe be sent, it gives up after 2 s (the main thread's bound, as api-silent sets it).
  (app.get(StoreService).query as unknown as { silentMs: number }).silentMs = 2000;
  proxy.partition();
  const r = await request(server).get('/traces?logical_port=no-such-port').timeout(200_000);
  expect({ status: r.status, probes: probe.mock.calls.length }).toEqual({ status: 503, probes: 0 });
});
