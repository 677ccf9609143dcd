// LIVETRACE_READ_WORKER_AUDITS=auto on PostgreSQL: the reader threads read GET /traces pages and the
// audits stay on the event loop (on 2 cores the threads put their p99 up 25-30 %: bench/api/
// RESULTS-postgres.md, stop 20). SQLite's auto, the threads, is test/e2e/trace-reader.e2e-spec.ts.
import request from 'supertest';
import type { INestApplication } from '@nestjs/common';
import { ReadWorkersService } from '../../src/read-workers/read-workers.service';
import { startApp } from '../support/app';
import { startPostgres, TestPostgres } from '../support/postgres';

jest.setTimeout(60_000);

let pg: TestPostgres;
let app: INestApplication;

beforeAll(async () => {
  pg = startPostgres();
  app = await startApp({ LIVETRACE_DB: await pg.database('read_worker_audits'), LIVETRACE_ROLE: 'api' });
});

afterAll(async () => {
  await app?.close();
  pg?.stop();
});

it('auto keeps the audits on the event loop with PostgreSQL, the pages in the threads', async () => {
  const server = app.getHttpServer();
  const pool = app.get(ReadWorkersService).pool!;
  expect(pool.size).toBeGreaterThan(0);
  const before = pool.served;
  expect((await request(server).get('/traces')).status).toBe(200);
  const gone = '00000000-0000-4000-8000-000000000000';
  expect((await request(server).get(`/logical-flows/${gone}/datapath-flows`)).status).toBe(404);
  expect((await request(server).get(`/northbound/ACL/${gone}/datapath-flows`)).status).toBe(404);
  expect(pool.served).toEqual({ traces: before.traces + 1, audit: before.audit });
});
