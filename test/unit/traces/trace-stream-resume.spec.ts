// Resumes of GET /traces/stream across writer slots (PostgreSQL: each writer commits its own id
// range, and ids order time only within one): a plain trace id resumes every other slot from its
// trace time, found by the real SQL (trace-slot-store.ts resumeFloors, on an in-memory SQLite copy
// of the ids and times); a far pass sent on a retry, in a slot the poll did not walk, is in the
// position, so a resume by it does not send it again. The list and the far look are fakes, as in
// trace-stream.spec.ts (commits visible out of id order are what they stand in for).
import Database from 'better-sqlite3';
import { SqliteReader } from '../../../src/storage/sql';
import { parseResumePoint } from '../../../src/traces/stream-position';
import { resumeFloors, slotFloorsAt } from '../../../src/traces/trace-slot-store';
import { STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import type { TracesService } from '../../../src/traces/traces.service';
import { FakeResponse } from '../../support/fake-sse-response';
import { waitFor } from '../../support/wait';

const SLOT = 2 ** 40;
/**
 * Each wait is for what the next assertion needs, never a fixed time: under a load of 10 on two
 * cores a 10 ms poll tick took ten times as long and fixed sleeps fell short. Generous, so only a
 * stream that never gets there fails, naming what it waited for.
 */
const BOUND = 30_000;
jest.setTimeout(4 * BOUND);
const until = (what: string, cond: () => boolean) => waitFor(what, cond, BOUND);
const at = (header: string) => parseResumePoint(header) as Map<number, number>;

/** Trace id → its trace time, in a store the list fake and the real SQL both read. */
class Traces {
  readonly times = new Map<number, string>();
  /** The stream's reads of each slot's newest id: one starts each poll tick. */
  reads = 0;
  private readonly db = new Database(':memory:');
  readonly sql = new SqliteReader(this.db);
  clock = Date.parse('2026-12-05T03:00:00.000Z');

  constructor() {
    this.db.exec('CREATE TABLE trace (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL)');
  }

  commit(...ids: number[]): void {
    for (const id of ids) this.commitAt(this.clock++, id);
  }

  /** One trace traced at `time` (ms), committed now. */
  commitAt(time: number, id: number): void {
    const t = new Date(time).toISOString();
    this.times.set(id, t);
    this.db.prepare('INSERT INTO trace (id, created_at) VALUES (?, ?)').run(id, t);
  }

  /** newestPerSlot as the service reads it (counted: ticks). */
  read(): Map<number, number> {
    this.reads++;
    return this.newestPerSlot();
  }

  newestPerSlot(ids: Iterable<number> = this.times.keys()): Map<number, number> {
    const m = new Map<number, number>();
    for (const id of ids) m.set(Math.floor(id / SLOT), Math.max(id, m.get(Math.floor(id / SLOT)) ?? 0));
    return m;
  }

  /** GET /traces's list over `ids`, newest first, cursor = below, `above` the floor. */
  page(ids: Iterable<number>, f: { cursor?: number; above?: number; limit: number }): Buffer {
    const sorted = [...ids].filter((id) => (f.cursor === undefined || id < f.cursor) && (f.above === undefined || id > f.above)).sort((a, b) => b - a);
    const items = sorted.slice(0, f.limit).map((id) => ({ id, createdAt: this.times.get(id), chassis: 'hv1', verdict: { kinds: ['output'] } }));
    return Buffer.from(JSON.stringify({ items, next: sorted.length > f.limit ? 'more' : null }));
  }
}

describe('a stream resumed across writer slots', () => {
  let traces: Traces;
  let service: TraceStreamService;
  const opened: FakeResponse[] = [];
  /** Each far look the fake answered: the ranges asked (below), how far each was read, and what stayed unlinked. */
  let looks: Array<{ below: number[]; scannedTo: number[]; unlinked: number[] }>;

  beforeEach(() => {
    traces = new Traces();
    looks = [];
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10, heartbeatMs: 60_000, reorderMs: 2000, maxCatchUp: 50 };
  });

  afterEach(() => {
    service.beforeApplicationShutdown();
    opened.length = 0;
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  /**
   * `n` more poll ticks: each starts by reading the slots' newest ids, and one starts only once the
   * one before it ended (tick's `ticking`), so after two, a whole tick ran after the wait began.
   */
  const ticks = async (n = 2) => {
    const from = traces.reads;
    await until(`${n} more poll ticks`, () => traces.reads >= from + n);
  };

  const open = async (filter: object, lastEventId?: string) => {
    const res = new FakeResponse();
    opened.push(res);
    await service.start(filter, lastEventId === undefined ? undefined : at(lastEventId), res as never);
    return res;
  };

  /**
   * The service over lsp1's own rows `own` (GET /traces?logical_port=lsp1's list), each slot's newest
   * from the fake; `floors`: a slot left out of an anchored position resumes by the real SQL (slotFloorsAt).
   */
  const portStream = (own: Set<number>, floors: boolean) => {
    const list = { listJson: async (f: { cursor?: number; above?: number; limit: number }) => traces.page(own, f), resolvePort: async (name: string) => name };
    const newestPerSlot = async () => traces.read();
    const store = floors ? { newestPerSlot, floorsAt: (time: string, newest: ReadonlyMap<number, number>) => slotFloorsAt(traces.sql, time, newest) } : { newestPerSlot };
    service = new TraceStreamService(list as unknown as TracesService, store);
  };

  /**
   * As PortArrivals.sinceIn answers: per range the arrivals after `after`, and the retried ones, each
   * linked (id → its sender's id) or not yet (null), every range read to its end.
   */
  const retriedArrivals = (arrivals: ReadonlyMap<number, number | null>) =>
    (async (_q: unknown, ranges: Array<{ after: number; below: number }>, retry: readonly number[]) => {
      const inRange = ranges.map((r) => [...arrivals.keys()].filter((id) => id > r.after && id < r.below));
      const looked = [...new Set([...retry, ...inRange.flat()])].sort((a, b) => a - b);
      const items = looked
        .filter((id) => arrivals.get(id) != null)
        .map((id) => ({ id, createdAt: traces.times.get(id), chassis: 'hv3', verdict: { kinds: ['output'] }, arrivedFrom: { traceId: arrivals.get(id), chassis: 'hv1' } }));
      const answer = { items, scannedTo: ranges.map((r, k) => Math.max(r.after, ...inRange[k])), complete: ranges.map(() => true), unlinked: looked.filter((id) => arrivals.get(id) === null) };
      looks.push({ below: ranges.map((r) => r.below), scannedTo: answer.scannedTo, unlinked: answer.unlinked });
      return answer;
    }) as never;

  it("by a plain trace id: its slot after it, every other slot from its trace time (a reorder window earlier), lower and higher slots alike", async () => {
    const list = { listJson: async (f: { cursor?: number; above?: number; limit: number }) => traces.page(traces.times.keys(), f) };
    const store = {
      newestPerSlot: async () => traces.read(),
      resumeFloors: (anchor: number, earlierMs: number, newest: ReadonlyMap<number, number>) => resumeFloors(traces.sql, anchor, earlierMs, newest),
    };
    service = new TraceStreamService(list as unknown as TracesService, store);
    const t0 = traces.clock;
    traces.commit(SLOT + 1, 3 * SLOT + 1); // 10 s before the id's trace: the client had them
    traces.clock = t0 + 9000;
    traces.commit(4 * SLOT + 1); // 1 s before it: within the reorder window, sent
    traces.clock = t0 + 10_000;
    traces.commit(2 * SLOT + 1); // the id the client resumes by
    traces.commit(SLOT + 2, 3 * SLOT + 2, 2 * SLOT + 2, 4 * SLOT + 2);
    const res = await open({}, String(2 * SLOT + 1));
    await until("the resume's catch-up", () => res.ids().length > 0);
    traces.commit(SLOT + 3);
    await until('SLOT + 3, committed after the resume', () => res.ids().includes(SLOT + 3));
    await ticks();
    // Slot 1 is below the id's slot (followed from "now" before: SLOT + 2 was lost), slots 3 and 4
    // above it (sent from their first trace before: 3·SLOT + 1 again).
    expect(res.ids()).toEqual([4 * SLOT + 1, SLOT + 2, 3 * SLOT + 2, 2 * SLOT + 2, 4 * SLOT + 2, SLOT + 3]);
  });

  it('a far pass sent on a retry in a slot that poll did not walk is in the position: a resume by it does not send it again', async () => {
    /** lsp1's own rows, and the tunnel arrivals: id → the sender's id once it is stored, else null. */
    const own = new Set<number>();
    const arrivals = new Map<number, number | null>();
    portStream(own, false);
    service.useFarPasses(retriedArrivals(arrivals));
    const first = await open({ logicalPort: 'lsp1' });
    // Slot 1: an arrival whose sender is not stored yet (retried); slot 2 then gets the sender.
    traces.commit(SLOT + 1);
    arrivals.set(SLOT + 1, null);
    await until('the arrival SLOT + 1 looked at, its sender not stored', () => looks.some((l) => l.unlinked.includes(SLOT + 1)));
    traces.commit(2 * SLOT + 1);
    own.add(2 * SLOT + 1);
    arrivals.set(SLOT + 1, 2 * SLOT + 1);
    await until('the far pass SLOT + 1 and 2·SLOT + 1', () => first.ids().includes(SLOT + 1) && first.ids().includes(2 * SLOT + 1));
    await ticks();
    expect(first.ids()).toEqual([SLOT + 1, 2 * SLOT + 1]);
    const position = first.positions().at(-1)!;
    expect(position).toBe(`0,${SLOT + 1},${2 * SLOT + 1}`);
    first.emit('close');
    const second = await open({ logicalPort: 'lsp1' }, position);
    // The resume's own poll (its fakes answer at once) ran before these ticks.
    await ticks();
    traces.commit(2 * SLOT + 2);
    own.add(2 * SLOT + 2);
    await until('2·SLOT + 2, committed after the resume', () => second.ids().includes(2 * SLOT + 2));
    await ticks();
    expect(second.ids()).toEqual([2 * SLOT + 2]);
  });

  it("anchored (past MAX_LISTED_SLOTS slots): an arrival still retried keeps its slot's cover, so a resume looks at it again and sends its far pass once its sender is stored", async () => {
    TraceStreamService.options = { ...TraceStreamService.options, reorderMs: 4000 };
    const own = new Set<number>();
    const arrivals = new Map<number, number | null>();
    portStream(own, true);
    service.useFarPasses(retriedArrivals(arrivals));
    // 300 slots that hold traces (a minute old) and stay quiet: the position is anchored.
    for (let slot = 10; slot < 310; slot++) traces.commitAt(Date.now() - 60_000, slot * SLOT + 1);
    const first = await open({ logicalPort: 'lsp1' });
    // Slot 400: an arrival traced 2 s before its commit, its sender not stored yet (retried for the 4 s window).
    const arrival = 400 * SLOT + 1;
    traces.commitAt(Date.now() - 2000, arrival);
    arrivals.set(arrival, null);
    // Looked at (retried from then for the 4 s window), and a reorder window past its trace time:
    // a walk now has its slot caught up past the arrival, only the retry holds the cover at it.
    // Then one of lsp1's own passes is sent, its position taken by a poll after that.
    const tracedAt = Date.parse(traces.times.get(arrival)!);
    const { reorderMs } = TraceStreamService.options;
    await until('the arrival looked at (retried), and a reorder window past its trace time', () => looks.some((l) => l.unlinked.includes(arrival)) && Date.now() > tracedAt + reorderMs);
    traces.commitAt(Date.now(), 2 * SLOT + 1);
    own.add(2 * SLOT + 1);
    await until("lsp1's pass 2·SLOT + 1", () => first.ids().includes(2 * SLOT + 1));
    await ticks();
    expect(first.ids()).toEqual([2 * SLOT + 1]);
    const position = first.positions().at(-1)!;
    expect(position).toMatch(/^t\d+,/);
    first.emit('close');
    // The sender is stored (within the window the first stream retried the arrival for): the far pass is lsp1's.
    const second = await open({ logicalPort: 'lsp1' }, position);
    traces.commitAt(Date.now(), 2 * SLOT + 2);
    own.add(2 * SLOT + 2);
    arrivals.set(arrival, 2 * SLOT + 2);
    await until('the far pass (the arrival, its sender stored) on the resumed stream', () => second.ids().includes(arrival));
    expect(second.ids()).toContain(arrival);
  });

  it("anchored: a far look that read only part of a slot's arrivals (its bound) keeps the slot's cover and goes on, so no far pass below it is lost on a resume", async () => {
    TraceStreamService.options = { ...TraceStreamService.options, reorderMs: 4000 };
    /** lsp1's own rows; the tunnel arrivals: id → its sender's id when it is lsp1's far pass, 0 when another port's. */
    const own = new Set<number>();
    const arrivals = new Map<number, number>();
    portStream(own, true);
    // As PortArrivals.sinceIn answers, its bound lowered to one arrival a range a look (FAR_LOOK's share:
    // a busy gateway's slot holds more arrivals than a look reads); `complete`: the range read to its end.
    service.useFarPasses((async (_q: unknown, ranges: Array<{ after: number; below: number }>) => {
      const inRange = ranges.map((r) => [...arrivals.keys()].filter((id) => id > r.after && id < r.below).sort((a, b) => a - b));
      const read = inRange.map((ids) => ids.slice(0, 1));
      const items = read
        .flat()
        .filter((id) => arrivals.get(id)! > 0)
        .map((id) => ({ id, createdAt: traces.times.get(id), chassis: 'hv3', verdict: { kinds: ['output'] }, arrivedFrom: { traceId: arrivals.get(id), chassis: 'hv1' } }));
      const scannedTo = ranges.map((r, k) => Math.max(r.after, ...read[k]));
      looks.push({ below: ranges.map((r) => r.below), scannedTo, unlinked: [] });
      return { items, scannedTo, complete: read.map((ids, k) => ids.length === inRange[k].length), unlinked: [] };
    }) as never);
    for (let slot = 10; slot < 310; slot++) traces.commitAt(Date.now() - 60_000, slot * SLOT + 1);
    const sender = 2 * SLOT + 1;
    traces.commitAt(Date.now() - 60_000, sender);
    const first = await open({ logicalPort: 'lsp1' });
    // Slot 400: 100 arrivals of another port's packets, then lsp1's far pass, all traced 3.5 s ago
    // (after the stream's first cover: committed after its start), committed now. A look reads one.
    const far = 400 * SLOT + 101;
    for (let id = 400 * SLOT + 1; id < far; id++) {
      traces.commitAt(Date.now() - 3500, id);
      arrivals.set(id, 0);
    }
    traces.commitAt(Date.now() - 3500, far);
    arrivals.set(far, sender);
    // A reorder window past the arrivals' trace time: a walk now has slot 400 caught up past them,
    // only the far look being short of them holds its cover (one arrival a look, 101 of them).
    const tracedAt = Date.parse(traces.times.get(far)!);
    const { reorderMs } = TraceStreamService.options;
    await until("a reorder window past the arrivals' trace time", () => Date.now() > tracedAt + reorderMs);
    // One of lsp1's own passes: an id to resume by, anchored; the far look is still short of the far pass.
    traces.commitAt(Date.now(), 2 * SLOT + 2);
    own.add(2 * SLOT + 2);
    await until("lsp1's pass 2·SLOT + 2", () => first.ids().includes(2 * SLOT + 2));
    const position = first.positions().at(-1)!;
    expect(position).toMatch(/^t\d+,/);
    first.emit('close');
    const resumedAt = looks.length;
    const second = await open({ logicalPort: 'lsp1' }, position);
    await until("the resumed stream's far look read up to the far pass", () => looks.slice(resumedAt).some((l) => l.scannedTo.some((id) => id >= far)));
    await ticks();
    // Sent once, by either stream.
    expect([...first.ids(), ...second.ids()].filter((id) => id === far)).toEqual([far]);
  });

  it("anchored: a slot whose far look read its range to the end is covered on, though its newest trace is no arrival", async () => {
    const own = new Set<number>();
    const arrivals = new Set<number>();
    portStream(own, false);
    // Another port's arrivals only: each range read to its end, nothing found.
    service.useFarPasses((async (_q: unknown, ranges: Array<{ after: number; below: number }>) => {
      const inRange = ranges.map((r) => [...arrivals].filter((id) => id > r.after && id < r.below));
      const scannedTo = ranges.map((r, k) => Math.max(r.after, ...inRange[k]));
      looks.push({ below: ranges.map((r) => r.below), scannedTo, unlinked: [] });
      return { items: [], scannedTo, complete: ranges.map(() => true), unlinked: [] };
    }) as never);
    for (let slot = 10; slot < 310; slot++) traces.commitAt(Date.now() - 60_000, slot * SLOT + 1);
    const first = await open({ logicalPort: 'lsp1' });
    const started = Number(/^: after trace t(\d+),/m.exec(first.out)![1]);
    // Slot 400: an arrival, then a trace that is none (the slot's newest).
    traces.commit(400 * SLOT + 1, 400 * SLOT + 2);
    arrivals.add(400 * SLOT + 1);
    await until("slot 400's range looked at up to its newest", () => looks.some((l) => l.below.includes(400 * SLOT + 3)));
    await ticks();
    traces.commitAt(Date.now(), 2 * SLOT + 1);
    own.add(2 * SLOT + 1);
    await until("lsp1's pass 2·SLOT + 1", () => first.ids().includes(2 * SLOT + 1));
    // Every slot walked and looked at since the start: the anchor is a later look's, not the start's.
    expect(Number(/^t(\d+),/.exec(first.positions().at(-1)!)![1])).toBeGreaterThan(started);
  });

  it("by a plain trace id on many slots (anchored): the other slots are covered from the id's trace time at once, so the stream's first id is not t0", async () => {
    /** The slots walked (a walk's cursor is the slot above's base). */
    const walked = new Set<number>();
    const list = {
      listJson: async (f: { cursor?: number; above?: number; limit: number }) => {
        if (f.cursor !== undefined) walked.add(f.cursor / SLOT - 1);
        return traces.page(traces.times.keys(), f);
      },
    };
    const store = {
      newestPerSlot: async () => traces.read(),
      resumeFloors: (anchor: number, earlierMs: number, newest: ReadonlyMap<number, number>) => resumeFloors(traces.sql, anchor, earlierMs, newest),
    };
    service = new TraceStreamService(list as unknown as TracesService, store);
    for (let slot = 10; slot < 310; slot++) traces.commitAt(Date.now() - 60_000, slot * SLOT + 1);
    const anchorAt = Date.now() - 30_000;
    traces.commitAt(anchorAt, 2 * SLOT + 1);
    traces.commitAt(Date.now(), 2 * SLOT + 2);
    const res = await open({}, String(2 * SLOT + 1));
    // Every slot walked (MAX_SLOTS_A_POLL a poll), so none of them sends anything more.
    await until('every slot walked', () => res.ids().length > 0 && [...traces.newestPerSlot().keys()].every((slot) => walked.has(slot)));
    await ticks();
    expect(res.ids()).toEqual([2 * SLOT + 2]);
    // Most slots are walked polls later (MAX_SLOTS_A_POLL a poll); meanwhile they stand where the
    // resume put them, from the id's time a reorder window earlier. With t0, a reconnect by this id
    // sent every slot left out of it again from its first trace.
    expect(res.positions()[0]).toMatch(new RegExp(`^t${anchorAt - 2000},`));
  });
});
