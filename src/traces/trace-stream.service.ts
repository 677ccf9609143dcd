// `GET /traces/stream`: stored traces as server-sent events, oldest first, as they are committed.
// It tails the trace table by id through the same read path as `GET /traces` (the reader worker,
// traces.service.ts), never through an in-process "trace stored" event: the writer may be another
// process (issue 19: API instances without a tracer, agents writing into one database), and a
// stream must see its traces all the same.
// Ids order commits only within one writer slot (storage/spool.ts: with PostgreSQL each agent and
// api instance writes from slot·2^40; SQLite is slot 0 alone), so a stream stands somewhere in each
// slot: per slot its floor (the highest id sent), the newest id it saw and its reorder window. One
// cheap statement a tick (the newest id of each slot, TraceStore.newestPerSlot: a loose index scan)
// tells which slots had a commit; only those (and those within their reorder window) are walked,
// each with the stream's filter newest first from the slot's top down to its floor (`above`: one
// range of trace's primary key; a port's by its time index, see walk), at most MAX_SLOTS_A_POLL
// slots a stream a tick (those waiting longest first; the rest at the next tick). A slot is the
// whole table on SQLite, so there it is the one walk it was.
// The SSE id is the stream's position in every slot (stream-position.ts), so a resume gets each
// slot's traces since, once.
import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { Response } from 'express';
import { ApiError } from '../common/api-error';
import { formatLogged, formatPosition, listedCount, listedOf, type LoggedPosition, MAX_LISTED, mergeByTime, startPoints } from './stream-position';
import { StreamPositionLog } from './stream-position-log';
import type { TracePosition } from '../common/query';
import type { TraceListQuery } from './trace-read-store';
import type { TraceJson } from './trace-record';
import { StreamSlotTimes } from './stream-slot-times';
import { slotBase, slotOf } from './trace-slot-store';
import { TraceStore } from './trace-store';
import { TraceFilter, TracesService } from './traces.service';
import { type FarLook, type FarPassesSince, lookFarPasses, newFarLook } from './stream-far-passes';

export type { FarPassesSince, FarSince, IdRange } from './stream-far-passes';

/** The filters a stream takes: those of `GET /traces` that cost one indexed walk. */
export type StreamFilter = Pick<TraceFilter, 'logicalPort' | 'role' | 'verdict' | 'chassis' | 'sessionId'>;

export interface StreamOptions {
  /** How often the newest ids are looked at. */
  pollMs: number;
  /** A comment line this often keeps proxies and idle-timeouts from closing a quiet stream. */
  heartbeatMs: number;
  maxStreams: number;
  /** Traces sent at most on one catch-up of a slot (a resume after a long gap): the rest is announced as a gap. */
  maxCatchUp: number;
  /**
   * Ids are given at insert but seen at commit: with several writers (PostgreSQL, issue 19) id 10
   * can become visible after id 11. Each poll looks again this far back in time and skips what it sent.
   */
  reorderMs: number;
}

export const STREAM_DEFAULTS: StreamOptions = { pollMs: 500, heartbeatMs: 15_000, maxStreams: 32, maxCatchUp: 500, reorderMs: 5000 };
const PAGE = 100;
/**
 * Writer slots one stream walks at most a tick (each one filtered query, more pages only for a
 * catch-up): thousands of chassis committing at once cost a stream 16 walks a tick, 32 streams
 * 512, and a slot waits a few ticks more. Those waiting longest go first.
 */
export const MAX_SLOTS_A_POLL = 16;

/** Where a stream stands in one writer slot. */
interface SlotState {
  /** Highest id sent (or the start point). */
  lastId: number;
  /** Every id up to this was walked at least the reorder window ago: no walk looks below it again. */
  doneTo: number;
  /** The walks within the reorder window: when, and the slot's newest id they walked up to. */
  walks: Array<{ at: number; top: number }>;
  /** Ids sent within the reorder window, with when: not sent again. */
  recent: Map<number, number>;
  /** For each poll within the reorder window that sent traces: when, and the highest id sent before it. */
  history: Array<{ at: number; floor: number }>;
  /** The slot's newest id at this stream's last walk of it (-1: walk it now): nothing newer, nothing to look for. */
  seenNewest: number;
  /** When it was last walked: the bound takes those waiting longest first. */
  polledAt: number;
  /** Far passes: tunnel arrivals of this slot are looked at after this id. */
  farAfter: number;
  /** A walk's gap: the newest trace it skipped, where the window starts. */
  skippedTo?: number;
}

interface Stream {
  filter: StreamFilter;
  res: Response;
  /** Events sent (the start is 0). */
  seq: number;
  /** Past MAX_LISTED slots: the stream's log, which its ids name (stream-position-log.ts). */
  token?: string;
  slots: Map<number, SlotState>;
  busy: boolean;
  heartbeat: NodeJS.Timeout;
  /** A port's stream (role any or inport): its look for far passes (stream-far-passes.ts). */
  far?: FarLook;
}

const newSlot = (lastId: number, seenNewest: number): SlotState => ({ lastId, doneTo: lastId, walks: [], recent: new Map(), history: [], seenNewest, polledAt: 0, farAfter: lastId });

/** Where a slot's walk ends below: the window's (see walk), or what was walked a reorder window ago. */
const floorOf = (st: SlotState): number => Math.max(Math.min(st.lastId, st.history[0]?.floor ?? st.lastId), st.doneTo);

@Injectable()
export class TraceStreamService implements BeforeApplicationShutdown {
  /** Tests shorten the clock; the service runs on the defaults. */
  static options: StreamOptions = STREAM_DEFAULTS;
  private readonly streams = new Set<Stream>();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly log = new Logger('TraceStream');
  private farPassesSince?: FarPassesSince;
  /** Positions too long to send, by stream (stream-position-log.ts). */
  private readonly positions = new StreamPositionLog();
  /** Where a port's walk starts in time, per slot (stream-slot-times.ts); none in unit tests without a store. */
  private readonly slotTimes?: StreamSlotTimes;

  constructor(
    private readonly traces: TracesService,
    // Optional for unit tests (a fake of the list only); the type alone would not name the provider.
    @Optional() @Inject(TraceStore) private readonly store?: Pick<TraceStore, 'newestPerSlot'> & Partial<Pick<TraceStore, 'resumeFloors' | 'earliestIn'>>,
  ) {
    const read = store?.earliestIn?.bind(store);
    if (read) this.slotTimes = new StreamSlotTimes(read);
  }

  /** Set by the paths feature, which builds on this one (a routed packet's far passes need its links). */
  useFarPasses(f: FarPassesSince): void {
    this.farPassesSince = f;
  }

  get open(): number {
    return this.streams.size;
  }

  private get opts(): StreamOptions {
    return TraceStreamService.options;
  }

  /** The newest trace id matching `filter` (all traces without one), 0 when there is none. */
  private async newest(filter: StreamFilter): Promise<number> {
    const page = await this.page(filter, {}, 1);
    return page.items[0]?.id ?? 0;
  }

  /** Writer slot → its newest id (without the store, as in unit tests: the newest of all, one slot). */
  private async newestPerSlot(): Promise<Map<number, number>> {
    if (this.store) return this.store.newestPerSlot();
    const n = await this.newest({});
    return n ? new Map([[slotOf(n), n]]) : new Map();
  }

  private async page(filter: StreamFilter, at: { cursor?: number; above?: number; since?: string; before?: TracePosition }, limit: number): Promise<{ items: TraceJson[]; more: boolean }> {
    // The port's own rows: far passes are the stream's own look (poll), not the list's.
    const body = await this.traces.listJson({ ...filter, ...at, limit, withSteps: false }, { far: false });
    const parsed = JSON.parse(body.toString('utf8')) as { items: TraceJson[]; next: string | null };
    return { items: parsed.items, more: parsed.next !== null };
  }

  /**
   * Starts a stream on `res` after `from` (a Last-Event-ID, parsed: slot → id, or a logged
   * position), or after each slot's newest trace now. Errors (unknown port, too many streams) are
   * thrown before any byte is written, so they answer in the API's one error shape.
   */
  async start(filter: StreamFilter, from: ReadonlyMap<number, number> | LoggedPosition | undefined, res: Response): Promise<void> {
    if (this.streams.size >= this.opts.maxStreams) {
      res.setHeader('Retry-After', '5');
      throw new ApiError(503, `${this.streams.size} trace streams are already open (at most ${this.opts.maxStreams}); close one or retry later`);
    }
    // A 404 for an unknown port, before any byte is written.
    if (filter.logicalPort !== undefined) await this.traces.resolvePort(filter.logicalPort);
    // A logged position this service still holds is exact; elsewhere its trace id is a plain one.
    const point = from !== undefined && 'token' in from ? from : undefined;
    const logged = point && this.positions.at(point.token, point.seq);
    const resume = !point ? (from as ReadonlyMap<number, number> | undefined) : logged ? listedOf(logged) : new Map([[slotOf(point.anchor), point.anchor]]);
    const newest = await this.newestPerSlot();
    // A plain trace id says where its slot stood, not the others: they resume from its trace time
    // (a reorder window earlier: writers' clocks differ), so none of their traces since is missed.
    const byTime = resume?.size === 1 && this.store?.resumeFloors ? await this.store.resumeFloors([...resume.values()][0], this.opts.reorderMs, newest) : undefined;
    if (res.destroyed) return;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // Reverse proxies (nginx) would buffer the events otherwise.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    const starts = startPoints(newest, resume, byTime);
    const stream: Stream = {
      filter,
      res,
      seq: 0,
      // A resume must look even when nothing new was committed since.
      slots: new Map([...starts].map(([slot, id]) => [slot, newSlot(id, resume ? -1 : (newest.get(slot) ?? -1))])),
      busy: false,
      heartbeat: setInterval(() => res.write(': heartbeat\n\n'), this.opts.heartbeatMs),
      far: filter.logicalPort !== undefined && filter.role !== 'outport' ? newFarLook() : undefined,
    };
    res.write(`retry: 2000\n: after trace ${this.positionOf(stream, Math.max(0, ...starts.values()))}\n\n`);
    this.streams.add(stream);
    res.on('close', () => this.stop(stream));
    this.schedule();
    if (resume) this.poll(stream, newest).catch((err) => this.log.warn(`trace stream resume failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  private stop(s: Stream): void {
    clearInterval(s.heartbeat);
    this.streams.delete(s);
    if (!this.streams.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.opts.pollMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.ticking || !this.streams.size) return;
    this.ticking = true;
    try {
      const newest = await this.newestPerSlot();
      await Promise.all([...this.streams].map((s) => this.poll(s, newest)));
      this.pruneSlotTimes();
    } catch (err) {
      // The reader restarting (503) or a query failing: the streams stay open and the next tick retries.
      this.log.warn(`trace stream poll failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.ticking = false;
    }
  }

  /** The slots to walk now: a commit since the last walk, or within the reorder window; bounded, longest waiting first. */
  private due(s: Stream, newest: ReadonlyMap<number, number>, now: number): number[] {
    // A slot the stream has not met is a writer's first traces: all of them are new.
    for (const slot of newest.keys()) if (!s.slots.has(slot)) s.slots.set(slot, newSlot(slotBase(slot), -1));
    const due: number[] = [];
    for (const [slot, st] of s.slots) {
      const top = newest.get(slot);
      const window = st.history.some((h) => now - h.at < this.opts.reorderMs);
      // Nothing above its floor (a resumed slot with nothing new): seen without a walk, which the bound keeps for others.
      if (top !== undefined && top > st.seenNewest && top <= floorOf(st) && !window) st.seenNewest = top;
      else if ((top !== undefined && top > st.seenNewest) || window) due.push(slot);
    }
    return due.sort((a, b) => s.slots.get(a)!.polledAt - s.slots.get(b)!.polledAt).slice(0, MAX_SLOTS_A_POLL);
  }

  /** Sends, oldest first per slot, the stream's traces committed since its last walk of each due slot. */
  private async poll(s: Stream, newest: ReadonlyMap<number, number>): Promise<void> {
    // A client that does not read is not sent more (the socket's buffer would grow without bound).
    if (s.busy || s.res.writableNeedDrain || s.res.destroyed) return;
    const now = Date.now();
    const due = this.due(s, newest, now);
    // Unlinked arrivals are retried at a walk too, never on their own: a quiet store costs nothing.
    if (!due.length) return;
    s.busy = true;
    try {
      const lists = new Map<number, TraceJson[]>();
      const gaps: string[] = [];
      for (const slot of due) {
        const { found, gap } = await this.walk(s, slot, now, newest.get(slot) ?? s.slots.get(slot)!.seenNewest);
        lists.set(slot, found);
        if (gap) gaps.push(gap);
      }
      // Each arrival is looked at once (or retried while unlinked), so a far pass comes once, even below a floor.
      const far = s.far ? await this.farPasses(s, now, [...lists.values()].flat(), due, newest) : [];
      for (const t of far) {
        if (lists.get(slotOf(t.id))?.some((x) => x.id === t.id) || s.slots.get(slotOf(t.id))?.recent.has(t.id)) continue;
        if (!lists.has(slotOf(t.id))) lists.set(slotOf(t.id), []);
        lists.get(slotOf(t.id))!.push(t);
      }
      if (s.res.destroyed) return;
      for (const g of gaps) s.res.write(g);
      const sent = mergeByTime([...lists.values()].map((l) => l.sort((a, b) => a.id - b.id)));
      const before = new Map([...lists.keys()].map((slot) => [slot, s.slots.get(slot)!.lastId]));
      for (const t of sent) {
        const slot = slotOf(t.id);
        const st = s.slots.get(slot)!;
        st.recent.set(t.id, now);
        // A far pass moves its slot's floor only where a walk passed it: this poll's, or, for an
        // arrival retried, the walk that first saw it (else own rows below it wait). Then the
        // position holds it, and a resume by it does not look at the arrival again.
        const walkedTo = due.includes(slot) ? Math.max(st.seenNewest, newest.get(slot) ?? 0) : st.seenNewest;
        s.seq++;
        if (t.id > st.lastId && (!t.arrivedFrom || t.id <= walkedTo)) {
          st.lastId = t.id;
          if (s.token) this.positions.move(s.token, s.seq, slot, t.id);
        }
        // A far pass its slot's floor did not reach is not where a plain id may resume that slot from.
        const anchor = t.arrivedFrom && st.lastId < t.id && st.lastId > slotBase(slot) ? st.lastId : t.id;
        s.res.write(`id: ${this.positionOf(s, anchor)}\nevent: trace\ndata: ${JSON.stringify(t)}\n\n`);
      }
      for (const [slot, floor] of before) {
        const st = s.slots.get(slot)!;
        // After a gap, what was skipped stays skipped: the window starts at the newest skipped trace.
        if (lists.get(slot)!.length) st.history.push({ at: now, floor: st.skippedTo ?? floor });
        delete st.skippedTo;
      }
      for (const slot of due) {
        const st = s.slots.get(slot)!;
        st.walks.push({ at: now, top: newest.get(slot) ?? st.seenNewest });
        st.seenNewest = Math.max(st.seenNewest, newest.get(slot) ?? -1);
        st.polledAt = now;
      }
    } finally {
      s.busy = false;
    }
  }

  private lastIds(s: Stream): Map<number, number> {
    return new Map([...s.slots].map(([slot, st]) => [slot, st.lastId]));
  }

  /**
   * The stream's id at its event now (`anchor`: the event's trace, or the newest at the start):
   * every slot listed, or past MAX_LISTED slots its log's token (kept from then on: a stream's
   * slots only grow) with the trace id, which alone stands for a plain id where the log is unknown.
   */
  private positionOf(s: Stream, anchor: number): string {
    if (!s.token) {
      const ids = this.lastIds(s);
      if (listedCount(ids) <= MAX_LISTED) return formatPosition(ids);
      s.token = this.positions.open(ids, s.seq);
    }
    return formatLogged({ anchor, token: s.token, seq: s.seq });
  }

  /**
   * The stream's traces in `slot` with ids in (floor, top], newest first; at most maxCatchUp of
   * them, with the gap event when more were missed. The floor: the highest id sent before the
   * oldest poll of the reorder window (all of it was sent at that poll or later, so `recent` still
   * has it), or, when higher, the slot's newest id at a walk a reorder window ago (a quiet port's
   * stream would read ever more of a busy slot). Without a port, a range of trace's primary key;
   * with one, the port's time index (it has none by id) from the earliest trace time among the
   * slot's ids above the floor (StreamSlotTimes, read not guessed: times are not monotonic in id),
   * the ids a filter: the same traces as by id.
   */
  private async walk(s: Stream, slot: number, now: number, top: number): Promise<{ found: TraceJson[]; gap?: string }> {
    const st = s.slots.get(slot)!;
    while (st.history.length && now - st.history[0].at >= this.opts.reorderMs) st.history.shift();
    while (st.walks.length && now - st.walks[0].at >= this.opts.reorderMs) st.doneTo = Math.max(st.doneTo, st.walks.shift()!.top);
    const since = st.history[0]?.at ?? now;
    for (const [id, t] of st.recent) if (t < since) st.recent.delete(id);
    const floor = floorOf(st);
    const found: TraceJson[] = [];
    if (top <= floor) return { found };
    let from: string | undefined;
    if (s.filter.logicalPort !== undefined && this.slotTimes) {
      const at = await this.slotTimes.earliest(slot, floor, top);
      if (at === null) return { found };
      from = at;
    }
    const range: { cursor: number; above: number; since?: string; before?: TracePosition } = { cursor: top + 1, above: floor, since: from };
    for (;;) {
      const { items, more } = await this.page(s.filter, range, PAGE);
      const fresh = items.filter((t) => t.id > floor);
      found.push(...fresh.filter((t) => !st.recent.has(t.id)));
      if (fresh.length < items.length || !more || found.length > this.opts.maxCatchUp) break;
      const last = items[items.length - 1];
      // By time the next page is below the last one's position; by id below its id.
      if (from !== undefined) range.before = { at: last.createdAt, id: last.id };
      else range.cursor = last.id;
    }
    if (found.length <= this.opts.maxCatchUp) return { found };
    // Newest first by id (a port's walk found them by time): the oldest are skipped, all below those sent.
    found.sort((a, b) => b.id - a.id);
    const kept = found.slice(0, this.opts.maxCatchUp);
    const first = kept[kept.length - 1];
    st.skippedTo = found[this.opts.maxCatchUp].id;
    const gap = `event: gap\ndata: ${JSON.stringify({ after: st.lastId, before: first.id, message: `more than ${this.opts.maxCatchUp} traces since ${st.lastId}: the oldest were skipped (GET /traces has them)` })}\n\n`;
    return { found: kept, gap };
  }

  /** Forgets the slot times no port's stream needs (below every such stream's floor in a slot). */
  private pruneSlotTimes(): void {
    if (!this.slotTimes) return;
    const floors = new Map<number, number>();
    for (const s of this.streams) {
      if (s.filter.logicalPort === undefined) continue;
      for (const [slot, st] of s.slots) floors.set(slot, Math.min(floors.get(slot) ?? Infinity, floorOf(st)));
    }
    this.slotTimes.prune(floors);
  }

  /** The far passes of the port's packets among the arrivals since the last look (stream-far-passes.ts). */
  private farPasses(s: Stream, now: number, own: readonly TraceJson[], due: readonly number[], newest: ReadonlyMap<number, number>): Promise<TraceJson[]> {
    const f = s.filter;
    const query = async (): Promise<TraceListQuery> => ({
      // The port as GET /traces resolves it (a UUID to its name), at each look: cheap, from the replicas.
      portName: await this.traces.resolvePort(f.logicalPort!),
      role: f.role,
      verdict: f.verdict,
      chassis: f.chassis,
      sessionId: f.sessionId,
      limit: PAGE,
      withSteps: false,
    });
    return lookFarPasses(s.far!, this.farPassesSince, query, { slots: s.slots, now, reorderMs: this.opts.reorderMs, own, due, newest });
  }

  beforeApplicationShutdown(): void {
    for (const s of [...this.streams]) {
      this.stop(s);
      s.res.end();
    }
  }
}
