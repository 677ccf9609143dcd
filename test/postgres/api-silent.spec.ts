// An api instance whose PostgreSQL falls silent (a partition that eats the answers, a frozen host:
// the connections stay open, nothing comes back) must answer 503 naming PostgreSQL, not hang the
// request, and must answer again once PostgreSQL does. PostgreSQL's own statement_timeout cannot
// end such a wait (it is the server's, and the server is gone), TCP keepalive takes about two hours.
// Before, a read waited for good on its pooled connection (the request never answered), and
// /health's ping, raced against 2 s, left its query and its connection checked out for good. A real
// daemon cannot fall silent on demand: a proxy between the api's pool and the test's PostgreSQL
// stops forwarding (test/support/silent-proxy.ts).
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { StoreService } from '../../src/storage/store.service';
import { startApp } from '../support/app';
import { startPostgres, TestPostgres } from '../support/postgres';
import { SilentProxy, silentProxy } from '../support/silent-proxy';
import { waitFor } from '../support/wait';

jest.setTimeout(180_000);

let pg: TestPostgres;
let proxy: SilentProxy;
let app: INestApplication;

beforeAll(async () => {
  pg = startPostgres();
  proxy = await silentProxy(await pg.database('api_silent'));
  // Reads on the main thread (no reader threads: theirs are the same PgReader, with the default bound).
  app = await startApp({ LIVETRACE_DB: proxy.url, LIVETRACE_ROLE: 'api', LIVETRACE_PG_POOL: '3', LIVETRACE_READ_WORKERS: '0' });
});

afterAll(async () => {
  await proxy?.close();
  await app?.close();
  pg?.stop();
});

it('reads and /health answer 503 naming PostgreSQL while it is silent, and reads answer again once it is back', async () => {
  const server = app.getHttpServer();
  const reads = app.get(StoreService).query as unknown as { silentMs: number };
  expect((await request(server).get('/upcalls')).status).toBe(200);
  // /health is 503 here all along (no OVN databases for the replicas): its central part is what counts.
  expect((await request(server).get('/health')).body.details.central).toMatchObject({ status: 'up', store: 'postgres' });
  proxy.freeze();
  try {
    // SILENT_MS (a minute, over PostgreSQL's 30 s statement_timeout) bounds the reads; the test does not wait that long.
    reads.silentMs = 2000;
    // The read meets the pool's idle connection, now silent. Without a bound the request never
    // ends: supertest's timeout says so instead of jest's.
    const r = await request(server).get('/upcalls').timeout(30_000);
    expect(r.status).toBe(503);
    expect(r.body.message).toMatch(/^the central database is unreachable, retry later: PostgreSQL sent nothing for 2 s/);
    // /health says so within its 2 s (its ping is a read: its connection is given up as well).
    for (let i = 0; i < 2; i++) {
      const h = await request(server).get('/health').timeout(30_000);
      expect(h.body.details.central).toMatchObject({ status: 'down', spooling: true });
    }
  } finally {
    proxy.heal();
  }
  // The pool's idle connections froze too: each read that meets one gives it up, then one answers.
  let last = 0;
  await waitFor('the api to answer again', async () => (last = (await request(server).get('/upcalls').timeout(30_000)).status) === 200, 20_000);
  expect(last).toBe(200);
});
