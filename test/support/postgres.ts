// A PostgreSQL cluster of the test's own (scripts/pg-cluster: Debian's postgresql, run as the
// postgres user, a free loopback port), and a fresh database in it per use, so tests never see
// each other's rows. Nothing assumes a server already running.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { openPostgres } from '../../src/storage/postgres';
import { ROOT } from './app';

export interface TestPostgres {
  dir: string;
  /** postgres://… of the cluster's default database `livetrace`. */
  url: string;
  /** A new empty database in the cluster; its URL. */
  database(name: string): Promise<string>;
  /** Stops the cluster (fast shutdown) without removing it: start() brings it back. */
  stopServer(): void;
  startServer(): void;
  /** Stops it and removes its folder. */
  stop(): void;
}

const script = join(ROOT, 'scripts/pg-cluster');
// fsync off: a test cluster lives for one file and is never asked to survive the machine's crash;
// a stopped, partitioned or killed server loses nothing a commit acknowledged either way (the
// kernel has it), so what the specs assert is unchanged. Each commit, CREATE DATABASE and
// shutdown checkpoint no longer waits on the shared disk (scripts/pg-cluster).
const env = { ...process.env, PG_CLUSTER_FSYNC: 'off' };
const run = (...args: string[]): string => {
  try {
    return execFileSync(script, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env }).trim();
  } catch (err) {
    // execFileSync's message is the command alone: what the script said, its status or signal with it.
    const e = err as { status?: number | null; signal?: string | null; stderr?: string };
    throw new Error(`pg-cluster ${args.join(' ')}: ${e.signal ? `killed by ${e.signal}` : `exit ${e.status}`}: ${(e.stderr ?? '').trim() || 'nothing on stderr'}`);
  }
};

export function startPostgres(): TestPostgres {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-pg-'));
  // The postgres user must be able to enter the folder.
  execFileSync('chmod', ['755', dir]);
  const url = run('start', dir).split('\n').pop()!;
  return {
    dir,
    url,
    async database(name) {
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}"`);
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return url.replace(/\/[^/]*$/, `/${name}`);
    },
    stopServer: () => void run('stop', dir),
    startServer: () => void run('start', dir),
    stop() {
      try {
        run('stop', dir);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A spec's own cluster, started before all and stopped (removed) after all: the getter answers it once started. */
export function usePostgres(): () => TestPostgres {
  let pg: TestPostgres | undefined;
  beforeAll(() => {
    pg = startPostgres();
  });
  afterAll(() => pg?.stop());
  return () => pg!;
}

/** A client connected to `url`; the caller ends it. */
export async function connect(url: string): Promise<Client> {
  const c = new Client({ connectionString: url });
  await c.connect();
  return c;
}

/** A new database `name` in `pg`, migrated as a start does, then taken back to before `migration` (it and every later one undone); its URL. */
export async function migratedBefore(pg: TestPostgres, name: string, migration: string): Promise<string> {
  const url = await pg.database(name);
  const ds = await openPostgres(url, 2);
  try {
    const ran = async () => ((await ds.query('SELECT name FROM migrations')) as Array<{ name: string }>).map((r) => r.name);
    while ((await ran()).includes(migration)) await ds.undoLastMigration();
  } finally {
    await ds.destroy();
  }
  return url;
}

/** `probe`'s first truthy answer, asked every 100 ms (a state awaited, not a time; a minute at most). */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const got = await probe();
    if (got) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`never: ${what}`);
}

/**
 * Whether work under way on backend `pid` got done ('done': `isDone()`) or waits behind another
 * backend's lock ('blocked', pg_blocking_pids), whichever is seen first; `admin` asks.
 */
export const doneOrBlocked = (admin: Client, pid: number, isDone: () => boolean): Promise<'done' | 'blocked'> =>
  until('the work done or blocked', async () => {
    if (isDone()) return 'done' as const;
    const { rows } = await admin.query('SELECT cardinality(pg_blocking_pids($1)) AS n', [pid]);
    return rows[0].n > 0 ? ('blocked' as const) : undefined;
  });
