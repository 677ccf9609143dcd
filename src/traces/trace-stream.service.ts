// `GET /traces/stream`: stored traces as server-sent events, oldest first, as they are committed.
// It tails the trace table by id through the same read path as `GET /traces` (the reader worker,
// traces.service.ts), never through an in-process "trace stored" event: the writer may be another
// process (issue 19: API instances without a tracer, agents writing into one database), and a
// stream must see its traces all the same. One cheap query a tick (the newest id of all) tells
// whether anything was committed at all; only then does each stream run its own filtered query.
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ApiError } from '../common/api-error';
import type { TraceListQuery } from './trace-read-store';
import type { TraceJson } from './trace-record';
import { TraceFilter, TracesService } from './traces.service';

/** A look for a port's far passes since a trace id (PortArrivals.since, in paths/, which owns the link). */
export interface FarSince {
  /** The far passes found, oldest first, each marked `arrivedFrom`. */
  items: TraceJson[];
  /** The highest arrival id looked at: the next look goes on after it. */
  scannedTo: number;
  /** Arrivals whose sender is not stored (yet), or not traced near one: worth a retry while it may still come. */
  unlinked: number[];
}
export type FarPassesSince = (q: TraceListQuery, afterId: number, retry: readonly number[], limit: number, near: readonly number[]) => Promise<FarSince>;

/** The filters a stream takes: those of `GET /traces` that cost one indexed walk. */
export type StreamFilter = Pick<TraceFilter, 'logicalPort' | 'role' | 'verdict' | 'chassis' | 'sessionId'>;

export interface StreamOptions {
  /** How often the newest id is looked at. */
  pollMs: number;
  /** A comment line this often keeps proxies and idle-timeouts from closing a quiet stream. */
  heartbeatMs: number;
  maxStreams: number;
  /** Traces sent at most on one catch-up (a resume after a long gap): the rest is announced as a gap. */
  maxCatchUp: number;
  /**
   * Ids are given at insert but seen at commit: with several writers (PostgreSQL, issue 19) id 10
   * can become visible after id 11. Each poll looks again this far back in time and skips what it sent.
   */
  reorderMs: number;
}

export const STREAM_DEFAULTS: StreamOptions = { pollMs: 500, heartbeatMs: 15_000, maxStreams: 32, maxCatchUp: 500, reorderMs: 5000 };
const PAGE = 100;

interface Stream {
  filter: StreamFilter;
  res: Response;
  /** Highest id sent (or the start point). */
  lastId: number;
  /** Ids sent within the reorder window, with when: not sent again. */
  recent: Map<number, number>;
  /** For each poll within the reorder window that sent traces: when, and the highest id sent before it. */
  history: Array<{ at: number; floor: number }>;
  /** The newest id of all at this stream's last poll: nothing newer, nothing to look for. */
  seenNewest: number;
  busy: boolean;
  heartbeat: NodeJS.Timeout;
  /**
   * A port's stream (role any or inport): its packets' far passes, the passes on another chassis
   * of a packet the port sent that a router forwarded there (PortArrivals.since). Tunnel arrivals
   * are looked at once each, after `after`; one whose sender is not stored yet is looked at again
   * (`retry`, with when first seen) for the reorder window, then given up. `senders`: the port's
   * passes this stream sent that tunnelled (trace time, when seen): only arrivals traced near one
   * of them cost a link, so a port that sends nothing away costs no link at all.
   */
  far?: { after: number; retry: Map<number, number>; senders: Map<number, { at: number; seen: number }> };
}

/**
 * How long a port's pass that tunnelled is remembered as a possible sender (the stream's gate,
 * PortArrivals.since `near`), and at most how many; how many unlinked arrivals are retried.
 */
const SENDER_MEMORY_MS = 30_000;
const MAX_SENDERS = 1000;
const MAX_RETRY = 500;
/** Tunnel arrivals read at most by one look (rows only: the links it follows are bounded in PortArrivals.since). */
const FAR_LOOK = 1000;

@Injectable()
export class TraceStreamService implements BeforeApplicationShutdown {
  /** Tests shorten the clock; the service runs on the defaults. */
  static options: StreamOptions = STREAM_DEFAULTS;
  private readonly streams = new Set<Stream>();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly log = new Logger('TraceStream');
  private farPassesSince?: FarPassesSince;

  constructor(private readonly traces: TracesService) {}

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
    const page = await this.page(filter, undefined, 1);
    return page.items[0]?.id ?? 0;
  }

  private async page(filter: StreamFilter, cursor: number | undefined, limit: number): Promise<{ items: TraceJson[]; more: boolean }> {
    // The port's own rows: far passes are the stream's own look (poll), not the list's.
    const body = await this.traces.listJson({ ...filter, cursor, limit, withSteps: false }, { far: false });
    const parsed = JSON.parse(body.toString('utf8')) as { items: TraceJson[]; next: string | null };
    return { items: parsed.items, more: parsed.next !== null };
  }

  /**
   * Starts a stream on `res` after trace `lastEventId` (resume), or after the newest matching
   * trace now. Errors (unknown port, too many streams) are thrown before any byte is written, so
   * they answer in the API's one error shape.
   */
  async start(filter: StreamFilter, lastEventId: number | undefined, res: Response): Promise<void> {
    if (this.streams.size >= this.opts.maxStreams) {
      res.setHeader('Retry-After', '5');
      throw new ApiError(503, `${this.streams.size} trace streams are already open (at most ${this.opts.maxStreams}); close one or retry later`);
    }
    // Resolves the port (404 for an unknown one) and finds the start point in one query.
    const start = lastEventId ?? (await this.newest(filter));
    const newestAll = await this.newest({});
    if (res.destroyed) return;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    // Reverse proxies (nginx) would buffer the events otherwise.
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: 2000\n: after trace ${start}\n\n`);
    const stream: Stream = {
      filter,
      res,
      lastId: start,
      recent: new Map(),
      history: [],
      // A resume must look even when nothing new was committed since.
      seenNewest: lastEventId !== undefined ? -1 : newestAll,
      busy: false,
      heartbeat: setInterval(() => res.write(': heartbeat\n\n'), this.opts.heartbeatMs),
      far: filter.logicalPort !== undefined && filter.role !== 'outport' ? { after: lastEventId ?? newestAll, retry: new Map(), senders: new Map() } : undefined,
    };
    this.streams.add(stream);
    res.on('close', () => this.stop(stream));
    this.schedule();
    if (lastEventId !== undefined) this.poll(stream, newestAll).catch((err) => this.log.warn(`trace stream resume failed: ${err instanceof Error ? err.message : String(err)}`));
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
      const newestAll = await this.newest({});
      const now = Date.now();
      await Promise.all(
        [...this.streams].map((s) => {
          const inWindow = s.history.some((h) => now - h.at < this.opts.reorderMs);
          return newestAll > s.seenNewest || inWindow ? this.poll(s, newestAll) : undefined;
        }),
      );
    } catch (err) {
      // The reader restarting (503) or a query failing: the streams stay open and the next tick retries.
      this.log.warn(`trace stream poll failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.ticking = false;
    }
  }

  /** Sends, oldest first, the stream's traces committed since its last poll. */
  private async poll(s: Stream, newestAll: number): Promise<void> {
    // A client that does not read is not sent more (the socket's buffer would grow without bound).
    if (s.busy || s.res.writableNeedDrain || s.res.destroyed) return;
    s.busy = true;
    try {
      // Looked at again: everything above the highest id sent before the oldest poll of the window
      // (all of it was sent at that poll or later, so `recent` still has it).
      const now = Date.now();
      while (s.history.length && now - s.history[0].at >= this.opts.reorderMs) s.history.shift();
      const since = s.history[0]?.at ?? now;
      for (const [id, t] of s.recent) if (t < since) s.recent.delete(id);
      const floor = Math.min(s.lastId, s.history[0]?.floor ?? s.lastId);
      const found: TraceJson[] = [];
      let cursor: number | undefined;
      for (;;) {
        const { items, more } = await this.page(s.filter, cursor, PAGE);
        const fresh = items.filter((t) => t.id > floor);
        found.push(...fresh.filter((t) => !s.recent.has(t.id)));
        if (fresh.length < items.length || !more || found.length > this.opts.maxCatchUp) break;
        cursor = items[items.length - 1].id;
      }
      // Each arrival is looked at once (or retried while unlinked), so a far pass comes once, even below the floor.
      if (s.far) found.push(...(await this.farPasses(s, now, found)).filter((t) => !s.recent.has(t.id) && !found.some((x) => x.id === t.id)));
      found.sort((a, b) => b.id - a.id);
      if (s.res.destroyed) return;
      const gap = found.length > this.opts.maxCatchUp;
      found.reverse();
      const sent = gap ? found.slice(-this.opts.maxCatchUp) : found;
      if (gap) s.res.write(`event: gap\ndata: ${JSON.stringify({ after: s.lastId, before: sent[0]?.id ?? null, message: `more than ${this.opts.maxCatchUp} traces since ${s.lastId}: the oldest were skipped (GET /traces has them)` })}\n\n`);
      // After a gap, what was skipped stays skipped: the window starts at the newest skipped trace.
      if (sent.length) s.history.push({ at: now, floor: gap ? found[found.length - sent.length - 1].id : s.lastId });
      for (const t of sent) {
        s.res.write(`id: ${t.id}\nevent: trace\ndata: ${JSON.stringify(t)}\n\n`);
        s.recent.set(t.id, now);
        if (t.id > s.lastId) s.lastId = t.id;
      }
      s.seenNewest = Math.max(s.seenNewest, newestAll);
    } finally {
      s.busy = false;
    }
  }

  /**
   * The far passes among the arrivals stored since the last look, and those retried. An arrival
   * stored after its sender is sent (once its own commit is seen); one stored before its sender
   * is sent if the sender is stored within the reorder window (then out of id order, like a late
   * commit), else not (GET /traces?logical_port= lists it).
   */
  private async farPasses(s: Stream, now: number, own: readonly TraceJson[]): Promise<TraceJson[]> {
    const far = s.far!;
    for (const t of own) if (t.verdict.tunnels?.length) far.senders.set(t.id, { at: Date.parse(t.createdAt), seen: now });
    for (const [id, x] of far.senders) if (now - x.seen >= SENDER_MEMORY_MS || far.senders.size > MAX_SENDERS) far.senders.delete(id);
    for (const [id, at] of far.retry) if (now - at >= this.opts.reorderMs || far.retry.size > MAX_RETRY) far.retry.delete(id);
    const near = [...far.senders.values()].map((x) => x.at);
    if (!this.farPassesSince) return [];
    // The port as GET /traces resolves it (a UUID to its name), at each look: cheap, from the replicas.
    const portName = await this.traces.resolvePort(s.filter.logicalPort!);
    const q: TraceListQuery = { portName, role: s.filter.role, verdict: s.filter.verdict, chassis: s.filter.chassis, sessionId: s.filter.sessionId, limit: PAGE, withSteps: false };
    const r = await this.farPassesSince(q, far.after, [...far.retry.keys()], FAR_LOOK, near);
    far.after = Math.max(far.after, r.scannedTo);
    const waiting = new Set(r.unlinked);
    for (const id of far.retry.keys()) if (!waiting.has(id)) far.retry.delete(id);
    for (const id of r.unlinked) if (!far.retry.has(id)) far.retry.set(id, now);
    return r.items;
  }

  beforeApplicationShutdown(): void {
    for (const s of [...this.streams]) {
      this.stop(s);
      s.res.end();
    }
  }
}
