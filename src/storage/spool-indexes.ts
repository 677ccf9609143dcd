// The indexes a spool does without. With PostgreSQL every read of the API goes there (StoreService.query);
// the spool serves only this process's writer, its shipper and its local prune. An index that only
// the API's reads walk costs the spool a B-tree insert for every row the tracer writes and answers
// nothing: idx_trace_port_name and idx_trace_port_time alone are ~20 inserts a trace. Dropping them
// cut an agent's CPU by 6–13 % a trace at 90k, 14 % at 1M (bench/api/RESULTS-postgres.md, "stop 22").
// idx_trace_dpflow_cover stays: the API's audits walk it, but so does the count retention's
// `ORDER BY id DESC OFFSET keep` (a narrow index, not the ~1 KB rows), and it is one append a trace.
//
// What is dropped is remembered in meta (its CREATE statement), so a spool opened again as a SQLite
// store on its own (LIVETRACE_DB=<that file>) gets its indexes back before it answers anything, and
// a spool about to be migrated gets them back first (migrateStore): a migration sees the schema the
// migrations built, whatever it does to these indexes, and the agent drops them again after.
import type { Database } from 'better-sqlite3';
import { Logger } from '@nestjs/common';
import { DataSource, MigrationExecutor } from 'typeorm';
import { sqliteHandle } from './data-source.options';
import { migrateSqliteUnderLock, SQLITE_MIGRATION_WAIT_DEFAULT, SqliteMigrationWait } from './sqlite-migrate';

/**
 * Read by the API alone, each with who walks it: a spool never needs them.
 * Kept (the writer, shipper or local prune read them): idx_trace_created (the prune's cut by
 * time), idx_trace_dpflow_cover (its cut by count), idx_trace_path (a path's traces), idx_trace_dpflow and idx_trace_ufid_nodp (a flow's
 * traces), the datapath_flow indexes the poller and ingest seek (ufid, live, ingest_open), the
 * unique indexes the stores' lookups and upserts rely on, and the upcall and cross_check ones.
 */
export const API_ONLY_INDEXES: readonly string[] = [
  'idx_trace_port_name', // GET /traces?logical_port=, the port stream, a port's upcalls and datapath flows
  'idx_trace_port_time', // GET /traces?logical_port= in time order across chassis
  'idx_trace_port_in', // the same, &role=inport
  'idx_trace_port_out', // the same, &role=outport
  'idx_dpflow_tunnel', // a cross-chassis link: the arrivals a push may have become
  'idx_dpflow_push', // a cross-chassis link: the senders an arrival may have come from
  'idx_dpflow_localnet_in', // a localnet hop: the passes that took a frame in from the physical network
  'idx_dpflow_localnet_out', // a localnet hop: the passes that sent one to it
];

const KEY = (name: string) => `spool_dropped_index:${name}`;
const log = new Logger('Storage');

/**
 * Drops the API-only indexes this spool still has, each remembered in meta first; returns their
 * names. One remembered but no longer on the list (a later version needs it in the spool) is built
 * again first: a start with no migration to run would otherwise never give it back.
 */
export function shedApiIndexes(db: Database): string[] {
  restoreApiIndexes(db, (name) => !API_ONLY_INDEXES.includes(name));
  const sqlOf = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`);
  const remember = db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  const dropped: string[] = [];
  db.transaction(() => {
    for (const name of API_ONLY_INDEXES) {
      const row = sqlOf.get(name) as { sql: string | null } | undefined;
      if (!row?.sql) continue;
      remember.run(KEY(name), row.sql);
      db.exec(`DROP INDEX ${quote(name)}`);
      dropped.push(name);
    }
  })();
  return dropped;
}

/**
 * Builds again the indexes shedApiIndexes dropped (all, or those `which` names: a spool now used as
 * the store itself, or about to be migrated); returns their names. Whether or not the name is still
 * in API_ONLY_INDEXES: a later version that needs one in the spool takes it off the list, and the
 * spool must have it. An entry whose table or column is gone is forgotten and named in `failed`;
 * any other failure (a full disk) is thrown, the entry kept for the next start. Says what it did in
 * the log, whichever start asked.
 */
export function restoreApiIndexes(db: Database, which: (name: string) => boolean = () => true): { built: string[]; failed: string[] } {
  const none = { built: [], failed: [] };
  if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get()) return none;
  const rows = (db.prepare(`SELECT key, value FROM meta WHERE key LIKE 'spool\\_dropped\\_index:%' ESCAPE '\\' ORDER BY key`).all() as Array<{ key: string; value: string }>).filter(
    (r) => which(r.key.slice(KEY('').length)),
  );
  if (!rows.length) return none;
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?`);
  const forget = db.prepare('DELETE FROM meta WHERE key = ?');
  const out: { built: string[]; failed: string[] } = { built: [], failed: [] };
  const t0 = Date.now();
  db.transaction(() => {
    for (const { key, value } of rows) {
      const name = key.slice(KEY('').length);
      if (!exists.get(name)) {
        db.exec(`SAVEPOINT restore_index`);
        try {
          db.exec(value);
          db.exec(`RELEASE restore_index`);
          out.built.push(name);
        } catch (err) {
          if (!/no such (table|column)/.test((err as Error).message)) throw err;
          db.exec(`ROLLBACK TO restore_index`);
          db.exec(`RELEASE restore_index`);
          out.failed.push(name);
        }
      }
      forget.run(key);
    }
  })();
  if (out.built.length) log.log(`built again the indexes this file did without as a spool (${out.built.join(', ')}) in ${Date.now() - t0} ms`);
  if (out.failed.length) log.warn(`could not build again, and forgot, indexes this file did without as a spool (their table or column is gone): ${out.failed.join(', ')}`);
  return out;
}

/**
 * Runs the migrations not yet run, the indexes a spool dropped built again first (once a version
 * that brings migrations, not every start), under the file's write lock (sqlite-migrate.ts): other
 * processes starting on the same file wait, then find nothing left to run. What the app's data
 * source does at start.
 */
export async function migrateStore(ds: DataSource, wait: SqliteMigrationWait = SQLITE_MIGRATION_WAIT_DEFAULT): Promise<void> {
  // Read only: TypeORM's showMigrations creates the migrations table of a new file outside the
  // lock, and a second process starting on it failed on 'table "migrations" already exists'.
  if (!(await new MigrationExecutor(ds).getPendingMigrations()).length) return;
  await migrateSqliteUnderLock(ds, wait, 'run', (db) => restoreApiIndexes(db));
}

/**
 * The typeorm CLI's data source on a SQLite file (`npm run migration:run`, `migration:revert`): as at
 * the app's start, under the file's write lock, a spool's dropped indexes built again before a
 * migration runs or is undone.
 */
export class StoreDataSource extends DataSource {
  /** How long it waits for a running service's write lock (data-source.ts sets it from the configuration). */
  migrationWait: SqliteMigrationWait = SQLITE_MIGRATION_WAIT_DEFAULT;

  // The caller's transaction mode is not taken: the whole run is one transaction under the lock.
  override async runMigrations(options?: Parameters<DataSource['runMigrations']>[0]): ReturnType<DataSource['runMigrations']> {
    return migrateSqliteUnderLock(this, this.migrationWait, 'run', (db) => restoreApiIndexes(db), options?.fake);
  }

  override async undoLastMigration(options?: Parameters<DataSource['undoLastMigration']>[0]): ReturnType<DataSource['undoLastMigration']> {
    await migrateSqliteUnderLock(this, this.migrationWait, 'revert', (db) => restoreApiIndexes(db), options?.fake);
  }
}

const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
