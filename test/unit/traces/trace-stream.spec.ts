// The stream's tailing logic against a store whose commits become visible out of id order, as they
// can with several writers on PostgreSQL (issue 19) and never with SQLite's one writer: so this is
// the one place a fake store stands in. The real stream runs on a sandbox in test/browser.
import { ApiError } from '../../../src/common/api-error';
import { parseResumePoint } from '../../../src/traces/stream-position';
import { MAX_SLOTS_A_POLL, STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import type { TracesService } from '../../../src/traces/traces.service';
import { FakeResponse } from '../../support/fake-sse-response';
import { waitFor } from '../../support/wait';

/**
 * The list query of GET /traces over an in-memory set of visible ids (newest first, cursor = below).
 * `polls.reads`: the lists without a cursor, the service's read of the newest id (one a poll tick,
 * without a store); a walk always has one.
 */
function fakeTraces(visible: Set<number>, polls = { reads: 0 }): TracesService {
  return {
    listJson: async (f: { cursor?: number; limit: number; verdict?: string }) => {
      if (f.cursor === undefined) polls.reads++;
      const ids = [...visible].filter((id) => (f.cursor ? id < f.cursor : true) && (!f.verdict || id % 2 === 0)).sort((a, b) => b - a);
      const items = ids.slice(0, f.limit).map((id) => ({ id, verdict: { kinds: [id % 2 === 0 ? 'drop' : 'output'] } }));
      return Buffer.from(JSON.stringify({ items, next: ids.length > f.limit ? 'more' : null }));
    },
  } as unknown as TracesService;
}

/**
 * Each wait is for what the next assertion needs, never a fixed time: under a load of 10 on two
 * cores a 10 ms poll tick takes ten times as long. Generous, so only a stream that never gets there
 * fails, naming what it waited for.
 */
const BOUND = 30_000;
jest.setTimeout(4 * BOUND);
const until = (what: string, cond: () => boolean) => waitFor(what, cond, BOUND);
/**
 * `n` more poll ticks, counted by `polls.reads` (a tick starts with the read of the newest ids, and
 * one starts only once the one before it ended): after two, a whole tick ran after the wait began.
 * What a test says is not sent would have been by then.
 */
const ticks = async (polls: { reads: number }, n = 2) => {
  const from = polls.reads;
  await until(`${n} more poll ticks`, () => polls.reads >= from + n);
};
/** A Last-Event-ID as the controller parses it. */
const at = (header: string) => parseResumePoint(header) as Map<number, number>;

describe('the trace stream tailing', () => {
  const visible = new Set<number>();
  const polls = { reads: 0 };
  let service: TraceStreamService;

  beforeEach(() => {
    visible.clear();
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10, heartbeatMs: 60_000, reorderMs: 2000, maxCatchUp: 5 };
    service = new TraceStreamService(fakeTraces(visible, polls));
  });

  afterEach(() => {
    service.beforeApplicationShutdown();
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  it('sends a trace committed late with a lower id, once, and every other trace once', async () => {
    for (const id of [1, 2, 3]) visible.add(id);
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    visible.add(5);
    await until('trace 5', () => res.ids().includes(5));
    visible.add(4); // id 4 becomes visible after id 5
    await until('trace 4, committed late', () => res.ids().includes(4));
    visible.add(6);
    await until('trace 6', () => res.ids().includes(6));
    await ticks(polls);
    expect(res.ids()).toEqual([5, 4, 6]);
    // The position never goes back: a resume after the late trace does not send 5 again.
    expect(res.positions()).toEqual(['5', '5', '6']);
  });

  it('resumes after Last-Event-ID with the filter, and says so when more were missed than it sends', async () => {
    for (let id = 1; id <= 20; id++) visible.add(id);
    const res = new FakeResponse();
    await service.start({ verdict: 'drop' }, at('4'), res as any);
    await until("the resume's catch-up", () => res.ids().length > 0);
    await ticks(polls);
    // 6..20 even: 8 traces, 5 sent (the newest), a gap event first.
    expect(res.ids()).toEqual([12, 14, 16, 18, 20]);
    expect(res.out).toMatch(/event: gap\ndata: \{"after":4,"before":12,/);
  });

  it('sends nothing to a client that does not read, then catches up when it drains', async () => {
    visible.add(1);
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    res.writableNeedDrain = true;
    visible.add(2);
    await ticks(polls);
    expect(res.ids()).toEqual([]);
    res.writableNeedDrain = false;
    await until('trace 2, once the client drained', () => res.ids().includes(2));
    await ticks(polls);
    expect(res.ids()).toEqual([2]);
  });

  it('stops polling for a client that went away', async () => {
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    expect(service.open).toBe(1);
    res.emit('close');
    expect(service.open).toBe(0);
  });

  // A stop's HTTP drain (common/http-drain.ts) ends the event streams; a stream's 'close' comes only
  // once its client has read what was buffered (one that stopped reading: the whole stop). A
  // heartbeat or a poll in between wrote after end: an 'error' no one heard, the process ended mid-stop.
  it('writes nothing to a stream ended by a stop before its close', async () => {
    TraceStreamService.options = { ...TraceStreamService.options, heartbeatMs: 15 };
    service = new TraceStreamService(fakeTraces(visible));
    visible.add(1);
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    res.end();
    const written = res.out;
    visible.add(2); // a poll finds a trace to send
    // The first heartbeat or poll after the end lets the stream go, writing nothing; the timers stop
    // with it, so there is no later tick to wait for.
    await until('the stream let go by its first heartbeat or poll', () => service.open === 0);
    expect(res.out).toBe(written);
    expect(service.open).toBe(0);
    res.close();
  });
});

describe("a port's stream and its far passes (the look PortArrivals.since registers, in paths/port-arrivals.ts)", () => {
  const visible = new Set<number>();
  /** Arrivals stored (id → the sender's id once it is stored, else null); lsp1's own rows are `visible`. */
  const arrivals = new Map<number, number | null>();
  const calls: Array<{ after: number; retry: number[]; near: number[] }> = [];
  /** lsp1's own rows that tunnelled (possible senders), by id: their trace time. */
  const tunnelled = new Map<number, string>();
  /** The options of each list query the stream ran. */
  const listOpts: Array<{ far?: boolean } | undefined> = [];
  const polls = { reads: 0 };
  let service: TraceStreamService;

  beforeEach(() => {
    visible.clear();
    arrivals.clear();
    tunnelled.clear();
    listOpts.length = 0;
    calls.length = 0;
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10, heartbeatMs: 60_000, reorderMs: 2000, maxCatchUp: 50 };
    const own = fakeTraces(visible);
    // The port's own rows are `visible`; every trace (the newest id of all) the arrivals too.
    const traces: Record<string, unknown> = {
      listJson: (f: { logicalPort?: string; cursor?: number; limit: number }, opts?: { far?: boolean }) => {
        listOpts.push(opts);
        if (f.logicalPort)
          return own.listJson(f as never).then((b) => {
            const page = JSON.parse(b.toString()) as { items: Array<{ id: number; createdAt?: string; verdict: { tunnels?: unknown[] } }> };
            for (const t of page.items) if (tunnelled.has(t.id)) Object.assign(t, { createdAt: tunnelled.get(t.id), verdict: { ...t.verdict, tunnels: [{}] } });
            return Buffer.from(JSON.stringify(page));
          });
        return fakeTraces(new Set([...visible, ...arrivals.keys()]), polls).listJson(f as never);
      },
    };
    traces.resolvePort = async (name: string) => name;
    // As PortArrivals.since answers: arrivals after `after` and the retried ones, each linked or unlinked.
    const far = async (_q: unknown, ranges: Array<{ after: number; below: number }>, retry: readonly number[], _limit: number, near: readonly number[]) => {
      // One slot here: one range at most.
      const after = ranges[0]?.after ?? -1;
      calls.push({ after, retry: [...retry], near: [...near] });
      const inRange = [...arrivals.keys()].filter((id) => ranges.some((r) => id > r.after && id < r.below));
      const looked = [...new Set([...retry, ...inRange])];
      const items = looked.filter((id) => arrivals.get(id) != null).map((id) => ({ id, chassis: 'hv3', arrivedFrom: { traceId: arrivals.get(id), chassis: 'hv1' } }));
      return { items, scannedTo: ranges.map((r) => Math.max(r.after, ...inRange.filter((id) => id < r.below))), complete: ranges.map(() => true), unlinked: looked.filter((id) => arrivals.get(id) === null) };
    };
    service = new TraceStreamService(traces as unknown as TracesService);
    service.useFarPasses(far as never);
  });

  afterEach(() => {
    service.beforeApplicationShutdown();
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  const events = (res: FakeResponse) => [...res.out.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]) as { id: number; arrivedFrom?: { traceId: number } });

  it('sends an arrival stored after its sender, marked arrivedFrom, once; an arrival is looked at once', async () => {
    visible.add(1);
    const res = new FakeResponse();
    await service.start({ logicalPort: 'lsp1' }, undefined, res as any);
    visible.add(2);
    arrivals.set(3, 2);
    await until('trace 2 and the far pass 3', () => res.ids().includes(2) && res.ids().includes(3));
    visible.add(4);
    await until('trace 4', () => res.ids().includes(4));
    await ticks(polls);
    expect(events(res).map((e) => [e.id, e.arrivedFrom?.traceId])).toEqual([[2, undefined], [3, 2], [4, undefined]]);
    // Its own pages never run the list's far-pass walk (which would put far passes, and their ids as cursors, in them).
    expect(listOpts.length).toBeGreaterThan(0);
    expect(listOpts.every((o) => o?.far === false)).toBe(true);
    // Looked at from the start (the newest id of all then), then after the arrival seen.
    expect(calls[0].after).toBe(1);
    expect(calls.slice(1).every((c) => c.after === 3 && c.retry.length === 0)).toBe(true);
  });

  it('retries an arrival stored before its sender, and sends it once the sender is stored', async () => {
    const res = new FakeResponse();
    await service.start({ logicalPort: 'lsp1', role: 'inport' }, undefined, res as any);
    arrivals.set(1, null);
    await until('the arrival looked at', () => calls.length > 0);
    await ticks(polls);
    expect(calls.map((c) => c.retry)).toEqual([[]]);
    // The sender's commit makes the next poll, which looks at the arrival again.
    arrivals.set(1, 2);
    visible.add(2);
    await until('the far pass 1 and its sender 2', () => res.ids().includes(1) && res.ids().includes(2));
    await ticks(polls);
    expect(calls[1].retry).toEqual([1]);
    expect(events(res).map((e) => [e.id, e.arrivedFrom?.traceId])).toEqual([[1, 2], [2, undefined]]);
    const after = calls.length;
    visible.add(5);
    await until('trace 5 and its look', () => res.ids().includes(5) && calls.length > after);
    await ticks(polls);
    expect(calls.slice(after).some((c) => c.retry.length)).toBe(false);
  });

  it('gives an unlinked arrival up after the reorder window', async () => {
    TraceStreamService.options = { ...TraceStreamService.options, reorderMs: 30 };
    const res = new FakeResponse();
    await service.start({ logicalPort: 'lsp1' }, undefined, res as any);
    arrivals.set(1, null);
    await until('the arrival looked at', () => calls.length > 0);
    // The window is time: what is awaited is the clock past it, from no earlier than that look.
    const lookedAt = Date.now();
    await until('the reorder window past the look', () => Date.now() > lookedAt + TraceStreamService.options.reorderMs);
    visible.add(2);
    await until('trace 2', () => res.ids().includes(2));
    const before = calls.length;
    visible.add(3);
    await until('trace 3 and its look', () => res.ids().includes(3) && calls.length > before);
    expect(calls.slice(before).some((c) => c.retry.includes(1))).toBe(false);
  });

  it("gives the look the trace times of the port's passes it saw tunnel (only arrivals near them cost a link)", async () => {
    const res = new FakeResponse();
    await service.start({ logicalPort: 'lsp1' }, undefined, res as any);
    tunnelled.set(1, '2026-12-05T03:00:04.000Z');
    visible.add(1);
    visible.add(2);
    await until('traces 1 and 2', () => res.ids().includes(1) && res.ids().includes(2));
    await ticks(polls);
    expect(calls[calls.length - 1].near).toEqual([Date.parse('2026-12-05T03:00:04.000Z')]);
    expect(calls.every((c) => c.near.length <= 1)).toBe(true);
  });

  it('an outport stream and a stream without a port never look for far passes', async () => {
    const a = new FakeResponse();
    const b = new FakeResponse();
    await service.start({ logicalPort: 'lsp1', role: 'outport' }, undefined, a as any);
    await service.start({ verdict: 'drop' }, undefined, b as any);
    arrivals.set(1, 0);
    visible.add(2);
    await until('trace 2 on both streams', () => a.ids().includes(2) && b.ids().includes(2));
    await ticks(polls);
    expect(calls).toEqual([]);
  });
});

describe('writer slots: with PostgreSQL each writer commits its own id range, and ids order time only within one', () => {
  const SLOT = 2 ** 40;
  /** Trace id → its trace time (the order commits are made in here). */
  const visible = new Map<number, string>();
  let clock = Date.parse('2026-12-05T03:00:00.000Z');
  const commit = (...ids: number[]) => ids.forEach((id) => visible.set(id, new Date(clock++).toISOString()));
  let service: TraceStreamService;
  let walks: Array<{ cursor?: number; above?: number }>;
  const polls = { reads: 0 };

  beforeEach(() => {
    visible.clear();
    walks = [];
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10, heartbeatMs: 60_000, reorderMs: 2000, maxCatchUp: 50 };
    const traces = {
      listJson: async (f: { cursor?: number; above?: number; limit: number }) => {
        walks.push({ cursor: f.cursor, above: f.above });
        const ids = [...visible.keys()].filter((id) => (f.cursor === undefined || id < f.cursor) && (f.above === undefined || id > f.above)).sort((a, b) => b - a);
        const items = ids.slice(0, f.limit).map((id) => ({ id, createdAt: visible.get(id), verdict: { kinds: ['output'] } }));
        return Buffer.from(JSON.stringify({ items, next: ids.length > f.limit ? 'more' : null }));
      },
    };
    // As TraceStore.newestPerSlot answers (trace-slot-store.ts).
    const store = {
      newestPerSlot: async () => {
        polls.reads++;
        const m = new Map<number, number>();
        for (const id of visible.keys()) m.set(Math.floor(id / SLOT), Math.max(id, m.get(Math.floor(id / SLOT)) ?? 0));
        return m;
      },
    };
    service = new TraceStreamService(traces as unknown as TracesService, store);
  });

  afterEach(() => {
    service.beforeApplicationShutdown();
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  it("a live stream sends every slot's new traces, a lower slot's too, once each, oldest first per slot", async () => {
    commit(SLOT + 1, 2 * SLOT + 1);
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    commit(SLOT + 2, 2 * SLOT + 2, SLOT + 3);
    await until('SLOT + 2, 2·SLOT + 2 and SLOT + 3', () => [SLOT + 2, 2 * SLOT + 2, SLOT + 3].every((id) => res.ids().includes(id)));
    commit(2 * SLOT + 3);
    await until('2·SLOT + 3', () => res.ids().includes(2 * SLOT + 3));
    await ticks(polls);
    expect(res.ids()).toEqual([SLOT + 2, 2 * SLOT + 2, SLOT + 3, 2 * SLOT + 3]);
    // Position: slot 0 (none), then each slot's highest sent.
    expect(res.positions().at(-1)).toBe(`0,${SLOT + 3},${2 * SLOT + 3}`);
    // Each walk is one slot's range above its floor.
    expect(walks.filter((w) => w.above !== undefined).every((w) => Math.floor(w.above! / SLOT) === Math.floor((w.cursor! - 1) / SLOT))).toBe(true);
  });

  it('a resume by the last position gets what every slot committed since, nothing twice; a new writer from its first trace', async () => {
    commit(SLOT + 1, 2 * SLOT + 1);
    const first = new FakeResponse();
    await service.start({}, undefined, first as any);
    commit(SLOT + 2, 2 * SLOT + 2);
    await until('SLOT + 2 and 2·SLOT + 2', () => first.ids().includes(SLOT + 2) && first.ids().includes(2 * SLOT + 2));
    await ticks(polls);
    const position = first.positions().at(-1)!;
    first.emit('close');
    commit(SLOT + 3, 2 * SLOT + 3, 3 * SLOT + 1);
    const second = new FakeResponse();
    await service.start({}, at(position), second as any);
    await until("the resume's catch-up", () => second.ids().length > 0);
    await ticks(polls);
    expect(first.ids()).toEqual([SLOT + 2, 2 * SLOT + 2]);
    expect(second.ids()).toEqual([SLOT + 3, 2 * SLOT + 3, 3 * SLOT + 1]);
  });

  it(`walks at most ${MAX_SLOTS_A_POLL} slots a stream a tick, the others at the next ticks, each slot's traces once`, async () => {
    const slots = Array.from({ length: 40 }, (_, i) => i + 1);
    for (const s of slots) commit(s * SLOT + 1);
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    walks.length = 0;
    TraceStreamService.options = { ...TraceStreamService.options, pollMs: 60_000 };
    for (const s of slots) commit(s * SLOT + 2);
    await (service as unknown as { tick(): Promise<void> }).tick();
    expect(new Set(walks.map((w) => w.cursor)).size).toBe(MAX_SLOTS_A_POLL);
    for (let i = 0; i < 3; i++) await (service as unknown as { tick(): Promise<void> }).tick();
    expect(res.ids().sort((a, b) => a - b)).toEqual(slots.map((s) => s * SLOT + 2));
  });
});

describe('Last-Event-ID as a stream position (stream-position.ts)', () => {
  it('reads a trace id and the stream own ids', () => {
    expect(parseResumePoint('42')).toEqual(new Map([[0, 42]]));
    expect(parseResumePoint(`0,${2 ** 40 + 5},${3 * 2 ** 40}`)).toEqual(new Map([[0, 0], [1, 2 ** 40 + 5], [3, 3 * 2 ** 40]]));
  });

  it.each([
    ['a word', 'x1', /must be a trace id, or the stream's own id/],
    ['an empty entry', '1,,2', /must be a trace id/],
    ['a negative id', '-1', /must be a trace id/],
    ['17 digits', '12345678901234567', /must be a trace id/],
    ['an id past slot 8191', String(2 ** 53), /past the last writer slot/],
    ['one slot twice', `${2 ** 40 + 1},${2 ** 40 + 2}`, /names writer slot 1 twice/],
    ['1,025 slots', Array.from({ length: 1025 }, (_, i) => String(i * 2 ** 40)).join(','), /at most 1024/],
    ['20,001 characters', '1,'.repeat(10_000) + '1', /characters long/],
  ])('refuses %s, saying why', (_what, header, why) => {
    expect(parseResumePoint(header)).toMatch(why);
  });
});

describe('the bound on open streams (maxStreams → 503)', () => {
  let service: TraceStreamService;
  const later = <T>(v: () => T, ms = 5) => new Promise<T>((resolve, reject) => setTimeout(() => { try { resolve(v()); } catch (e) { reject(e); } }, ms));
  /** A store that answers after a few ms, as PostgreSQL does: starts overlap while they await it. */
  const slowStore = { newestPerSlot: () => later(() => new Map([[0, 1]])) };
  const traces = {
    listJson: async () => Buffer.from(JSON.stringify({ items: [], next: null })),
    resolvePort: (name: string) =>
      later(() => {
        if (name === 'nope') throw new ApiError(404, 'no logical port "nope"');
        return name;
      }),
  };
  const status = (r: PromiseSettledResult<void>) => (r.status === 'fulfilled' ? 200 : (r.reason as ApiError).getStatus());

  beforeEach(() => {
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10_000, heartbeatMs: 60_000 };
    service = new TraceStreamService(traces as unknown as TracesService, slowStore);
  });

  afterEach(() => {
    service.beforeApplicationShutdown();
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  it('40 concurrent starts against a slow store: exactly 32 open, 8 answered 503', async () => {
    const all = await Promise.allSettled(Array.from({ length: 40 }, () => service.start({}, undefined, new FakeResponse() as any)));
    const codes = all.map(status);
    expect(codes.filter((c) => c === 200)).toHaveLength(32);
    expect(codes.filter((c) => c === 503)).toHaveLength(8);
    expect(service.open).toBe(32);
    const refused = all.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((refused.reason as ApiError).message).toMatch(/at most 32/);
  });

  it('a start that fails (unknown port: 404) or whose client went away meanwhile gives its place back', async () => {
    TraceStreamService.options = { ...TraceStreamService.options, maxStreams: 2 };
    // Both in flight at once, each holding a place while it awaits.
    const gone = new FakeResponse();
    const first = Promise.allSettled([service.start({ logicalPort: 'nope' }, undefined, new FakeResponse() as any), service.start({}, undefined, gone as any)]);
    gone.destroyed = true;
    expect((await first).map(status)).toEqual([404, 200]);
    expect(service.open).toBe(0);
    const next = await Promise.allSettled([1, 2, 3].map(() => service.start({ logicalPort: 'lsp1' }, undefined, new FakeResponse() as any)));
    expect(next.map(status)).toEqual([200, 200, 503]);
    expect(service.open).toBe(2);
  });
});
