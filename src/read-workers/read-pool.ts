// The main thread's side of the reader threads (read-worker.ts): hands them `GET /traces` queries and
// the audits and gets back their JSON bodies, so the event loop that polls vswitchd, stores traces
// and runs the HTTP edge only resolves the port (or checks OVN for an uncited row) and sends bytes. A worker that dies (or hangs past
// QUERY_TIMEOUT_MS) answers its queries 503 and is started again; queries beyond MAX_WAITING a
// worker answer 503 at once rather than queue without bound.
import { Logger } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApiError } from '../common/api-error';
import type { LivetraceConfig } from '../config/config.schema';
import type { AuditAnswer, AuditQuery } from '../logical-flows/logical-flow-store';
import type { StoreService } from '../storage/store.service';
import type { TraceListQuery } from '../traces/trace-read-store';
import type { ReadJob, ReadReply, ReadRequest, ReadSource, ReadWorkerData } from './read-worker';

const MAX_WAITING = 64;
const QUERY_TIMEOUT_MS = 60_000;
/** A worker that dies sooner than this after its start is restarted after a growing delay. */
const QUICK_DEATH_MS = 2000;

/** A thread's answer: the body, and for an audit whether its row was cited. */
interface Answer {
  body: Buffer;
  cited?: boolean;
}

interface Waiting {
  kind: ReadJob['kind'];
  resolve(a: Answer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The reader itself not there to answer: its thread restarting, or gone (a crash) while it held the
 * query. Not a query it gave up (its database's error) nor one that took over QUERY_TIMEOUT_MS (most
 * likely a database that went silent): what the main thread may answer another way (TracesService's
 * port probe), where after those a second read of the same database would only wait again.
 */
class ReaderAway extends ApiError {
  constructor(message: string) {
    super(503, message);
  }
}

/** One reader thread and the queries it holds. */
export class ReadWorker {
  private worker?: Worker;
  /** The thread this side ended because a query of it took too long (its queries did not meet a crash). */
  private hung?: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;
  private startedAt = 0;
  private backoffMs = 0;
  private restartTimer?: NodeJS.Timeout;
  /** Threads started so far (1 + restarts). */
  starts = 0;
  /** Queries this thread answered with a body, by kind: what the tests see the audits' route by. */
  readonly served: Record<ReadJob['kind'], number> = { traces: 0, audit: 0 };
  private readonly log = new Logger('ReadWorker');

  constructor(private readonly data: ReadWorkerData) {
    this.start();
  }

  /** Queries sent and not answered yet: the pool gives the next one to the least busy worker. */
  get busy(): number {
    return this.waiting.size;
  }

  private start(): void {
    this.restartTimer = undefined;
    // Under ts-node or jest the sources are .ts: the worker registers a TypeScript hook itself,
    // ts-node's unless LIVETRACE_TS_REGISTER names another (the tests' swc one: ts-node hands
    // every file to TypeScript, ~2.5 s of CPU a thread start on a 2-core CI machine).
    const ts = __filename.endsWith('.ts');
    const entry = join(__dirname, `read-worker.${ts ? 'ts' : 'js'}`);
    const opts = { workerData: this.data };
    const register = process.env.LIVETRACE_TS_REGISTER || 'ts-node/register/transpile-only';
    const w = ts
      ? new Worker(`require(${JSON.stringify(register)}); require(${JSON.stringify(entry)});`, { ...opts, eval: true })
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
      if ('body' in m) {
        this.served[q.kind]++;
        q.resolve({ body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength), cited: m.cited });
      } else q.reject(replyError(m));
    });
    w.on('error', (err) => this.log.error(`trace reader worker failed: ${err.message}`));
    w.on('exit', (code) => this.exited(w, code));
  }

  private exited(w: Worker, code: number): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    const away = this.hung !== w;
    this.hung = undefined;
    for (const [id, q] of this.waiting) {
      clearTimeout(q.timer);
      const message = 'the trace reader stopped while answering this query; retry';
      q.reject(away ? new ReaderAway(message) : new ApiError(503, `${message} (a query it held took over ${QUERY_TIMEOUT_MS / 1000} s)`));
      this.waiting.delete(id);
    }
    if (this.closed) return;
    this.backoffMs = Date.now() - this.startedAt < QUICK_DEATH_MS ? Math.min(30_000, Math.max(500, this.backoffMs * 2)) : 0;
    this.log.error(`trace reader worker exited (code ${code}); restarting${this.backoffMs ? ` in ${this.backoffMs} ms` : ''}`);
    this.restartTimer = setTimeout(() => this.start(), this.backoffMs);
    this.restartTimer.unref();
  }

  /** The response body of `job`: JSON, UTF-8. */
  run(job: ReadJob): Promise<Answer> {
    const w = this.worker;
    if (this.closed || !w) return Promise.reject(new ReaderAway('the trace reader is restarting; retry in a moment'));
    if (this.waiting.size >= MAX_WAITING) return Promise.reject(new ApiError(503, `${MAX_WAITING} trace queries are already waiting; retry later`));
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      // A query that never answers (a hung worker) would hold its connection forever.
      const timer = setTimeout(() => {
        this.log.error(`trace query ${id} took over ${QUERY_TIMEOUT_MS} ms; restarting the trace reader`);
        this.hung = w;
        void w.terminate();
      }, QUERY_TIMEOUT_MS);
      this.waiting.set(id, { kind: job.kind, resolve, reject, timer });
      w.postMessage({ id, job } satisfies ReadRequest);
    });
  }

  kill(): Promise<number> | undefined {
    return this.worker?.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.worker?.terminate();
  }
}

/**
 * The worker's error as this thread's: its code kept, so a lost PostgreSQL is still the API's 503
 * (storeUnreachable, common/api-error.ts) and not an internal error.
 */
function replyError(m: { error: string; code?: string }): Error {
  const err = new Error(m.code ? m.error : `trace query failed: ${m.error}`) as Error & { code?: string };
  if (m.code) err.code = m.code;
  return err;
}

/**
 * How many reader threads, from LIVETRACE_READ_WORKERS: `auto` is none for an agent (it serves no
 * query), one beside a tracer (role all: the tracer comes first), and for an api instance, whose
 * work the reads are, one a core but the one left to the HTTP edge, 1 to 4. More threads than
 * cores only add the hand-over's cost (bench/api/RESULTS-postgres.md).
 */
export function readWorkerCount(config: Pick<LivetraceConfig, 'LIVETRACE_READ_WORKERS' | 'LIVETRACE_ROLE'>, cores = availableParallelism()): number {
  const v = config.LIVETRACE_READ_WORKERS;
  if (v !== 'auto') return v;
  if (config.LIVETRACE_ROLE === 'agent') return 0;
  return config.LIVETRACE_ROLE === 'api' ? Math.max(1, Math.min(4, cores - 1)) : 1;
}

/**
 * Whether the audits go to the reader threads too, from LIVETRACE_READ_WORKER_AUDITS: `auto` is yes
 * on SQLite, where the event loop was what bounded them (a 2-core api at 8 connections: 1.37-1.57× the
 * requests/s, p50 -22 to -43 %), and no on PostgreSQL, where the api, its server and the client share
 * the cores and the hand-off only added CPU (p99 +25-30 % on 2 cores; bench/api/RESULTS-postgres.md,
 * stop 20).
 */
export function auditsInThreads(config: Pick<LivetraceConfig, 'LIVETRACE_READ_WORKER_AUDITS'>, postgres: boolean): boolean {
  const v = config.LIVETRACE_READ_WORKER_AUDITS;
  return v === 'auto' ? !postgres : v;
}

/** Where the workers read: the SQLite file (none for ':memory:'), or PostgreSQL, not the spool. */
function sourceOf(storage: StoreService, config: LivetraceConfig, workers: number): ReadSource | undefined {
  if (storage.central) return { postgres: config.LIVETRACE_DB, poolSize: Math.max(2, Math.ceil(config.LIVETRACE_PG_POOL / workers)) };
  if (storage.db.memory || !storage.db.name) return undefined;
  return { sqlite: storage.db.name };
}

/** The reader threads of `GET /traces` and the audits; each query goes to the worker holding the fewest. */
export class ReadPool {
  private constructor(private readonly workers: ReadWorker[]) {}

  /** The pool for this process, or undefined when pages are read on the main thread (no file, 0 workers). */
  static open(storage: StoreService, config: LivetraceConfig): ReadPool | undefined {
    const n = readWorkerCount(config);
    const source = n > 0 ? sourceOf(storage, config, n) : undefined;
    if (!source) return undefined;
    const lowPriority = config.LIVETRACE_ROLE !== 'api';
    return new ReadPool(Array.from({ length: n }, () => new ReadWorker({ source, lowPriority })));
  }

  get size(): number {
    return this.workers.length;
  }

  /** Threads started so far, restarts included. */
  get starts(): number {
    return this.workers.reduce((n, w) => n + w.starts, 0);
  }

  /** Queries answered by the threads, by kind, restarts included. */
  get served(): Record<ReadJob['kind'], number> {
    return { traces: this.workers.reduce((n, w) => n + w.served.traces, 0), audit: this.workers.reduce((n, w) => n + w.served.audit, 0) };
  }

  /** `GET /traces`'s body for `query`. */
  async list(query: TraceListQuery): Promise<Buffer> {
    return (await this.run({ kind: 'traces', query })).body;
  }

  /** Whether `err` (of list or audit) is the reader itself not there: ReaderAway, not the database's failure. */
  away(err: unknown): boolean {
    return err instanceof ReaderAway;
  }

  /** An audit's body, and whether its row was cited. */
  async audit(audit: AuditQuery): Promise<AuditAnswer<Buffer>> {
    const a = await this.run({ kind: 'audit', audit });
    return { body: a.body, cited: a.cited === true };
  }

  private run(job: ReadJob): Promise<Answer> {
    let best = this.workers[0];
    for (const w of this.workers) if (w.busy < best.busy) best = w;
    return best.run(job);
  }

  /** For tests: ends the first worker as a crash would. */
  kill(): Promise<number> | undefined {
    return this.workers[0].kill();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
