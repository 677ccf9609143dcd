// The stream's per-slot newest id and a plain id's resume floors (trace-slot-store.ts) on SQLite:
// the same statements PostgreSQL runs (test/postgres/trace-stream.spec.ts runs them there). A
// SQLite store is slot 0 alone, but a SQLite file holding PostgreSQL's rows (same-answers' copy)
// holds several slots.
import Database from 'better-sqlite3';
import { SqliteReader } from '../../../src/storage/sql';
import { newestPerSlot, resumeFloors, slotFloorsAt, slotOf } from '../../../src/traces/trace-slot-store';

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

/** A trace table of (id, trace time), the time `ms` after a fixed start. */
function timed(rows: Array<[number, number]>): SqliteReader {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE trace (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL)');
  for (const [id, ms] of rows) db.prepare('INSERT INTO trace (id, created_at) VALUES (?, ?)').run(id, iso(ms));
  return new SqliteReader(db);
}
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

describe('slotFloorsAt and resumeFloors', () => {
  it('sends, in each slot, exactly the traces from the time on when ids follow time (a slot with none: after its newest)', async () => {
    // Seven writers, each its own pace (ids in a slot follow time), some retention-pruned below.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const rows: Array<[number, number]> = [];
    for (let slot = 0; slot < 7; slot++) {
      let id = slot * SLOT + 1 + Math.floor(rand() * 1000);
      let ms = Math.floor(rand() * 5000);
      for (let n = Math.floor(rand() * 300); n > 0; n--) {
        rows.push([id, ms]);
        id += 1 + Math.floor(rand() * 3);
        ms += Math.floor(rand() * 100);
      }
    }
    const q = timed(rows);
    const newest = await newestPerSlot(q);
    for (const ms of [-1, 0, 2500, 7000, 40_000]) {
      const floors = await slotFloorsAt(q, iso(ms), newest);
      expect([...floors.keys()].sort()).toEqual([...newest.keys()].sort());
      for (const [slot, floor] of floors) {
        const ofSlot = rows.filter(([id]) => slotOf(id) === slot);
        expect(ofSlot.filter(([id]) => id > floor).map(([id]) => id)).toEqual(ofSlot.filter(([, t]) => t >= ms).map(([id]) => id));
      }
    }
  });

  it('misses no trace from the time on when a slot holds one out of time order (an ingested event, a clock stepped back)', async () => {
    // Slot 1 traced live at 1 s … 100 s, but id SLOT + 50 is an ingested event of an hour before: a
    // search by id that meets it takes it for the border and skips SLOT + 41 … SLOT + 49.
    const rows: Array<[number, number]> = [];
    for (let n = 1; n <= 100; n++) rows.push([SLOT + n, n === 50 ? -3_600_000 : n * 1000]);
    rows.push([1, 0]);
    const q = timed(rows);
    const floor = (await slotFloorsAt(q, iso(40_500), await newestPerSlot(q))).get(1)!;
    const sent = rows.filter(([id]) => slotOf(id) === 1 && id > floor).map(([id]) => id);
    // Every trace from 40.5 s on (SLOT + 41 … SLOT + 100); the old one among them comes too.
    expect(sent).toEqual(Array.from({ length: 60 }, (_, i) => SLOT + 41 + i));
  });

  it('is one statement, whatever span the ids of a slot cover', async () => {
    const q = timed([[SLOT + 1, 0], [SLOT + 2 ** 39, 10], [2 * SLOT - 1, 20]]);
    const newest = await newestPerSlot(q);
    const all = jest.spyOn(q, 'all');
    expect(await slotFloorsAt(q, iso(15), newest)).toEqual(new Map([[1, 2 * SLOT - 2]]));
    expect(all.mock.calls.length).toBe(1);
  });

  it("a plain id: the other slots from its trace time less the margin; its own slot left to the id; a pruned id by the older trace before it", async () => {
    const q = timed([[1, 0], [2, 1000], [SLOT + 1, 500], [SLOT + 2, 900], [SLOT + 3, 1500], [2 * SLOT + 1, 200]]);
    const newest = await newestPerSlot(q);
    // Trace 2 at 1000 ms, 200 ms earlier: slot 1 from after SLOT + 1 (500 ms), slot 2 after its one trace (200 ms).
    expect(await resumeFloors(q, 2, 200, newest)).toEqual({ floors: new Map([[1, SLOT + 1], [2, 2 * SLOT + 1]]), from: T0 + 800 });
    // SLOT + 2 is gone: SLOT + 1's time (500 ms) it is; slot 0 from after trace 1 (0 ms), slot 2 after its trace (200 ms).
    const pruned = timed([[1, 0], [2, 1000], [SLOT + 1, 500], [SLOT + 3, 1500], [2 * SLOT + 1, 200]]);
    expect(await resumeFloors(pruned, SLOT + 2, 0, await newestPerSlot(pruned))).toEqual({ floors: new Map([[0, 1], [2, 2 * SLOT + 1]]), from: T0 + 500 });
    // Nothing of its slot left at or below it: every other slot from its first trace.
    expect(await resumeFloors(q, 3 * SLOT + 5, 0, newest)).toEqual({ floors: new Map([[0, 0], [1, SLOT], [2, 2 * SLOT]]), from: 0 });
  });
});
