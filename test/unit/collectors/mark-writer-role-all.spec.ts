// Who writes a chassis_mark on SQLite (mark-writer.ts): an agent always; a role-all process once its
// file is shared (another chassis told a mark there), since hops into its chassis are then linked
// and stayed provisional for good without one; alone, nothing links into it and it writes nothing.
// Alone, it asked the file whether it was shared each second its mark moved, for good: now the gap
// between asks doubles up to a minute (counted over ten minutes of ticks on a clock it is given).
// A real migrated SQLite file, its writer and reader; the mark is TracedMark's.
import { MarkWriter } from '../../../src/collectors/mark-writer';
import { TracedMark } from '../../../src/collectors/traced-mark';
import { SqliteReader } from '../../../src/storage/sql';
import type { StoreService } from '../../../src/storage/store.service';
import { closeMigratedSqlite, openMigratedSqlite, type MigratedSqlite } from '../../support/migrated-sqlite';

const T = (s: number) => new Date(Date.parse('2026-12-07T03:00:00.000Z') + s * 1000).toISOString();

describe('MarkWriter on SQLite', () => {
  let s: MigratedSqlite & { writer: NonNullable<MigratedSqlite['writer']> };
  beforeEach(async () => void (s = await openMigratedSqlite('livetrace-mark-writer-')));
  afterEach(() => closeMigratedSqlite(s));

  function writer(agent: boolean) {
    const mark = new TracedMark(() => true);
    mark.dumped(T(5));
    const w = new MarkWriter(mark, { writer: s.writer, query: new SqliteReader(s.db) } as unknown as StoreService, () => 'hv2');
    w.start(agent);
    w.stop(); // the test writes, not the timer
    return () => (w as unknown as { write(): Promise<void> }).write();
  }
  const marks = () => s.db.prepare('SELECT chassis, traced_through FROM chassis_mark ORDER BY chassis').all();

  it('role all, alone on its file: none', async () => {
    await writer(false)();
    expect(marks()).toEqual([]);
  });

  it('role all, on a file an agent of another chassis writes: its own, as an agent', async () => {
    s.db.prepare("INSERT INTO chassis_mark (chassis, traced_through, updated_at) VALUES ('hv1', ?, ?)").run(T(4), T(4));
    await writer(false)();
    expect(marks()).toEqual([{ chassis: 'hv1', traced_through: T(4) }, { chassis: 'hv2', traced_through: T(5) }]);
  });

  it('role all, alone on its file: asks whether it is shared about once a minute, not every second its mark moves', async () => {
    // Ten minutes of ticks, the mark moving at each, on a clock the writer is given (no waiting).
    let clock = Date.parse(T(0));
    const mark = new TracedMark(() => true);
    const reader = new SqliteReader(s.db);
    let asked = 0;
    const query = { get: (...a: Parameters<SqliteReader['get']>) => (asked++, reader.get(...a)) };
    const w = new MarkWriter(mark, { writer: s.writer, query } as unknown as StoreService, () => 'hv2', () => clock);
    w.start(false);
    w.stop();
    const tick = async () => {
      clock += 1000;
      mark.dumped(new Date(clock).toISOString());
      await (w as unknown as { write(): Promise<void> }).write();
    };
    for (let i = 0; i < 600; i++) await tick();
    expect(marks()).toEqual([]);
    // Before, it asked at each of the 600 ticks; now 1, 2, 4 … 32 s apart, then once a minute.
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThanOrEqual(20);

    // An agent of another chassis starts writing here: found within the minute, and then it writes each tick, asking no more.
    s.db.prepare("INSERT INTO chassis_mark (chassis, traced_through, updated_at) VALUES ('hv1', ?, ?)").run(T(600), T(600));
    for (let i = 0; i < 60 && !marks().some((m) => (m as { chassis: string }).chassis === 'hv2'); i++) await tick();
    expect(marks()).toContainEqual({ chassis: 'hv2', traced_through: new Date(clock).toISOString() });
    const after = asked;
    for (let i = 0; i < 5; i++) await tick();
    expect(asked).toBe(after);
    expect(marks()).toContainEqual({ chassis: 'hv2', traced_through: new Date(clock).toISOString() });
  });

  it('an agent, first on the file: its own', async () => {
    await writer(true)();
    expect(marks()).toEqual([{ chassis: 'hv2', traced_through: T(5) }]);
  });
});
