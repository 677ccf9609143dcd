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
// index range), at most MAX_SLOTS_A_POLL slots a stream a tick (those waiting longest first; the
// rest at the next tick). A slot is the whole table on SQLite, so there it is the one walk it was.
// The SSE id is the stream's position in every slot (stream-position.ts, which also says where a
// resume starts in each slot), so a resume gets each slot's traces since, once. A port's stream also sends its packets' far passes, found from tunnel
// arrivals: stream-far-look.ts.
import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { Response } from 'express';
import { ApiError } from '../common/api-error';
import { FarLook, type FarPassesSince } from './stream-far-look';
import { mergeByTime, positionOf, positionsOf, streamStart } from './stream-position';
import type { TraceListQuery } from './trace-read-store';
import type { TraceJson } from './trace-record';
import { slotBase, slotOf } from './trace-slot-store';
import { TraceStore } from './trace-store';
import { TraceFilter, TracesService } from './traces.service';

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
  /**
   * A client that has not taken what was written to it (no drain) this long is let go, to resume by
   * Last-Event-ID: kept, a suspended tab or a stopped pager held one of maxStreams for good.
   */
  stallMs: number;
}

/**
 * A stream not to write to: its connection gone, or ended by a stop's HTTP drain (common/http-drain.ts)
 * while its 'close' waits for the client to read what was buffered (a write then is an 'error' no one
 * hears: the process would end mid-stop).
 */
const ended = (res: Response): boolean => res.destroyed || res.writableEnded;

export const STREAM_DEFAULTS: StreamOptions = { pollMs: 500, heartbeatMs: 15_000, maxStreams: 32, maxCatchUp: 500, reorderMs: 5000, stallMs: 60_000 };
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
  /** No unsent trace of the slot is traced before this (ms; 0 unknown): the anchored position's time. */
  coveredFrom: number;
  /** coveredFrom as its walks alone have it: an arrival retried (`far`) holds coveredFrom back to its `pin`. */
  walkedFrom: number;
  /** When the stream last sent one of its traces (ms), 0 never. */
  sentAt: number;
}

interface Stream {
  filter: StreamFilter;
  res: Response;
  slots: Map<number, SlotState>;
  /** When the newest ids last applied were read (ms): a slot met later had no trace then. */
  readAt: number;
  busy: boolean;
  heartbeat: NodeJS.Timeout;
  /** Since when its socket has held more than it takes, with no drain since (ms); undefined while it takes all. */
  stalledAt?: number;
  /** A port's stream (role any or inport): its packets' far passes (stream-far-look.ts). */
  far?: FarLook;
}

const newSlot = (lastId: number, seenNewest: number, coveredFrom: number): SlotState => ({ lastId, recent: new Map(), history: [], seenNewest, polledAt: 0, farAfter: lastId, coveredFrom, walkedFrom: coveredFrom, sentAt: 0 });

@Injectable()
export class TraceStreamService implements BeforeApplicationShutdown {
  /** Tests shorten the clock; the service runs on the defaults. */
  static options: StreamOptions = STREAM_DEFAULTS;
  private readonly streams = new Set<Stream>();
  /** Starts past the bound's check and not yet open or failed: they hold a place under maxStreams. */
  private starting = 0;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly log = new Logger('TraceStream');
  private farPassesSince?: FarPassesSince;

  constructor(
    private readonly traces: TracesService,
    // Optional for unit tests (a fake of the list only); the type alone would not name the provider.
    @Optional() @Inject(TraceStore) private readonly store?: Pick<TraceStore, 'newestPerSlot'> & Partial<Pick<TraceStore, 'resumeFloors' | 'floorsAt'>>,
  ) {}

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
    const page = await this.page(filter, undefined, undefined, 1);
    return page.items[0]?.id ?? 0;
  }

  /** Writer slot → its newest id (without the store, as in unit tests: the newest of all, one slot). */
  private async newestPerSlot(): Promise<Map<number, number>> {
    if (this.store) return this.store.newestPerSlot();
    const n = await this.newest({});
    return n ? new Map([[slotOf(n), n]]) : new Map();
  }

  private async page(filter: StreamFilter, cursor: number | undefined, above: number | undefined, limit: number): Promise<{ items: TraceJson[]; more: boolean }> {
    // The port's own rows: far passes are the stream's own look (poll), not the list's.
    const body = await this.traces.listJson({ ...filter, cursor, above, limit, withSteps: false }, { far: false, sessionKnown: true });
    const parsed = JSON.parse(body.toString('utf8')) as { items: TraceJson[]; next: string | null };
    return { items: parsed.items, more: parsed.next !== null };
  }

  /**
   * Starts a stream on `res` after `resume` (a Last-Event-ID, parsed: slot → id), or after each
   * slot's newest trace now. Errors (unknown port, too many streams) are thrown before any byte is
   * written, so they answer in the API's one error shape.
   */
  async start(filter: StreamFilter, resume: ReadonlyMap<number, number> | undefined, res: Response): Promise<void> {
    // Starts still awaiting the store count toward the bound: checked against open streams alone,
    // every start arriving while the first awaited passed (40 open against 32 on PostgreSQL).
    const taken = this.streams.size + this.starting;
    if (taken >= this.opts.maxStreams) {
      res.setHeader('Retry-After', '5');
      throw new ApiError(503, `${taken} trace streams are already open or opening (at most ${this.opts.maxStreams}); close one or retry later`);
    }
    this.starting++;
    try {
      await this.begin(filter, resume, res);
    } finally {
      // Released on every way out: opened (then it is in `streams`), refused (404), failed, or the client gone.
      this.starting--;
    }
  }

  private async begin(filter: StreamFilter, resume: ReadonlyMap<number, number> | undefined, res: Response): Promise<void> {
    // A 404 for an unknown port or session, before any byte is written.
    if (filter.logicalPort !== undefined) await this.traces.resolvePort(filter.logicalPort);
    if (filter.sessionId !== undefined) await this.traces.mustHaveSession(filter.sessionId);
    // Before the read: a commit it does not see comes after this time.
    const readAt = Date.now();
    const newest = await this.newestPerSlot();
    const { starts, coveredFrom } = await streamStart(newest, resume, readAt, this.opts.reorderMs, this.store);
    if (ended(res)) return;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // Reverse proxies (nginx) would buffer the events otherwise.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    const stream: Stream = {
      filter,
      res,
      // A resume must look even when nothing new was committed since.
      slots: new Map([...starts].map(([slot, id]) => [slot, newSlot(id, resume ? -1 : (newest.get(slot) ?? -1), coveredFrom(slot))])),
      readAt,
      busy: false,
      heartbeat: setInterval(() => this.beat(stream), this.opts.heartbeatMs),
      far: filter.logicalPort !== undefined && filter.role !== 'outport' ? new FarLook() : undefined,
    };
    res.write(`retry: 2000\n: after trace ${this.position(stream)}\n\n`);
    this.streams.add(stream);
    res.on('close', () => this.stop(stream));
    res.on('drain', () => (stream.stalledAt = undefined));
    this.schedule();
    if (resume) this.poll(stream, newest, readAt).catch((err) => this.log.warn(`trace stream resume failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  /** Keeps a quiet stream open through idle timeouts; one whose client does not read is not quiet (stallMs). */
  private beat(s: Stream): void {
    if (ended(s.res)) return this.stop(s);
    if (!s.res.writableNeedDrain) {
      s.stalledAt = undefined;
      s.res.write(': heartbeat\n\n');
      return;
    }
    const now = Date.now();
    s.stalledAt ??= now;
    if (now - s.stalledAt < this.opts.stallMs) return;
    this.log.warn(`trace stream let go: its client did not take what was written to it in ${Math.round((now - s.stalledAt) / 1000)} s (it resumes by Last-Event-ID)`);
    this.stop(s);
    s.res.destroy();
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
      const readAt = Date.now();
      const newest = await this.newestPerSlot();
      await Promise.all([...this.streams].map((s) => this.poll(s, newest, readAt)));
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
    for (const slot of newest.keys()) if (!s.slots.has(slot)) s.slots.set(slot, newSlot(slotBase(slot), -1, s.readAt - this.opts.reorderMs));
    const due: number[] = [];
    for (const [slot, st] of s.slots) {
      const top = newest.get(slot);
      // A far look short of the slot's last walk goes on at the next walk, a commit or not.
      if ((top !== undefined && top > st.seenNewest) || st.history.some((h) => now - h.at < this.opts.reorderMs) || s.far?.behind(st, st.seenNewest)) due.push(slot);
    }
    return due.sort((a, b) => s.slots.get(a)!.polledAt - s.slots.get(b)!.polledAt).slice(0, MAX_SLOTS_A_POLL);
  }

  /** Sends, oldest first per slot, the stream's traces committed since its last walk of each due slot. */
  private async poll(s: Stream, newest: ReadonlyMap<number, number>, readAt: number): Promise<void> {
    // A client that does not read is not sent more (the socket's buffer would grow without bound).
    if (ended(s.res)) return this.stop(s);
    if (s.busy || s.res.writableNeedDrain) return;
    const now = Date.now();
    const due = this.due(s, newest, now);
    // Unlinked arrivals are retried at a walk too, never on their own: a quiet store costs nothing.
    if (!due.length) return this.caughtUp(s, newest, readAt);
    s.busy = true;
    try {
      const lists = new Map<number, TraceJson[]>();
      const gaps: string[] = [];
      for (const slot of due) {
        const { found, gap } = await this.walk(s, slot, now);
        lists.set(slot, found);
        if (gap) gaps.push(gap);
      }
      // Each arrival is looked at once (or retried while unlinked), so a far pass comes once, even below a floor.
      const far = s.far ? await s.far.look({ now, own: [...lists.values()].flat(), due, newest, slots: s.slots, reorderMs: this.opts.reorderMs, query: () => this.farQuery(s.filter), since: this.farPassesSince }) : [];
      for (const t of far) {
        if (lists.get(slotOf(t.id))?.some((x) => x.id === t.id) || s.slots.get(slotOf(t.id))?.recent.has(t.id)) continue;
        if (!lists.has(slotOf(t.id))) lists.set(slotOf(t.id), []);
        lists.get(slotOf(t.id))!.push(t);
      }
      if (ended(s.res)) return this.stop(s);
      for (const g of gaps) s.res.write(g);
      const sent = mergeByTime([...lists.values()].map((l) => l.sort((a, b) => a.id - b.id)));
      const before = new Map([...lists.keys()].map((slot) => [slot, s.slots.get(slot)!.lastId]));
      for (const t of sent) s.slots.get(slotOf(t.id))!.sentAt = now;
      // Chosen once for the poll's events (stream-position.ts positionsOf), not at each over every slot.
      const position = sent.length ? positionsOf(s.slots, new Set(sent.map((t) => slotOf(t.id)))) : () => '';
      for (const t of sent) {
        const slot = slotOf(t.id);
        const st = s.slots.get(slot)!;
        st.recent.set(t.id, now);
        // A far pass moves its slot's floor only where a walk passed it: this poll's, or, for an
        // arrival retried, the walk that first saw it (else own rows below it wait). Then the
        // position holds it, and a resume by it does not look at the arrival again.
        const walkedTo = due.includes(slot) ? Math.max(st.seenNewest, newest.get(slot) ?? 0) : st.seenNewest;
        if (t.id > st.lastId && (!t.arrivedFrom || t.id <= walkedTo)) st.lastId = t.id;
        s.res.write(`id: ${position()}\nevent: trace\ndata: ${JSON.stringify(t)}\n\n`);
      }
      for (const [slot, floor] of before) {
        const st = s.slots.get(slot)!;
        // After a gap, what was skipped stays skipped: the window starts at the newest skipped trace.
        if (lists.get(slot)!.length) st.history.push({ at: now, floor: st.skippedTo ?? floor });
        delete st.skippedTo;
      }
      for (const slot of due) {
        const st = s.slots.get(slot)!;
        st.seenNewest = Math.max(st.seenNewest, newest.get(slot) ?? -1);
        st.polledAt = now;
      }
      this.caughtUp(s, newest, readAt);
    } finally {
      s.busy = false;
    }
  }

  /**
   * Slots walked to their newest id read at `readAt`: what is unsent was committed after the read,
   * so traced at most a reorder window before it. One still waiting (MAX_SLOTS_A_POLL) keeps its cover,
   * so does one whose far look has not reached its walked id (FarLook.behind: arrivals not looked
   * at, committed before the read), and one holding an arrival retried (unsent, committed before the
   * read): a resume from a later time would not look at them again, and their far passes are lost.
   */
  private caughtUp(s: Stream, newest: ReadonlyMap<number, number>, readAt: number): void {
    s.readAt = Math.max(s.readAt, readAt);
    const pins = s.far?.pins() ?? new Map<number, number>();
    for (const [slot, st] of s.slots) {
      if ((newest.get(slot) ?? -1) <= st.seenNewest && !s.far?.behind(st, st.seenNewest)) st.walkedFrom = Math.max(st.walkedFrom, readAt - this.opts.reorderMs);
      st.coveredFrom = Math.min(st.walkedFrom, pins.get(slot) ?? Infinity);
    }
  }

  /** The port as GET /traces resolves it (a UUID to its name), at each look: cheap, from the replicas. */
  private async farQuery(f: StreamFilter): Promise<TraceListQuery> {
    const portName = await this.traces.resolvePort(f.logicalPort!);
    return { portName, role: f.role, verdict: f.verdict, chassis: f.chassis, sessionId: f.sessionId, limit: PAGE, withSteps: false };
  }

  /** The SSE id (stream-position.ts): bounded by the anchored form past MAX_LISTED_SLOTS slots. */
  private position(s: Stream): string {
    return positionOf(s.slots);
  }

  /**
   * The stream's traces in `slot` above its floor (the highest id sent before the oldest poll of the
   * window: all of it was sent at that poll or later, so `recent` still has it), newest first from
   * the slot's top; at most maxCatchUp of them, with the gap event when more were missed.
   */
  private async walk(s: Stream, slot: number, now: number): Promise<{ found: TraceJson[]; gap?: string }> {
    const st = s.slots.get(slot)!;
    while (st.history.length && now - st.history[0].at >= this.opts.reorderMs) st.history.shift();
    const since = st.history[0]?.at ?? now;
    for (const [id, t] of st.recent) if (t < since) st.recent.delete(id);
    const floor = Math.min(st.lastId, st.history[0]?.floor ?? st.lastId);
    const found: TraceJson[] = [];
    let cursor = slotBase(slot + 1);
    for (;;) {
      const { items, more } = await this.page(s.filter, cursor, floor, PAGE);
      const fresh = items.filter((t) => t.id > floor);
      found.push(...fresh.filter((t) => !st.recent.has(t.id)));
      if (fresh.length < items.length || !more || found.length > this.opts.maxCatchUp) break;
      cursor = items[items.length - 1].id;
    }
    if (found.length <= this.opts.maxCatchUp) return { found };
    // Newest first: the oldest are skipped.
    const kept = found.slice(0, this.opts.maxCatchUp);
    const first = kept[kept.length - 1];
    st.skippedTo = found[this.opts.maxCatchUp].id;
    const gap = `event: gap\ndata: ${JSON.stringify({ after: st.lastId, before: first.id, message: `more than ${this.opts.maxCatchUp} traces since ${st.lastId}: the oldest were skipped (GET /traces has them)` })}\n\n`;
    return { found: kept, gap };
  }

  beforeApplicationShutdown(): void {
    for (const s of [...this.streams]) {
      this.stop(s);
      s.res.end();
    }
  }
}
