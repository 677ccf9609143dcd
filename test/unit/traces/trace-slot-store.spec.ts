// The stream's per-slot newest id (trace-slot-store.ts) on SQLite: the same statement PostgreSQL
// runs (test/postgres/trace-stream.spec.ts runs it there). A SQLite store is slot 0 alone, but a
// SQLite file holding PostgreSQL's rows (same-answers' copy) holds several slots.
import Database from 'better-sqlite3';
import { SqliteReader } from '../../../src/storage/sql';
import { newestPerSlot, slotOf } from '../../../src/traces/trace-slot-store';

const SLOT = 2 ** 40;

function reader(ids: number[]): SqliteReader {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE trace (id INTEGER PRIMARY KEY AUTOINCREMENT)');
  for (const id of ids) db.prepare('INSERT INTO trace (id) VALUES (?)').run(id);
  return new SqliteReader(db);
}

describe('newestPerSlot', () => {
  it('gives each slot that holds traces its newest id, skipping empty slots', async () => {
    const ids = [1, 2, SLOT + 5, SLOT + 9, 3 * SLOT + 1, 8191 * SLOT + 7];
    expect(await newestPerSlot(reader(ids))).toEqual(new Map([[0, 2], [1, SLOT + 9], [3, 3 * SLOT + 1], [8191, 8191 * SLOT + 7]]));
  });

  it('one slot on a SQLite store, none when empty', async () => {
    expect(await newestPerSlot(reader([3, 4, 7]))).toEqual(new Map([[0, 7]]));
    expect(await newestPerSlot(reader([]))).toEqual(new Map());
  });

  it('a slot is [s·2^40, (s+1)·2^40)', () => {
    expect([slotOf(0), slotOf(SLOT - 1), slotOf(SLOT), slotOf(2 * SLOT - 1)]).toEqual([0, 0, 1, 1]);
  });
});
