// A port's stream walks a writer slot by the port's time index (trace_port has none by id) from the
// earliest trace time above its floor, read by StreamSlotTimes (trace-stream.service.ts): with trace
// times out of id order (ingested events keep their own), every trace comes once, each slot in id
// order; a catch-up past maxCatchUp keeps the newest by id and never sends a skipped one later. The
// list fake orders and bounds as trace-read-store.ts does for a port's walk in a slot (time, then id;
// ids in (above, cursor); `since`, `before`), as the other stream specs fake it by id.
import { parseResumePoint } from '../../../src/traces/stream-position';
import type { IdStretch } from '../../../src/traces/trace-slot-store';
import { STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import type { TracesService } from '../../../src/traces/traces.service';
import { FakeResponse } from '../../support/fake-sse-response';

const SLOT = 2 ** 40;
const settle = (ms = 120) => new Promise((r) => setTimeout(r, ms));
const iso = (sec: number) => new Date(Date.UTC(2026, 11, 5, 12, 0, 0) + sec * 1000).toISOString();

describe("a port's stream walking by time", () => {
  /** The port's traces: id → trace time (every trace of the store is the port's here). */
  const times = new Map<number, string>();
  const walks: Array<{ since?: string }> = [];
  let service: TraceStreamService;

  const list = {
    resolvePort: async (name: string) => name,
    listJson: async (f: { cursor?: number; above?: number; since?: string; before?: { at: string; id: number }; limit: number }) => {
      walks.push({ since: f.since });
      const rows = [...times]
        .filter(([id, at]) => (f.above === undefined || id > f.above) && (f.cursor === undefined || id < f.cursor) && (f.since === undefined || at >= f.since))
        .filter(([id, at]) => !f.before || at < f.before.at || (at === f.before.at && id < f.before.id))
        .sort((a, b) => (a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : b[0] - a[0]));
      const items = rows.slice(0, f.limit).map(([id, at]) => ({ id, createdAt: at, chassis: 'hv1', verdict: { kinds: ['output'] } }));
      return Buffer.from(JSON.stringify({ items, next: rows.length > f.limit ? 'more' : null }));
    },
  };
  const store = {
    newestPerSlot: async () => {
      const m = new Map<number, number>();
      for (const id of times.keys()) m.set(Math.floor(id / SLOT), Math.max(id, m.get(Math.floor(id / SLOT)) ?? 0));
      return m;
    },
    earliestIn: async (stretches: readonly IdStretch[]) =>
      stretches.map((s) => [...times].filter(([id]) => id > s.after && id <= s.upTo).reduce<string | null>((m, [, at]) => (m === null || at < m ? at : m), null)),
  };

  beforeEach(() => {
    times.clear();
    walks.length = 0;
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10, heartbeatMs: 60_000, reorderMs: 300, maxCatchUp: 5 };
    service = new TraceStreamService(list as unknown as TracesService, store);
  });

  afterEach(() => {
    service.beforeApplicationShutdown();
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  it('sends every trace once, each slot in id order, one stamped an hour before the others included', async () => {
    times.set(SLOT + 1, iso(0)).set(2 * SLOT + 1, iso(0));
    const res = new FakeResponse();
    await service.start({ logicalPort: 'lsp1' }, undefined, res as never);
    times.set(SLOT + 2, iso(10)).set(2 * SLOT + 2, iso(11));
    await settle();
    // Past the reorder window (the floors have risen to the walked tops), then ids above them stamped earlier.
    await settle(400);
    times.set(SLOT + 3, iso(-3600)).set(SLOT + 4, iso(12)).set(2 * SLOT + 3, iso(5));
    await settle();
    expect(res.ids().sort((a, b) => a - b)).toEqual([SLOT + 2, SLOT + 3, SLOT + 4, 2 * SLOT + 2, 2 * SLOT + 3]);
    for (const slot of [1, 2]) {
      const mine = res.ids().filter((id) => Math.floor(id / SLOT) === slot);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    // The walk by time started from the earliest above the floor: an hour back only while that trace was above it.
    expect(walks.some((w) => w.since === iso(-3600))).toBe(true);
    await settle(400);
    walks.length = 0;
    times.set(SLOT + 5, iso(13));
    await settle();
    expect(walks.length).toBeGreaterThan(0);
    expect(walks.every((w) => w.since === undefined || w.since >= iso(12))).toBe(true);
    expect(res.ids().filter((id) => id === SLOT + 5)).toHaveLength(1);
  });

  it('on a catch-up past maxCatchUp keeps the newest by id and never sends a skipped one later', async () => {
    // Times run against the ids: found newest by time first.
    for (let n = 1; n <= 12; n++) times.set(SLOT + n, iso(100 - n));
    const res = new FakeResponse();
    await service.start({ logicalPort: 'lsp1' }, parseResumePoint(`0,${SLOT + 2}`) as Map<number, number>, res as never);
    await settle();
    times.set(SLOT + 13, iso(200));
    await settle(500);
    expect(res.ids()).toEqual([SLOT + 8, SLOT + 9, SLOT + 10, SLOT + 11, SLOT + 12, SLOT + 13]);
    expect(res.out).toMatch(/event: gap\ndata: \{"after":1099511627778,"before":1099511627784,/);
  });
});
