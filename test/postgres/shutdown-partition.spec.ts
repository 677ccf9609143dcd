// A `systemctl stop` (SIGTERM) of a service whose PostgreSQL became unreachable by a partition (its
// connections stay open and silent, a close is never answered) must still end the process. pg's
// Client.end() waits for the server's close, which never comes across a partition (e12b70e, endClient);
// the shutdown's pool.end() (TypeORM's destroy of the central pool) does not wait on it: pg-pool drops
// its idle clients at once and resolves when none is checked out, and every checked-out client is
// bounded by SILENT_MS (withClient) or ended by endClient; the reader threads are terminated, not ended.
// Checked here as an operator runs it: the service's own entry point, one reader thread holding a
// connection, every connection through test/support/silent-proxy.ts, partitioned before the SIGTERM.
// (Measured: the process ends in about 75 s, the shipper's statement in flight given up at SILENT_MS.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child, spawnService } from '../support/app';
import { freePort } from '../support/ports';
import { startPostgres, TestPostgres } from '../support/postgres';
import { SilentProxy, silentProxy } from '../support/silent-proxy';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

let pg: TestPostgres;
let proxy: SilentProxy;
let child: Child | undefined;

beforeAll(async () => {
  pg = startPostgres();
  proxy = await silentProxy(await pg.database('shutdown_partition'));
});

afterAll(async () => {
  child?.proc.kill('SIGKILL');
  await proxy?.close();
  pg?.stop();
});

it('an api instance stopped while PostgreSQL is partitioned away exits on its SIGTERM', async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-shutdown-'));
  child = spawnService({ LIVETRACE_DB: proxy.url, LIVETRACE_SPOOL: join(dir, 'spool.sqlite'), LIVETRACE_ROLE: 'api', LIVETRACE_PORT: String(port), LIVETRACE_LOG_LEVEL: 'warn', LIVETRACE_READ_WORKERS: '1' });
  const at = `http://127.0.0.1:${port}`;
  // A page read by the thread, a read on the main pool: both hold an idle connection when the partition comes.
  await waitFor('the api to answer', async () => (await fetch(`${at}/traces`).catch(() => undefined))?.status === 200, 60_000);
  expect((await fetch(`${at}/upcalls`)).status).toBe(200);
  proxy.partition();
  child.proc.kill('SIGTERM');
  // Twice the shutdown's longest bounded wait and more: past it, the stop is hung (systemd would SIGKILL it).
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((r) => (timer = setTimeout(() => r('still running 200 s after SIGTERM'), 200_000)));
  const done = await Promise.race([child.exit, hung]).finally(() => clearTimeout(timer));
  // Nest's shutdown hooks ran to their end and re-raised the signal (no exit code: killed by its own SIGTERM).
  expect(done).toEqual({ code: null, signal: 'SIGTERM' });
});
