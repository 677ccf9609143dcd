// The indexes a spool does without. With PostgreSQL every read of the API goes there (StoreService.query);
// the spool serves only this process's writer, its shipper and its local prune. An index that only
// the API's reads walk costs the spool a B-tree insert for every row the tracer writes and answers
// nothing: idx_trace_port_name and idx_trace_port_time alone are ~20 inserts a trace. Dropping them
// cut an agent's CPU by 6–13 % a trace at 90k (bench/api/RESULTS-postgres.md, "stop 22").
//
// What is dropped is remembered in meta (its CREATE statement), so a spool opened again as a SQLite
// store on its own (LIVETRACE_DB=<that file>) gets its indexes back before it answers anything, and
// a spool about to be migrated gets them back first (migrateStore): a migration sees the schema the
// migrations built, whatever it does to these indexes, and the agent drops them again after.
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';

/**
 * Read by the API alone, each with who walks it: a spool never needs them.
 * Kept (the writer, shipper or local prune read them): idx_trace_created (the prune's cut by
 * time), idx_trace_path (a path's traces), idx_trace_dpflow and idx_trace_ufid_nodp (a flow's
 * traces), the datapath_flow indexes the poller and ingest seek (ufid, live, ingest_open), the
 * unique indexes the stores' lookups and upserts rely on, and the upcall and cross_check ones.
 */
export const API_ONLY_INDEXES: readonly string[] = [
  'idx_trace_port_name', // GET /traces?logical_port=, the port stream, a port's upcalls and datapath flows
  'idx_trace_port_time', // GET /traces?logical_port= in time order across chassis
  'idx_trace_dpflow_cover', // the audits' trace → datapath flow walk (SQLite's INDEXED BY)
  'idx_dpflow_tunnel', // a cross-chassis link: the arrivals a push may have become
  'idx_dpflow_push', // a cross-chassis link: the senders an arrival may have come from
];

const KEY = (name: string) => `spool_dropped_index:${name}`;

/** Drops the API-only indexes this spool still has, each remembered in meta first; returns their names. */
export function shedApiIndexes(db: Database): string[] {
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
 * Builds again the indexes shedApiIndexes dropped (a spool now used as the store itself); returns
 * their names. An entry for a name no longer in API_ONLY_INDEXES (a migration removed that index
 * since) is forgotten, not built.
 */
export function restoreApiIndexes(db: Database): string[] {
  if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get()) return [];
  const rows = db.prepare(`SELECT key, value FROM meta WHERE key LIKE 'spool\\_dropped\\_index:%' ESCAPE '\\'`).all() as Array<{ key: string; value: string }>;
  if (!rows.length) return [];
  const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?`);
  const forget = db.prepare('DELETE FROM meta WHERE key = ?');
  const built: string[] = [];
  db.transaction(() => {
    for (const { key, value } of rows) {
      const name = key.slice(KEY('').length);
      if (API_ONLY_INDEXES.includes(name) && !exists.get(name)) {
        db.exec(value);
        built.push(name);
      }
      forget.run(key);
    }
  })();
  return built;
}

/**
 * Runs the migrations not yet run, the indexes a spool dropped built again first (once a version
 * that brings migrations, not every start). What the app's data source does at start.
 */
export async function migrateStore(ds: DataSource): Promise<void> {
  if (!(await ds.showMigrations())) return;
  restoreApiIndexes((ds.driver as unknown as { databaseConnection: Database }).databaseConnection);
  await ds.runMigrations();
}

const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;
