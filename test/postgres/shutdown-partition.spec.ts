// A `systemctl stop` (SIGTERM) of a service whose PostgreSQL became unreachable by a partition (its
// connections stay open and silent, a close is never answered) must end the process, and soon:
// systemd's stop timeout is 90 s, and a stopping process has nothing to wait for (what is not shipped
// is in its spool and goes at the next start). pg's Client.end() waits for the server's close, which
// never comes across a partition (e12b70e, endClient); the shutdown's pool.end() (TypeORM's destroy of
// the central pool) does not wait on it: pg-pool drops its idle clients at once and resolves when none
// is checked out. The shipper's statement in flight was the long wait: given up only at SILENT_MS
// (60 s), then the stop's own shipping attempts (pg's 5 s connect timeout, twice) and the HTTP
// keep-alive, ~75 s in all. Checked here as an operator runs it: the service's own entry point, every
// connection through test/support/silent-proxy.ts, partitioned before the SIGTERM; the bound asserted
// is behavioural: the exit does not wait for the silence bound (well under SILENT_MS), and an agent's
// rows unshipped at the stop (a batch whose COMMIT was never heard among them) reach PostgreSQL after
// a restart without the partition.
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SILENT_MS } from '../../src/storage/pg-client';
import { Child, spawnService } from '../support/app';
import { freePort } from '../support/ports';
import { startPostgres, TestPostgres } from '../support/postgres';
import { SilentProxy, silentProxy } from '../support/silent-proxy';
import { pgRows } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

let pg: TestPostgres;
const proxies: SilentProxy[] = [];
const children: Child[] = [];

beforeAll(() => {
  pg = startPostgres();
});

afterAll(async () => {
  for (const c of children) c.proc.kill('SIGKILL');
  for (const p of proxies) await p.close();
  pg?.stop();
});

// Well under SILENT_MS (60 s): a stop that waited for the silence bound is past it, one that gives
// the partitioned statement up at once is far inside it, however loaded the host.
const DEADLINE_MS = SILENT_MS / 2;

function start(env: Record<string, string>): { child: Child; at: string } {
  const port = Number(env.LIVETRACE_PORT);
  const child = spawnService({ LIVETRACE_LOG_LEVEL: 'warn', ...env });
  children.push(child);
  return { child, at: `http://127.0.0.1:${port}` };
}

/** SIGTERM, and how the process ended (or that it was still running at DEADLINE_MS). */
async function stop(child: Child): Promise<unknown> {
  child.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  // Its log's end says what the stop was waiting for.
  const hung = new Promise<string>((r) => (timer = setTimeout(() => r(`still running ${DEADLINE_MS / 1000} s after SIGTERM (SILENT_MS ${SILENT_MS / 1000} s): ${child.stdout().split('\n').filter((l) => !l.includes('"Replicas"')).join('\n').slice(-3000)}`), DEADLINE_MS)));
  const done = await Promise.race([child.exit, hung]).finally(() => clearTimeout(timer));
  if (typeof done === 'string') {
    // Let it finish (or not) before the next case, so the case's outcome is the only thing said.
    child.proc.kill('SIGKILL');
    await child.exit;
  }
  return done;
}

it('an api instance stopped while PostgreSQL is partitioned away exits on its SIGTERM, without waiting for the silence bound', async () => {
  const proxy = await silentProxy(await pg.database('shutdown_partition'));
  proxies.push(proxy);
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-shutdown-'));
  const { child, at } = start({ LIVETRACE_DB: proxy.url, LIVETRACE_SPOOL: join(dir, 'spool.sqlite'), LIVETRACE_ROLE: 'api', LIVETRACE_PORT: String(await freePort()), LIVETRACE_READ_WORKERS: '1' });
  // A page read by the thread, a read on the main pool: both hold an idle connection when the partition comes.
  await waitFor('the api to answer', async () => (await fetch(`${at}/traces`).catch(() => undefined))?.status === 200, 60_000);
  expect((await fetch(`${at}/upcalls`)).status).toBe(200);
  // A client holding its keep-alive connection open: the stop closes it rather than waiting for its idle end.
  await fetch(`${at}/health`, { keepalive: true }).catch(() => undefined);
  proxy.partition();
  // The shipper's session pull (every 500 ms) and slot update are on a silent connection now.
  await new Promise((r) => setTimeout(r, 1500));
  // Nest's shutdown hooks ran to their end and re-raised the signal (no exit code: killed by its own SIGTERM).
  expect(await stop(child)).toEqual({ code: null, signal: 'SIGTERM' });
});

it('an agent stopped while PostgreSQL is partitioned away exits without waiting for the silence bound, and its unshipped rows reach PostgreSQL after the next start', async () => {
  const url = await pg.database('shutdown_partition_agent');
  const proxy = await silentProxy(url);
  proxies.push(proxy);
  const spool = join(mkdtempSync(join(tmpdir(), 'livetrace-shutdown-')), 'spool.sqlite');
  const env = { LIVETRACE_DB: proxy.url, LIVETRACE_SPOOL: spool, LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv-stop', LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: '', LIVETRACE_VLOG_SET_LEVELS: 'false' };
  const first = start({ ...env, LIVETRACE_PORT: String(await freePort()) });
  // The spool migrated and its writer slot claimed in PostgreSQL: its marks are set.
  const marked = () => {
    const db = new Database(spool, { readonly: true, fileMustExist: true });
    try {
      return db.prepare("SELECT 1 FROM meta WHERE key = 'ship_mark:path'").get() !== undefined || undefined;
    } finally {
      db.close();
    }
  };
  await waitFor('the agent to claim its slot', async () => marked(), 60_000);
  // Started (its shutdown waits for the start to end): it answers.
  await waitFor('the agent to answer', async () => (await fetch(`${first.at}/health`).catch(() => undefined)) !== undefined || undefined, 60_000);
  // Rows the agent traced into its spool (its own writer slot's ids: path is shipped by range).
  const write = (verdicts: string[]) => {
    const db = new Database(spool);
    db.pragma('busy_timeout = 5000');
    const ins = db.prepare("INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv-stop', '2026-12-06T00:00:00Z', 'u0', ?)");
    db.transaction(() => verdicts.forEach((v) => ins.run(v)))();
    db.close();
  };
  write(['{"before":1}']);
  await waitFor('the row before the partition in PostgreSQL', async () => (await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path').catch(() => [{ n: 0 }]))[0].n === 1 || undefined, 60_000).catch((e) => {
    throw new Error(`${e}: ${first.child.stderr()} ${first.child.stdout().slice(-2000)}`);
  });
  proxy.partition();
  // Written while PostgreSQL is away: the shipper's next batch takes them and waits on a silent connection.
  write(['{"during":1}', '{"during":2}', '{"during":3}']);
  await new Promise((r) => setTimeout(r, 2000));
  expect(await stop(first.child)).toEqual({ code: null, signal: 'SIGTERM' });

  // Started again with PostgreSQL reachable (new connections through the proxy forward again).
  proxy.heal();
  const again = start({ ...env, LIVETRACE_PORT: String(await freePort()) });
  await waitFor('every row in PostgreSQL', async () => (await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path'))[0].n === 4 || undefined, 60_000);
  expect((await pgRows(url, 'SELECT verdict FROM path ORDER BY id')).map((r) => r.verdict)).toEqual(['{"before":1}', '{"during":1}', '{"during":2}', '{"during":3}']);
  expect(await stop(again.child)).toEqual({ code: null, signal: 'SIGTERM' });
});
