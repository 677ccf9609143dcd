// isolate (vlog-write-retry.ts): a batch of the vswitchd log source that failed with an item's own
// error, written apart at once. The good items must land in the batch's order, only the items that
// fail alone be given up, and a passing failure met meanwhile (another process's lock, a full disk)
// hand the rest back for the retry, in order, not give it up. A batch no item of which can be written
// is the store's failure, whatever its code: learnt in two writes (its first item alone, the rest), not
// 2n-1, and handed back for the retry. `write` stands for the store here: a part fails if it holds a
// bad item, with the code better-sqlite3 gives (SqliteError's `code`).
import { isolate, passing } from '../../../src/collectors/vlog-write-retry';

const sqliteError = (code: string) => Object.assign(new Error(code), { code });

describe('isolate: a batch failed by one item', () => {
  const run = async (n: number, bad: Set<number>, busyAt = Infinity, failedAloneBefore = (_: number) => false) => {
    const written: number[] = [];
    let writes = 0;
    const items = Array.from({ length: n }, (_, i) => i);
    const write = async (part: number[]) => {
      if (++writes >= busyAt) return sqliteError('SQLITE_BUSY');
      if (part.some((i) => bad.has(i))) return sqliteError('SQLITE_CONSTRAINT_TRIGGER');
      written.push(...part);
      return null;
    };
    const out = await isolate(items, sqliteError('SQLITE_CONSTRAINT_TRIGGER'), write, failedAloneBefore);
    return { written, writes, bad: out.bad.map((b) => b.item), rest: out.rest, restErr: out.restErr, store: out.store, kept: out.kept };
  };

  it('writes the good items in order and gives up only those that fail alone', async () => {
    const r = await run(100, new Set([3, 57, 58]));
    expect(r.written).toEqual(Array.from({ length: 100 }, (_, i) => i).filter((i) => ![3, 57, 58].includes(i)));
    expect(r.bad).toEqual([3, 57, 58]);
    expect(r.rest).toEqual([]);
    expect(r.writes).toBeLessThan(3 * 2 * 8); // ~2k·log2(n), not n
  });

  it('gives up a bad first item in two writes, the rest written as one', async () => {
    const r = await run(100, new Set([0]));
    expect(r).toMatchObject({ written: Array.from({ length: 99 }, (_, i) => i + 1), writes: 2, bad: [0], rest: [] });
  });

  it('hands back, in two writes, a batch no item of which can be written: the store\'s failure, its first item kept once', async () => {
    const all = new Set(Array.from({ length: 1000 }, (_, i) => i));
    const r = await run(1000, all);
    expect(r).toMatchObject({ written: [], writes: 2, bad: [], store: true, kept: 0 });
    expect(r.rest).toEqual([...all]);
    expect((r.restErr as { code: string }).code).toBe('SQLITE_CONSTRAINT_TRIGGER');
    // An item alone: it failed alone already, kept the first time as well.
    expect(await run(1, new Set([0]))).toMatchObject({ written: [], writes: 0, bad: [], rest: [0], store: true, kept: 0 });
  });

  it('gives up a first item that failed alone at an earlier attempt, and hands the rest back', async () => {
    const r = await run(8, new Set([0, 5]), Infinity, (i) => i === 0);
    expect(r).toMatchObject({ written: [], writes: 2, bad: [0], rest: [1, 2, 3, 4, 5, 6, 7], store: true });
    expect(r.kept).toBeUndefined();
    // The next attempt (a wait later) starts with a good item: the store takes rows, the bad one is found.
    const next = await run(7, new Set([4]));
    expect(next).toMatchObject({ bad: [4], rest: [], store: undefined });
    expect(next.written).toEqual([0, 1, 2, 3, 5, 6]);
    expect(await run(1, new Set([0]), Infinity, () => true)).toMatchObject({ writes: 0, bad: [0], rest: [] });
  });

  it('hands the rest back, in order, at a passing failure met meanwhile', async () => {
    const r = await run(8, new Set([1]), 3); // [0] commits, the half [1..4] fails, then the lock
    expect(r.written).toEqual([0]);
    expect(r.bad).toEqual([]);
    expect(r.rest).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect((r.restErr as { code: string }).code).toBe('SQLITE_BUSY');
    // Met at the first item alone, or at the rest after it failed alone: the whole batch, none given up.
    expect(await run(8, new Set([0, 5]), 1)).toMatchObject({ written: [], bad: [], rest: [0, 1, 2, 3, 4, 5, 6, 7] });
    expect(await run(8, new Set([0, 5]), 2)).toMatchObject({ written: [], bad: [], rest: [0, 1, 2, 3, 4, 5, 6, 7] });
  });

  it('takes the store-wide failures as passing, an item\'s own as not', () => {
    for (const c of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY_DBMOVED', 'SQLITE_NOMEM'])
      expect([c, passing(sqliteError(c))]).toEqual([c, true]);
    for (const c of ['SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT_FOREIGNKEY', 'SQLITE_MISMATCH', 'SQLITE_TOOBIG', 'SQLITE_ERROR', 'SQLITE_FULLX'])
      expect([c, passing(sqliteError(c))]).toEqual([c, false]);
    expect(passing(new TypeError("Cannot read properties of undefined (reading 'ufid')"))).toBe(false);
  });
});
