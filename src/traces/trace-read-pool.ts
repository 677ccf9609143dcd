// The main thread's side of the trace reader worker (trace-read-worker.ts): hands it `GET /traces`
// queries and gets back their JSON bodies, so the event loop that polls vswitchd and stores traces
// only resolves the port and sends bytes. If the worker dies (or hangs past QUERY_TIMEOUT_MS), the
// queries it held answer 503 and it is started again; queries beyond MAX_WAITING answer 503 at once
// rather than queue without bound.
import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApiError } from '../common/api-error';
import type { TraceListQuery } from './trace-read-store';
import type { ReadReply, ReadRequest } from './trace-read-worker';

const MAX_WAITING = 64;
const QUERY_TIMEOUT_MS = 60_000;
/** A worker that dies sooner than this after its start is restarted after a growing delay. */
const QUICK_DEATH_MS = 2000;

interface Waiting {
  resolve(body: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class TraceReadWorker {
  private worker?: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;
  private startedAt = 0;
  private backoffMs = 0;
  private restartTimer?: NodeJS.Timeout;
  /** Workers started so far (1 + restarts). */
  starts = 0;
  private readonly log = new Logger('TraceReadWorker');

  constructor(private readonly file: string) {
    this.start();
  }

  private start(): void {
    this.restartTimer = undefined;
    // Under ts-node or jest the sources are .ts: the worker registers ts-node itself.
    const ts = __filename.endsWith('.ts');
    const entry = join(__dirname, `trace-read-worker.${ts ? 'ts' : 'js'}`);
    const opts = { workerData: { file: this.file } };
    const w = ts
      ? new Worker(`require('ts-node/register/transpile-only'); require(${JSON.stringify(entry)});`, { ...opts, eval: true })
      : new Worker(entry, opts);
    w.unref();
    this.worker = w;
    this.startedAt = Date.now();
    this.starts++;
    w.on('message', (m: ReadReply) => {
      const q = this.waiting.get(m.id);
      if (!q) return;
      this.waiting.delete(m.id);
      clearTimeout(q.timer);
      if ('body' in m) q.resolve(Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
      else q.reject(new Error(`trace query failed: ${m.error}`));
    });
    w.on('error', (err) => this.log.error(`trace reader worker failed: ${err.message}`));
    w.on('exit', (code) => this.exited(w, code));
  }

  private exited(w: Worker, code: number): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    for (const [id, q] of this.waiting) {
      clearTimeout(q.timer);
      q.reject(new ApiError(503, 'the trace reader stopped while answering this query; retry'));
      this.waiting.delete(id);
    }
    if (this.closed) return;
    this.backoffMs = Date.now() - this.startedAt < QUICK_DEATH_MS ? Math.min(30_000, Math.max(500, this.backoffMs * 2)) : 0;
    this.log.error(`trace reader worker exited (code ${code}); restarting${this.backoffMs ? ` in ${this.backoffMs} ms` : ''}`);
    this.restartTimer = setTimeout(() => this.start(), this.backoffMs);
    this.restartTimer.unref();
  }

  /** The response body of `GET /traces` for `query`: JSON, UTF-8. */
  list(query: TraceListQuery): Promise<Buffer> {
    const w = this.worker;
    if (this.closed || !w) return Promise.reject(new ApiError(503, 'the trace reader is restarting; retry in a moment'));
    if (this.waiting.size >= MAX_WAITING) return Promise.reject(new ApiError(503, `${MAX_WAITING} trace queries are already waiting; retry later`));
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      // A query that never answers (a hung worker) would hold its connection forever.
      const timer = setTimeout(() => {
        this.log.error(`trace query ${id} took over ${QUERY_TIMEOUT_MS} ms; restarting the trace reader`);
        void w.terminate();
      }, QUERY_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer });
      w.postMessage({ id, query } satisfies ReadRequest);
    });
  }

  /** For tests: ends the worker as a crash would. */
  kill(): Promise<number> | undefined {
    return this.worker?.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.worker?.terminate();
  }
}
