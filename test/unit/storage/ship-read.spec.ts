// A shipping batch's reads under its byte bound (src/storage/ship-read.ts): a range stops where the
// budget ends but never inside one mark value's rows (a trace's ports), the batch's first row is
// always taken, and once a read stopped short every later read of the batch takes nothing (so no
// table ships ahead of one cut before it). By key, only the keys whose rows were read are done.
import Database from 'better-sqlite3';
import { readByKey, readRange, ShipBudget } from '../../../src/storage/ship-read';
import type { ShippedTable } from '../../../src/storage/spool';

const port: ShippedTable = { name: 'trace_port', columns: ['trace_id', 'port_name', 'note'], key: ['trace_id', 'port_name'], mark: 'trace_id', markShift: 0 };
const path: ShippedTable = { name: 'path', columns: ['id', 'verdict'], key: ['id'], mark: 'id', markShift: 0 };

function spool() {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE trace_port (trace_id INTEGER, port_name TEXT, note TEXT, PRIMARY KEY (trace_id, port_name))');
  db.exec('CREATE TABLE path (id INTEGER PRIMARY KEY, verdict TEXT)');
  const put = db.prepare('INSERT INTO trace_port VALUES (?, ?, ?)');
  // Trace 1: one large port row; trace 2: three rows of 400; trace 3: one of 400.
  put.run(1, 'a', 'x'.repeat(900));
  for (const p of ['a', 'b', 'c']) put.run(2, p, 'y'.repeat(400));
  put.run(3, 'a', 'z'.repeat(400));
  for (let i = 1; i <= 3; i++) db.prepare('INSERT INTO path VALUES (?, ?)').run(i, 'v'.repeat(10));
  return db;
}

describe('reads of a shipping batch under its byte bound', () => {
  it('stops between mark values, never inside one; the first row always goes; a cut batch reads nothing more', () => {
    const db = spool();
    const stmt = (sql: string) => db.prepare(sql);
    const budget = new ShipBudget(1000);
    // 900 + the first of trace 2 would pass 1000: stops after trace 1.
    expect(readRange(stmt, port, 0, 3, budget)).toMatchObject({ upTo: 1, rows: [[1, 'a', 'x'.repeat(900)]] });
    expect(budget.cut).toBe(true);
    expect(readRange(stmt, path, 0, 3, budget)).toEqual({ rows: [], upTo: 0 });

    // From trace 1: trace 2's three rows fit (1,200 > 1,000 only with its third: a mark is not split).
    const next = new ShipBudget(1000);
    const r = readRange(stmt, port, 1, 3, next);
    expect(r.upTo).toBe(2);
    expect(r.rows.map((x) => x.slice(0, 2))).toEqual([[2, 'a'], [2, 'b'], [2, 'c']]);

    // One row larger than the whole bound goes, alone.
    const tiny = new ShipBudget(10);
    expect(readRange(stmt, port, 0, 3, tiny).upTo).toBe(1);
  });

  it('by key: only the keys whose rows were read are done; a deleted row is gone only where the read finished', () => {
    const db = spool();
    const prepare = (sql: string) => db.prepare(sql);
    const all = readByKey(prepare, port, [[1, 'a'], [2, 'a'], [9, 'gone']], new ShipBudget(10_000));
    expect(all.done).toHaveLength(3);
    expect(all.gone).toEqual([[9, 'gone']]);
    const some = readByKey(prepare, port, [[1, 'a'], [2, 'a'], [3, 'a'], [9, 'gone']], new ShipBudget(1000));
    expect(some.rows).toHaveLength(1);
    expect(some.done).toEqual([[1, 'a']]);
    expect(some.gone).toEqual([]);
  });
});
