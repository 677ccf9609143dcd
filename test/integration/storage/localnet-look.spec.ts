// The localnet hop's look (PathStore.localnetPasses, paths/localnet-hops.ts) on a real migrated SQLite
// file: planned as seeks of the lifetimes' localnet indexes (idx_dpflow_localnet_in for receivers,
// idx_dpflow_localnet_out for senders), by port and removal (the live ones, then those removed since
// the window opened), never a scan of trace or datapath_flow.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { PathStore } from '../../../src/paths/path-store';
import { SqliteReader } from '../../../src/storage/sql';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

describe('the localnet look', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;

  beforeEach(async () => {
    ({ dir, ds, db } = await openMigratedSqlite('livetrace-lnlook-', { writer: false }));
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds });
  });

  it.each([
    ['in', 'idx_dpflow_localnet_in'],
    ['out', 'idx_dpflow_localnet_out'],
  ] as const)('%s: seeks %s by port and removal', async (direction, index) => {
    const seen: Array<{ sql: string; params: unknown[] }> = [];
    const reader = new SqliteReader(db);
    const recording = Object.assign(Object.create(reader) as SqliteReader, {
      all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
    });
    const look = await new PathStore({ db, query: recording }).localnetPasses(direction, ['pub-ln', 'pub2-ln'], 'hv1', {
      from: '2026-12-05T02:59:59.000Z', to: '2026-12-05T03:00:01.000Z', near: '2026-12-05T03:00:00.000Z',
    });
    expect(look).toEqual({ rows: [], bounded: false, reach: { before: null, after: null } });
    // Two statements: the lifetimes started at or before the reference time, then those after.
    expect(seen).toHaveLength(2);
    for (const { sql, params } of seen) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
      const seeks = plan.filter((d) => d.includes(index));
      // Each port's live lifetimes (removed_at IS NULL, SQLite prints `=?`) and those removed since
      // `from`: a range of the index each, not the port's every lifetime.
      expect(seeks.map((d) => /\((localnet_(?:in|out)=\? AND removed_at[=>]\?)/.exec(d)?.[1])).toEqual([`localnet_${direction}=? AND removed_at=?`, `localnet_${direction}=? AND removed_at>?`]);
      expect(plan.filter((d) => /^SCAN (trace_port|trace|datapath_flow|p|t|f|f2)\b/.test(d))).toEqual([]);
    }
  });
});
