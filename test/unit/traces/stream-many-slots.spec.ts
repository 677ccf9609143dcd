// A stream across more writer slots than a listed position holds (thousands of agents): its ids
// stay short (the logged form, stream-position-log.ts), a resume by any of them on the service that
// sent it gets every slot's traces since, once, however many slots (1,500 here, past the 1,024 a
// Last-Event-ID may list); on a service that does not hold the log the trace id reads as a plain
// one (its slot after it, the others from its time less the reorder window: nothing stamped since
// is missed). The list is a fake as in trace-stream.spec.ts; the resume floors are the real SQL
// (trace-slot-store.ts) on an in-memory SQLite copy of ids and times.
import Database from 'better-sqlite3';
import { SqliteReader } from '../../../src/storage/sql';
import { formatPosition, MAX_LISTED, MAX_RESUME_SLOTS, parseResumePoint } from '../../../src/traces/stream-position';
import { LOG_MOVES, StreamPositionLog } from '../../../src/traces/stream-position-log';
import { resumeFloors } from '../../../src/traces/trace-slot-store';
import { STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import type { TracesService } from '../../../src/traces/traces.service';
import { FakeResponse } from '../../support/fake-sse-response';

const SLOT = 2 ** 40;
const SLOTS = 1500;
const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

class Traces {
  readonly times = new Map<number, string>();
  private readonly db = new Database(':memory:');
  readonly sql = new SqliteReader(this.db);
  clock = Date.parse('2026-12-05T03:00:00.000Z');
  private readonly next = new Map<number, number>();

  constructor() {
    this.db.exec('CREATE TABLE trace (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL)');
  }

  /** One trace in each of `slots`, 1 ms apart; their ids. */
  commit(slots: Iterable<number>): number[] {
    const ids: number[] = [];
    for (const slot of slots) {
      const n = (this.next.get(slot) ?? 0) + 1;
      this.next.set(slot, n);
      const id = slot * SLOT + n;
      const t = new Date(this.clock++).toISOString();
      this.times.set(id, t);
      this.db.prepare('INSERT INTO trace (id, created_at) VALUES (?, ?)').run(id, t);
      ids.push(id);
    }
    return ids;
  }

  newestPerSlot(): Map<number, number> {
    const m = new Map<number, number>();
    for (const id of this.times.keys()) m.set(Math.floor(id / SLOT), Math.max(id, m.get(Math.floor(id / SLOT)) ?? 0));
    return m;
  }

  page(f: { cursor?: number; above?: number; limit: number }): Buffer {
    const sorted = [...this.times.keys()].filter((id) => (f.cursor === undefined || id < f.cursor) && (f.above === undefined || id > f.above)).sort((a, b) => b - a);
    const items = sorted.slice(0, f.limit).map((id) => ({ id, createdAt: this.times.get(id), chassis: 'hv1', verdict: { kinds: ['output'] } }));
    return Buffer.from(JSON.stringify({ items, next: sorted.length > f.limit ? 'more' : null }));
  }
}

const slotsFrom = (from: number, n: number, step = 1) => Array.from({ length: n }, (_, i) => (from + i * step) % SLOTS);

describe('a stream across more writer slots than a position lists', () => {
  let traces: Traces;
  const services: TraceStreamService[] = [];

  beforeEach(() => {
    traces = new Traces();
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 5, heartbeatMs: 60_000, reorderMs: 1000, maxCatchUp: 50 };
  });

  afterEach(() => {
    for (const s of services) s.beforeApplicationShutdown();
    services.length = 0;
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  const service = () => {
    const list = { listJson: async (f: { cursor?: number; above?: number; limit: number }) => traces.page(f) };
    const store = {
      newestPerSlot: async () => traces.newestPerSlot(),
      resumeFloors: (anchor: number, earlierMs: number, newest: ReadonlyMap<number, number>) => resumeFloors(traces.sql, anchor, earlierMs, newest),
    };
    const s = new TraceStreamService(list as unknown as TracesService, store);
    services.push(s);
    return s;
  };

  const open = async (s: TraceStreamService, header?: string) => {
    const res = new FakeResponse();
    const from = header === undefined ? undefined : parseResumePoint(header);
    if (typeof from === 'string') throw new Error(from);
    await s.start({}, from, res as never);
    return res;
  };

  /** Waits until `res` got every id of `ids`. */
  const until = async (res: FakeResponse, ids: number[]) => {
    for (let i = 0; i < 400 && !ids.every((id) => res.ids().includes(id)); i++) await settle(20);
  };

  it('gives short ids that the same service resumes exactly: every slot\'s traces since, once', async () => {
    traces.commit(slotsFrom(0, SLOTS));
    const a = service();
    const first = await open(a);
    // The start already stands in 1,500 slots: listed, that id would be refused.
    expect(formatPosition(traces.newestPerSlot()).split(',').length).toBeGreaterThan(MAX_RESUME_SLOTS);
    const live = traces.commit(slotsFrom(7, 300, 5));
    await until(first, live);
    expect(first.ids().sort((x, y) => x - y)).toEqual([...live].sort((x, y) => x - y));
    const positions = first.positions();
    expect(Math.max(...positions.map((p) => p.length))).toBeLessThan(64);
    for (const p of positions) expect(typeof parseResumePoint(p)).toBe('object');
    // Resumed from an event in the middle: the rest of the live ones, and what came after, once.
    const k = 120;
    first.emit('close');
    const later = traces.commit(slotsFrom(3, 400, 3));
    const resumed = await open(a, positions[k]);
    const expected = [...first.ids().slice(k + 1), ...later];
    await until(resumed, expected);
    await settle(100);
    expect(resumed.ids().sort((x, y) => x - y)).toEqual([...expected].sort((x, y) => x - y));
  });

  it('on a service without the log, reads the trace id as a plain one: nothing stamped since is missed', async () => {
    traces.commit(slotsFrom(0, SLOTS));
    const first = await open(service());
    const live = traces.commit(slotsFrom(11, 200, 7));
    await until(first, live);
    const last = first.positions().at(-1)!;
    expect(last).toMatch(/^\d+~[A-Za-z0-9_-]{16}\.\d+$/);
    first.emit('close');
    const later = traces.commit(slotsFrom(5, 300, 2));
    const elsewhere = await open(service(), last);
    await until(elsewhere, later);
    await settle(100);
    // Every trace committed after (all stamped after the anchor's), once; some from the reorder window before it again.
    const got = elsewhere.ids();
    expect(new Set(got).size).toBe(got.length);
    expect(later.every((id) => got.includes(id))).toBe(true);
  });

  it('refuses a logged id whose parts are not what the service gives, saying why', () => {
    expect(parseResumePoint(`5~${'a'.repeat(16)}.3`)).toEqual({ anchor: 5, token: 'a'.repeat(16), seq: 3 });
    expect(parseResumePoint('5~short.3')).toMatch(/not one this service gives/);
    expect(parseResumePoint(`${2 ** 53}~${'a'.repeat(16)}.3`)).toMatch(/past the last writer slot/);
    expect(parseResumePoint(`5~${'a'.repeat(16)}.x`)).toMatch(/must be a trace id/);
  });
});

describe('StreamPositionLog', () => {
  it('gives back the floors at any event it still holds, and none once folded past it', () => {
    const log = new StreamPositionLog();
    const token = log.open(new Map([[0, 5], [1, SLOT + 1]]), 10);
    for (let e = 11; e <= 10 + LOG_MOVES + 1; e++) log.move(token, e, e % 2, (e % 2) * SLOT + e);
    // Folded: the oldest half of the moves went into the base.
    expect(log.at(token, 10)).toBeUndefined();
    const e = 10 + LOG_MOVES;
    expect(log.at(token, e)).toEqual(new Map([[0, e], [1, SLOT + e - 1]]));
    expect(log.at('x'.repeat(16), e)).toBeUndefined();
    expect(MAX_LISTED).toBeLessThan(MAX_RESUME_SLOTS);
  });
});
