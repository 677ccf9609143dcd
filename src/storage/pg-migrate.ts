// The PostgreSQL migrations as every process runs them at start (openPostgres) and as
// `npm run migration:run` / `migration:revert` run them by hand (storage/migrate.ts): one at a time
// under a session advisory lock, on the lock's own connection, without a statement timeout but with a
// short lock timeout, a migration that gave way to other sessions' locks tried again.
import { Logger } from '@nestjs/common';
import { DataSource, MigrationExecutor, QueryRunner } from 'typeorm';
import type { LivetraceConfig } from '../config/config.schema';

/** The advisory lock every migrating process takes (the typeorm CLI took none; migrate.ts does). */
export const MIGRATION_LOCK = 7946710;

export interface MigrationLockOptions {
  /** lock_timeout of the migrating session (LIVETRACE_PG_MIGRATION_LOCK_TIMEOUT_MS). */
  lockTimeoutMs: number;
  /** Tries of a migration that gave way to other sessions' locks (LIVETRACE_PG_MIGRATION_ATTEMPTS). */
  attempts: number;
}

/** config/livetrace.env's defaults (test/unit/config/config.spec.ts keeps them the same). */
export const MIGRATION_LOCK_DEFAULTS: MigrationLockOptions = { lockTimeoutMs: 5000, attempts: 20 };

export const migrationLock = (cfg: Pick<LivetraceConfig, 'LIVETRACE_PG_MIGRATION_LOCK_TIMEOUT_MS' | 'LIVETRACE_PG_MIGRATION_ATTEMPTS'>): MigrationLockOptions => ({
  lockTimeoutMs: cfg.LIVETRACE_PG_MIGRATION_LOCK_TIMEOUT_MS,
  attempts: cfg.LIVETRACE_PG_MIGRATION_ATTEMPTS,
});

const log = new Logger('Storage');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sqlState = (err: unknown) => {
  const e = err as { code?: string; driverError?: { code?: string } };
  return e?.code ?? e?.driverError?.code;
};

/**
 * A migration that gave way to other sessions' locks, its transaction rolled back and nothing else
 * wrong with it: SQLSTATE 55P03 lock_not_available (ended by lock_timeout), or 40P01
 * deadlock_detected. A shipper's batch holds a table the migration wants and then wants one the
 * migration already altered: the migration waited first, so its deadlock check (deadlock_timeout,
 * 1 s, before the 5 s lock timeout) finds the cycle and PostgreSQL ends it, not the batch; given up
 * at once, a start against busy shippers failed on any migration taking two of their tables
 * (test/postgres/migration-lock-timeout.spec.ts).
 */
export function gaveWayToLock(err: unknown): boolean {
  const state = sqlState(err);
  return state === '55P03' || state === '40P01';
}

/**
 * Runs the pending migrations (or `revert`: undoes the last one) on `ds`, under the advisory lock.
 *
 * A migration's statement may run long (an ALTER TABLE rewriting a large table, an UPDATE filling a
 * new column): no statement timeout, or a database several versions behind failed every start at the
 * pool's 30 s for ever. But its table lock is queued: an ALTER waiting for a shipper's open batch
 * holds its place in the lock queue, and every later reader and writer of that table waits behind
 * it. So it waits at most lock_timeout, its transaction is rolled back ('each' mode: the migrations
 * before it stay), and it is tried again after a pause in which the others go on
 * (test/postgres/migration-lock-timeout.spec.ts). CREATE INDEX CONCURRENTLY waits for older
 * transactions without queueing before anyone (storage/pg-index.ts lifts the lock timeout for it).
 */
export async function migrateUnderLock(ds: DataSource, opts: MigrationLockOptions, what: 'run' | 'revert' = 'run'): Promise<void> {
  const qr = ds.createQueryRunner();
  await qr.connect();
  try {
    // Asked again and again, not waited for inside pg_advisory_lock: a statement waiting there holds
    // a snapshot, and CREATE INDEX CONCURRENTLY (storage/pg-index.ts) waits for every older snapshot
    // in the database to end, so the build waited on the waiter and the waiter on the build until
    // the waiter's statement timeout failed its start (test/postgres/role-index-build.spec.ts).
    // Said while it lasts (after 5 s, then every minute): an agent whose start waits here behind another
    // process's long migration (an index built CONCURRENTLY) otherwise looked stuck, /health showing
    // its last connection error.
    const since = Date.now();
    let sayAt = since + 5000;
    while (!((await qr.query(`SELECT pg_try_advisory_lock(${MIGRATION_LOCK}) AS got`)) as Array<{ got: boolean }>)[0].got) {
      if (Date.now() >= sayAt) {
        log.warn(`waiting ${Math.round((Date.now() - since) / 1000)} s for the migration lock: ${await lockHolder(qr)} is migrating this database; this process's schema step (and its start) goes on once it is done`);
        sayAt = Date.now() + 60_000;
      }
      await sleep(250);
    }
    try {
      // Inside the try whose finally resets them: a SET lock_timeout that failed (a value out of
      // PostgreSQL's range) left the pooled connection without a statement timeout, and a later
      // statement on it that hung was never cancelled by the server.
      await qr.query('SET statement_timeout = 0');
      await qr.query(`SET lock_timeout = ${Math.floor(opts.lockTimeoutMs)}`);
      // On the lock's own connection, not one more from the pool: with LIVETRACE_PG_POOL=1 the
      // migrations waited for the only connection, held by the lock, until the pool's connect
      // timeout (test/postgres/open-postgres-pool.spec.ts). ds.runMigrations, given this runner.
      const migrations = new MigrationExecutor(ds, qr);
      migrations.transaction = ds.options.migrationsTransactionMode ?? 'each';
      for (let attempt = 1; ; attempt++) {
        try {
          if (what === 'revert') await migrations.undoLastMigration();
          else await migrations.executePendingMigrations();
          return;
        } catch (err) {
          if (!gaveWayToLock(err)) throw err;
          // A deadlock is found after deadlock_timeout (1 s), before the lock timeout: its other party may be younger.
          const deadlock = sqlState(err) === '40P01';
          const how = deadlock ? "as a deadlock's victim" : `after waiting ${opts.lockTimeoutMs} ms for a lock`;
          const waited = `migration gave way ${how} (${statementOf(err)}); ${await holders(qr, deadlock ? 0 : opts.lockTimeoutMs)}`;
          if (attempt >= opts.attempts) {
            log.error(`${waited}; given up after ${attempt} tries`);
            throw err;
          }
          const pause = Math.min(10_000, 500 * 2 ** (attempt - 1));
          log.warn(`${waited}; try ${attempt + 1} of ${opts.attempts} in ${pause} ms`);
          await sleep(pause);
        }
      }
    } finally {
      // The connection goes back to the pool with the pool's own settings.
      await qr.query('RESET lock_timeout').catch(() => undefined);
      await qr.query('RESET statement_timeout').catch(() => undefined);
    }
  } finally {
    await qr.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => undefined);
    await qr.release();
  }
}

function statementOf(err: unknown): string {
  const q = String((err as { query?: string }).query ?? (err as Error).message ?? err);
  return q.length > 120 ? `${q.slice(0, 117)}...` : q;
}

/** What it gave way to: the sessions whose transaction, older than the wait, holds a table lock. */
/** Who holds the migration lock (a session advisory lock on one bigint key: classid 0, objid the key, objsubid 1). */
async function lockHolder(qr: QueryRunner): Promise<string> {
  const rows = (await qr
    .query(
      `SELECT a.pid, a.application_name AS app, a.client_addr::text AS addr, a.state, left(a.query, 120) AS query
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [MIGRATION_LOCK],
    )
    .catch(() => [])) as Array<{ pid: number; app: string; addr: string | null; state: string; query: string }>;
  const r = rows[0];
  return r ? `pid ${r.pid} (${r.app || '?'}${r.addr ? `@${r.addr}` : ''}, ${r.state}: ${r.query})` : 'another process';
}

async function holders(qr: QueryRunner, olderThanMs: number): Promise<string> {
  const rows = (await qr
    .query(
      `SELECT a.pid, a.application_name AS app, a.client_addr::text AS addr, a.state, string_agg(DISTINCT c.relname, ', ') AS tables
       FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.granted AND l.pid <> pg_backend_pid() AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND c.relkind IN ('r', 'p') AND c.relnamespace <> 'pg_catalog'::regnamespace AND a.xact_start < now() - make_interval(secs => $1::float8 / 1000)
       GROUP BY 1, 2, 3, 4 ORDER BY 1 LIMIT 5`,
      [olderThanMs],
    )
    .catch(() => [])) as Array<{ pid: number; app: string; addr: string | null; state: string; tables: string }>;
  if (!rows.length) return 'no transaction holding a table lock left';
  return `held by ${rows.map((r) => `pid ${r.pid} (${r.app || '?'}${r.addr ? `@${r.addr}` : ''}, ${r.state}) on ${r.tables}`).join('; ')}`;
}
