// StreamSlotTimes (src/traces/stream-slot-times.ts): the earliest trace time among a slot's ids
// above a stream's floor, where a port's walk by time starts. Against the answer read whole each
// time (times out of id order, as ingested events and clock steps make them): never later than it
// (a later start would miss traces), the same for a floor where an earlier look ended (as a
// stream's floor mostly is: the top of a walk), and each id read once while the stretches are kept.
import { StreamSlotTimes } from '../../../src/traces/stream-slot-times';
import type { IdStretch } from '../../../src/traces/trace-slot-store';

const SLOT = 2 ** 40;

/** Trace id → time, over which stretches are read as trace-slot-store.ts earliestIn reads them. */
function store() {
  const times = new Map<number, string>();
  const reads: IdStretch[] = [];
  const earliest = (after: number, upTo: number): string | null => {
    let min: string | null = null;
    for (const [id, at] of times) if (id > after && id <= upTo && (min === null || at < min)) min = at;
    return min;
  };
  const read = async (stretches: readonly IdStretch[]) => (reads.push(...stretches), stretches.map((s) => earliest(s.after, s.upTo)));
  return { times, reads, earliest, read };
}

const at = (sec: number) => new Date(Date.UTC(2026, 11, 5, 10, 0, sec)).toISOString();

describe('StreamSlotTimes', () => {
  it('answers as a whole read does for a floor at an earlier top, never later for any floor, reading each new id once', async () => {
    const s = store();
    const times = new StreamSlotTimes(s.read);
    // A pseudo-random but fixed sequence: mostly rising times, some stamped far earlier (ingested).
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let top = SLOT;
    const tops = [SLOT];
    let floor = SLOT;
    for (let tick = 0; tick < 200; tick++) {
      const n = Math.floor(rnd() * 4);
      for (let k = 0; k < n; k++) s.times.set(++top, at(rnd() < 0.1 ? Math.floor(rnd() * 100) : 100 + tick));
      // The floor follows a few looks behind the top, as a stream's does (the reorder window).
      if (rnd() < 0.5) floor = Math.max(floor, tops[Math.max(0, tops.length - 1 - Math.floor(rnd() * 6))]);
      expect(await times.earliest(1, floor, top)).toBe(s.earliest(floor, top));
      // Any floor above (a sent id): never later.
      const inside = floor + Math.floor(rnd() * (top - floor + 1));
      const exact = s.earliest(inside, top);
      if (exact !== null) expect((await times.earliest(1, inside, top))! <= exact).toBe(true);
      tops.push(top);
      times.prune(new Map([[1, floor]]));
    }
    // Each id was in one stretch read.
    const covered = s.reads.reduce((n, r) => n + (r.upTo - r.after), 0);
    expect(covered).toBe(top - SLOT);
    expect(times.size).toBeLessThan(10);
  });

  it('reads below what it holds for a lower floor (a resume), and forgets a slot no port stream follows', async () => {
    const s = store();
    for (let id = 1; id <= 20; id++) s.times.set(SLOT + id, at(id === 4 ? 0 : 10 + id));
    const times = new StreamSlotTimes(s.read);
    expect(await times.earliest(1, SLOT + 10, SLOT + 20)).toBe(at(21));
    expect(await times.earliest(1, SLOT + 2, SLOT + 20)).toBe(at(0));
    expect(await times.earliest(1, SLOT + 10, SLOT + 20)).toBe(at(21));
    expect(s.reads).toEqual([{ after: SLOT + 10, upTo: SLOT + 20 }, { after: SLOT + 2, upTo: SLOT + 10 }]);
    expect(await times.earliest(1, SLOT + 20, SLOT + 20)).toBeNull();
    times.prune(new Map());
    expect(times.size).toBe(0);
  });

  it('keeps at most 64 stretches a slot, the oldest merged: never a later time than the whole read', async () => {
    const s = store();
    const times = new StreamSlotTimes(s.read);
    for (let id = 1; id <= 100; id++) {
      s.times.set(SLOT + id, at(id === 3 ? 1 : 50 + (id % 7)));
      expect(await times.earliest(1, SLOT, SLOT + id)).toBe(s.earliest(SLOT, SLOT + id));
    }
    expect(times.size).toBeLessThanOrEqual(64);
    for (const floor of [2, 3, 50, 99]) expect((await times.earliest(1, SLOT + floor, SLOT + 100))! <= s.earliest(SLOT + floor, SLOT + 100)!).toBe(true);
  });

  it('reads a slot once for two streams asking at once', async () => {
    const s = store();
    for (let id = 1; id <= 5; id++) s.times.set(SLOT + id, at(id));
    const times = new StreamSlotTimes(s.read);
    expect(await Promise.all([times.earliest(1, SLOT, SLOT + 5), times.earliest(1, SLOT, SLOT + 5)])).toEqual([at(1), at(1)]);
    expect(s.reads).toEqual([{ after: SLOT, upTo: SLOT + 5 }]);
  });
});
