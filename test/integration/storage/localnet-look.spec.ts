// The localnet hop's look (PathStore.localnetPasses, paths/localnet-hops.ts) on a real migrated SQLite
// file: planned as seeks of trace_port's role indexes (idx_trace_port_in for receivers,
// idx_trace_port_out for senders), by port and time, never a scan of trace_port, trace or datapath_flow.
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
    ['in', 'idx_trace_port_in'],
    ['out', 'idx_trace_port_out'],
  ] as const)('%s: seeks %s by port and time', async (direction, index) => {
    const seen: Array<{ sql: string; params: unknown[] }> = [];
    const reader = new SqliteReader(db);
    const recording = Object.assign(Object.create(reader) as SqliteReader, {
      all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
    });
    const look = await new PathStore({ db, query: recording }).localnetPasses(direction, ['pub-ln', 'pub2-ln'], 'hv1', {
      from: '2026-12-05T02:59:59.000Z', to: '2026-12-05T03:00:01.000Z', near: '2026-12-05T03:00:00.000Z',
    });
    expect(look).toEqual({ rows: [], bounded: false, reach: { before: null, after: null } });
    // Two statements: the passes traced at or before the reference time, then those after.
    expect(seen).toHaveLength(2);
    for (const { sql, params } of seen) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan.some((d) => d.includes(index))).toBe(true);
      expect(plan.filter((d) => /^SCAN (trace_port|trace|datapath_flow|p|t|f)\b/.test(d))).toEqual([]);
    }
  });
});
