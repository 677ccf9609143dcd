// `GET /traces/stream`: stored traces as server-sent events, oldest first, as they are committed.
// It tails the trace table by id through the same read path as `GET /traces` (the reader worker,
// traces.service.ts), never through an in-process "trace stored" event: the writer may be another
// process (issue 19: API instances without a tracer, agents writing into one database), and a
// stream must see its traces all the same. One cheap query a tick (the newest id of all) tells
// whether anything was committed at all; only then does each stream run its own filtered query.
import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ApiError } from '../common/api-error';
import type { TraceJson } from './trace-record';
import { TraceFilter, TracesService } from './traces.service';

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
}

@Injectable()
export class TraceStreamService implements BeforeApplicationShutdown {
  /** Tests shorten the clock; the service runs on the defaults. */
  static options: StreamOptions = STREAM_DEFAULTS;
  private readonly streams = new Set<Stream>();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly log = new Logger('TraceStream');

  constructor(private readonly traces: TracesService) {}

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
    const body = await this.traces.listJson({ ...filter, cursor, limit, withSteps: false });
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

  beforeApplicationShutdown(): void {
    for (const s of [...this.streams]) {
      this.stop(s);
      s.res.end();
    }
  }
}
