// The SQLite migrations as every process runs them at start (StorageModule, migrateStore) and as
// `npm run migration:run` / `migration:revert` run them by hand (StoreDataSource): the whole run in one
// BEGIN IMMEDIATE transaction, the file's write lock taken before the migrations table is read.
//
// Several processes may open one file (api instances beside an `all` process on one host, a restart
// while the old process still shuts down). TypeORM read the migrations table, then began a deferred
// transaction: two processes starting together on an older file both found the same migrations
// pending, one ran them, the other ran them again once it had the lock and failed its start on
// `table "trace_session" already exists` (test/integration/storage/migrate-together.spec.ts). Under
// the lock the table is read again, so a process that waited finds nothing left to run. One
// transaction for the whole run, as TypeORM's 'all' mode had it: a process killed half way leaves the
// file at the version it was, never between two.
import type { Database } from 'better-sqlite3';
import { Logger } from '@nestjs/common';
import { readFileSync, statSync } from 'node:fs';
import { DataSource, Migration, MigrationExecutor } from 'typeorm';
import type { LivetraceConfig } from '../config/config.schema';
import { sqliteHandle } from './data-source.options';

/** How long a start waits for another connection's write lock (LIVETRACE_SQLITE_MIGRATION_WAIT_MS). */
export interface SqliteMigrationWait {
  waitMs: number;
}

/** config/livetrace.env's default (test/unit/config/config.spec.ts keeps them the same). */
export const SQLITE_MIGRATION_WAIT_DEFAULT: SqliteMigrationWait = { waitMs: 600_000 };

export const sqliteMigrationWait = (cfg: Pick<LivetraceConfig, 'LIVETRACE_SQLITE_MIGRATION_WAIT_MS'>): SqliteMigrationWait => ({ waitMs: cfg.LIVETRACE_SQLITE_MIGRATION_WAIT_MS });

/** A start that could not take the file's write lock in time: not worth a retry of the same wait. */
export class MigrationLockTimeout extends Error {
  override name = 'MigrationLockTimeout';
}

const log = new Logger('Storage');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Each try waits in SQLite's own busy handler, which catches a writer's short gaps between its
// transactions better than polling; short, as it holds this process's event loop.
const TRY_MS = 250;

/**
 * Runs the pending migrations (or `revert`: undoes the last one) on `ds` under the file's write lock;
 * `first` runs in the same transaction before them (a spool's dropped indexes built again). Returns
 * the migrations run. `fake`: only recorded as run or undone (the typeorm CLI's --fake).
 */
export async function migrateSqliteUnderLock(ds: DataSource, wait: SqliteMigrationWait, what: 'run' | 'revert' = 'run', first?: (db: Database) => void, fake = false): Promise<Migration[]> {
  const db = sqliteHandle(ds);
  const qr = ds.createQueryRunner();
  // foreign_keys OFF, as TypeORM's own run: a table rebuilt must not cascade. A no-op inside a transaction, so before it.
  await qr.beforeMigration();
  try {
    const waited = await beginImmediate(db, wait.waitMs);
    try {
      first?.(db);
      const migrations = new MigrationExecutor(ds, qr);
      // Inside this transaction: TypeORM begins none of its own (a migration asking for one fails here as under 'all').
      migrations.transaction = 'none';
      migrations.fake = fake;
      let ran: Migration[] = [];
      if (what === 'revert') await migrations.undoLastMigration();
      else ran = await migrations.executePendingMigrations();
      db.exec('COMMIT');
      if (waited && what === 'run') log.log(ran.length ? `${db.name}: ran ${ran.length} migrations after the wait` : `${db.name}: another process migrated it while this one waited; nothing left to run`);
      return ran;
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    }
  } finally {
    await qr.afterMigration();
    await qr.release();
  }
}

/** BEGIN IMMEDIATE, waiting at most `waitMs` for another connection's write lock; true if it waited. */
async function beginImmediate(db: Database, waitMs: number): Promise<boolean> {
  const busyMs = db.pragma('busy_timeout', { simple: true }) as number;
  const since = Date.now();
  let waited = false;
  let sayAt = since;
  db.pragma(`busy_timeout = ${TRY_MS}`);
  try {
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE');
        if (waited) log.log(`${db.name}: took its write lock after ${Math.round((Date.now() - since) / 1000)} s; reading its migrations again`);
        return waited;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      }
      waited = true;
      const ms = Date.now() - since;
      if (ms >= waitMs)
        throw new MigrationLockTimeout(`${db.name}: could not take its write lock to run the migrations in ${waitMs} ms (LIVETRACE_SQLITE_MIGRATION_WAIT_MS): held by ${writeLockHolder(db.name)}`);
      if (Date.now() >= sayAt) {
        log.warn(`${db.name}: waiting for its write lock to run the migrations (${Math.round(ms / 1000)} s of at most ${Math.round(waitMs / 1000)} s): held by ${writeLockHolder(db.name)}`);
        sayAt = Date.now() + 30_000;
      }
      await sleep(10);
    }
  } finally {
    db.pragma(`busy_timeout = ${busyMs}`);
  }
}

/**
 * Who holds the file's write lock: in WAL mode SQLite's is a POSIX lock on byte 120 of the -shm file
 * (the first of its lock bytes), which /proc/locks lists with the holder's pid (Linux; the file is
 * only ever shared on one host).
 */
export function writeLockHolder(file: string): string {
  try {
    const shm = statSync(`${file}-shm`);
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      // "7: POSIX  ADVISORY  WRITE 4242 00:2c:1311 120 120"; a waiter's line has "->" after the number.
      const f = line.replace('->', '').trim().split(/\s+/);
      if (f[1] !== 'POSIX' || f[3] !== 'WRITE' || Number(f[5]?.split(':')[2]) !== shm.ino) continue;
      if (Number(f[6]) <= 120 && (f[7] === 'EOF' || Number(f[7]) >= 120)) return `pid ${f[4]} (${commandOf(f[4])})`;
    }
  } catch {
    // No -shm (not WAL) or no /proc: said below.
  }
  return 'another connection (its pid not found in /proc/locks)';
}

function commandOf(pid: string): string {
  if (Number(pid) === process.pid) return 'this process';
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').replace(/\s+/g, ' ');
    return cmd.length > 160 ? `${cmd.slice(0, 157)}...` : cmd || '?';
  } catch {
    return 'gone, or not visible from here';
  }
}
