// An api instance whose PostgreSQL goes away answers 503 naming the database (not 500), and
// answers again once it is back: the pool reconnects on its own.
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { startApp } from '../support/app';
import { ReadWorkersService } from '../../src/read-workers/read-workers.service';
import { startPostgres, TestPostgres } from '../support/postgres';
import { waitFor } from '../support/wait';

// A stop and start of PostgreSQL and a wait of up to 20 s: more than jest's default 5 s under load.
jest.setTimeout(120_000);

let pg: TestPostgres;
let app: INestApplication;

beforeAll(async () => {
  pg = startPostgres();
  // The audits in the threads too (auto keeps them on the loop with PostgreSQL): their errors cross threads.
  app = await startApp({ LIVETRACE_DB: await pg.database('api_unreachable'), LIVETRACE_ROLE: 'api', LIVETRACE_READ_WORKER_AUDITS: 'true' });
});

afterAll(async () => {
  await app?.close();
  pg?.stop();
});

it('GET answers 503 while PostgreSQL is stopped and 200 again after it starts', async () => {
  const server = app.getHttpServer();
  // GET /traces pages and the audits are read by the reader threads, on pools of their own: a lost
  // server must be the same 503 from there, not a 500 for an error that crossed threads.
  const pool = app.get(ReadWorkersService).pool!;
  expect(pool.size).toBeGreaterThan(0);
  // No trace cited it and OVN is not there: the thread's reads say so, the main thread's 404.
  const audit = '/logical-flows/00000000-0000-4000-8000-000000000000/datapath-flows';
  const served = pool.served.audit;
  expect((await request(server).get(audit)).status).toBe(404);
  expect(pool.served.audit).toBe(served + 1);
  expect((await request(server).get('/upcalls')).status).toBe(200);
  expect((await request(server).get('/traces')).status).toBe(200);
  pg.stopServer();
  try {
    const r = await request(server).get('/upcalls');
    expect(r.status).toBe(503);
    expect(r.body.message).toMatch(/^the central database is unreachable, retry later: /);
    const t = await request(server).get('/traces');
    expect(t.status).toBe(503);
    expect(t.body.message).toMatch(/^the central database is unreachable, retry later: /);
    const a = await request(server).get(audit);
    expect(a.status).toBe(503);
    expect(a.body.message).toMatch(/^the central database is unreachable, retry later: /);
    const h = await request(server).get('/health');
    expect(h.status).toBe(503);
    expect(h.body.details.central).toMatchObject({ status: 'down', spooling: true });
  } finally {
    pg.startServer();
  }
  let last = 0;
  await waitFor('the api to answer again', async () => (last = (await request(server).get('/upcalls')).status) === 200, 20_000);
  expect(last).toBe(200);
  await waitFor('the reader threads to answer again', async () => (last = (await request(server).get('/traces')).status) === 200, 20_000);
  expect(last).toBe(200);
  expect((await request(server).get(audit)).status).toBe(404);
});
