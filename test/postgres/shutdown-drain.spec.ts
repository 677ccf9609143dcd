// A `systemctl stop` (SIGTERM) of an api instance while it answers a request: the request gets its
// whole answer. The stop destroyed every HTTP connection (forceCloseConnections) and gave up the reads
// waiting on PostgreSQL first thing (a 503), while the server kept accepting new connections until its
// hooks were done. Now the stop first stops accepting, closes the idle keep-alive connections, ends the
// server-sent-event streams (they have no end of their own and must not hold the stop), and lets the
// requests in flight finish within a bound (src/common/http-drain.ts DRAIN_MS). The service's own entry
// point; the read is slow because PostgreSQL makes it wait (a lock held by another session), then lets it go.
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { Child, spawnService } from '../support/app';
import { freePort } from '../support/ports';
import { connect, startPostgres, TestPostgres } from '../support/postgres';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

let pg: TestPostgres;
let child: Child | undefined;
let locker: Client | undefined;

beforeAll(() => {
  pg = startPostgres();
});

afterAll(async () => {
  child?.proc.kill('SIGKILL');
  await locker?.end().catch(() => undefined);
  pg?.stop();
});

/** A GET on a connection of `agent`, answered whole: status and body. */
const get = (url: string, agent: Agent) =>
  new Promise<{ status: number; body: string; socket: Socket }>((resolve, reject) => {
    const req = httpRequest(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, socket: req.socket! }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });

it('an api instance stopped while it answers a read finishes the answer, closes its idle connections and ends its event streams without waiting for them', async () => {
  const url = await pg.database('shutdown_drain');
  const port = await freePort();
  const at = `http://127.0.0.1:${port}`;
  child = spawnService({ LIVETRACE_DB: url, LIVETRACE_SPOOL: join(mkdtempSync(join(tmpdir(), 'livetrace-drain-')), 'spool.sqlite'), LIVETRACE_ROLE: 'api', LIVETRACE_PORT: String(port), LIVETRACE_READ_WORKERS: '0', LIVETRACE_LOG_LEVEL: 'warn' });
  const agent = new Agent({ keepAlive: true, maxSockets: 10 });
  await waitFor('the api to answer', async () => (await get(`${at}/upcalls`, agent).catch(() => undefined))?.status === 200, 60_000);

  // A client whose keep-alive connection sits idle.
  const idle = (await get(`${at}/health`, agent)).socket;
  const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
  // A client following the event stream.
  const stream = await fetch(`${at}/traces/stream`);
  expect(stream.status).toBe(200);
  const events = stream.body!.getReader();
  const streamEnd = (async () => {
    for (;;) if ((await events.read()).done) return 'ended';
  })().catch((e: Error) => `cut: ${e.message}`);
  // A read PostgreSQL makes wait: another session holds the table.
  locker = await connect(url);
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE upcall IN ACCESS EXCLUSIVE MODE');
  const answer = get(`${at}/upcalls?limit=5`, new Agent({ keepAlive: true })).then(
    (r) => ({ status: r.status, body: JSON.parse(r.body) as unknown }),
    (e: Error) => ({ cut: e.message }),
  );
  await waitFor('the read to wait on the lock', async () => (await locker!.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'shutdown_drain'`)).rowCount === 1 || undefined, 10_000);

  child.proc.kill('SIGTERM');
  // While the read is still in flight: the stream ended whole (not cut), the idle connection closed,
  // and no new connection is taken.
  expect(await streamEnd).toBe('ended');
  await idleClosed;
  await waitFor('new connections refused', async () => (await fetch(`${at}/health`).then(() => undefined, (e: Error & { cause?: { code?: string } }) => e.cause?.code === 'ECONNREFUSED')), 10_000);
  expect(await locker.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = 'shutdown_drain'`)).toMatchObject({ rowCount: 1 });
  // PostgreSQL lets the read go: its answer is whole.
  await locker.query('ROLLBACK');
  expect(await answer).toEqual({ status: 200, body: expect.objectContaining({ items: [] }) });
  expect(await child.exit).toEqual({ code: null, signal: 'SIGTERM' });
  agent.destroy();
});
