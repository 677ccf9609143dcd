// The one writer of the process. better-sqlite3 is synchronous, so a transaction that contains
// no `await` cannot interleave with anything else on the connection (concurrent TypeORM
// transactions on one better-sqlite3 handle corrupt each other). Work is queued, run in chunks of
// one transaction each, and the event loop gets a turn between chunks so the API keeps
// answering. The queue is bounded: a source that outruns the disk waits (backpressure) instead
// of growing memory without limit. A submitted job's promise settles only after its commit.
import type { Database, Statement } from 'better-sqlite3';

export type WriteJob<T> = (tx: WriteContext) => T;

/**
 * Statements of one connection, each prepared once and found again by its SQL text: the writer's,
 * and each store's on the read connection (a page of 50 traces runs 50 port queries).
 */
export class Statements {
  private readonly cache = new Map<string, Statement>();

  constructor(private readonly db: Database) {}

  get(sql: string): Statement {
    let s = this.cache.get(sql);
    if (!s) this.cache.set(sql, (s = this.db.prepare(sql)));
    return s;
  }
}

/** What a store's write gets inside the transaction: statements, never the connection itself. */
export interface WriteContext {
  /** A prepared statement, cached by its SQL text. */
  stmt(sql: string): Statement;
  /**
   * State shared by the jobs of the current transaction (e.g. rows to coalesce): created on first
   * use under `key`, handed to `flush` inside the transaction just before COMMIT, dropped on
   * rollback. Lets many jobs write one coalesced row instead of one each.
   */
  shared<T>(key: object, create: () => T, flush: (tx: WriteContext, state: T) => void): T;
}

interface Queued {
  job: WriteJob<unknown>;
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** When a chunk of it first found the write lock held (performance.now()); cleared once a chunk of it took the lock, and as it runs under it. */
  lockSince?: number;
}

/**
 * Another process holding the write lock (several agents or an api and an agent on one file, a
 * hand-run migration). better-sqlite3 is synchronous: a BEGIN IMMEDIATE that waits the connection's
 * busy timeout (5 s) stops the whole event loop that long (no API answer, no /health, no source
 * read). So the lock is asked for with a busy timeout of LOCK_SLICE_MS only (begin()); a
 * chunk that did not get it goes back to the queue's head and asks again LOCK_PAUSE_MS later, the
 * event loop turning meanwhile. Its jobs fail SQLITE_BUSY, for their callers to retry or report,
 * once they have waited LOCK_WAIT_MS: ~15 s of another's lock, as when the wait was three attempts
 * of the 5 s busy timeout 1 s apart.
 */
export const LOCK_SLICE_MS = 25;
export const LOCK_PAUSE_MS = 50;
export const LOCK_WAIT_MS = 15_000;

export interface WriterStats {
  queued: number;
  committedJobs: number;
  failedJobs: number;
  transactions: number;
  waitingProducers: number;
}

/**
 * Writes failing for a reason of the store, not of one job (a full disk, an I/O error, a file made
 * read-only, another process's lock past LOCK_WAIT_MS): SQLite still answers reads meanwhile, so this
 * is how /health learns of it. Cleared by the next commit.
 */
export interface WriteFailure {
  code: string;
  message: string;
  /** When the first of these failures came (RFC 3339). */
  since: string;
  /** When the latest came (epoch ms): a word older than FAILING_MS says nothing of writes now. */
  lastAt: number;
  jobs: number;
}

/**
 * How long a store failure keeps /health down with no write failing since. Cleared by a commit, but a
 * quiet process (an api instance writes seldom) would otherwise say down for good once the disk has
 * room again: a readiness probe would keep it out of service, where nobody can ask it to write.
 */
export const FAILING_MS = 60_000;

export class StoreWriter {
  private queue: Queued[] = [];
  private running = false;
  private closed = false;
  private readonly statements: Statements;
  private readonly ctx: WriteContext;
  private readonly chunkEnd: Array<(tx: WriteContext) => void> = [];
  private readonly chunkRan: Array<(tx: WriteContext) => void> = [];
  private readonly rollbackListeners: Array<() => void> = [];
  /** The transaction in progress (spanTurns: it may outlive one drain). */
  private open?: { started: number; jobs: Array<{ q: Queued; result: unknown }> };
  private txShared = new Map<object, { state: unknown; flush: (tx: WriteContext, state: unknown) => void }>();
  private spaceWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  /** No chunk before this (performance.now()): the write lock was held by another process. */
  private pausedUntil = 0;
  readonly stats: WriterStats = { queued: 0, committedJobs: 0, failedJobs: 0, transactions: 0, waitingProducers: 0 };
  /** Set while writes fail for a reason of the store (see WriteFailure); undefined once one commits. Read through failingNow(). */
  private failing?: WriteFailure;

  constructor(
    readonly db: Database,
    private readonly opts: {
      chunkSize?: number;
      maxQueue?: number;
      maxChunkMs?: number;
      /** Keep a transaction open across event-loop turns: only when nothing reads through `db`. */
      spanTurns?: boolean;
      maxTxMs?: number;
      /** The pause before a chunk that found the lock held is tried again (LOCK_PAUSE_MS). */
      lockPauseMs?: number;
      /** How long a job waits for a lock another process holds before it fails (LOCK_WAIT_MS). */
      lockWaitMs?: number;
    } = {},
  ) {
    this.statements = new Statements(db);
    this.ctx = {
      stmt: (sql) => this.statements.get(sql),
      shared: <T>(key: object, create: () => T, flush: (tx: WriteContext, state: T) => void): T => {
        let e = this.txShared.get(key);
        if (!e) this.txShared.set(key, (e = { state: create(), flush: flush as (tx: WriteContext, state: unknown) => void }));
        return e.state as T;
      },
    };
  }

  private get chunkSize(): number {
    return this.opts.chunkSize ?? 500;
  }

  private get maxChunkMs(): number {
    return this.opts.maxChunkMs ?? 50;
  }

  private get maxTxMs(): number {
    return this.opts.maxTxMs ?? 1000;
  }

  private get maxQueue(): number {
    return this.opts.maxQueue ?? 20_000;
  }

  /** Queues a job; resolves with its result once its transaction has committed. */
  async submit<T>(job: WriteJob<T>): Promise<T> {
    if (this.closed) throw new Error('the store writer is closed');
    while (this.queue.length >= this.maxQueue) {
      this.stats.waitingProducers++;
      await new Promise<void>((r) => this.spaceWaiters.push(r));
      this.stats.waitingProducers--;
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ job, resolve: resolve as (v: unknown) => void, reject });
      this.stats.queued = this.queue.length;
      if (!this.running) {
        this.running = true;
        setImmediate(() => this.drain());
      }
    });
  }

  /**
   * Work run at the end of every transaction, inside it (e.g. coalesced UPDATEs that many jobs
   * asked for). It must not throw on good data: a throw replays the chunk job by job.
   */
  onChunkEnd(fn: (tx: WriteContext) => void): void {
    this.chunkEnd.push(fn);
  }

  /**
   * Work run after each chunk of jobs, inside its transaction, whether it commits now or stays open
   * across turns (spanTurns: up to maxTxMs); and after a job replayed alone. It sees the chunk's
   * writes: what must follow them chunk by chunk (the spool's backlog while PostgreSQL is away,
   * shipper.ts) without a query each job. It must not throw (a throw replays the chunk job by job).
   */
  onChunkRan(fn: (tx: WriteContext) => void): void {
    this.chunkRan.push(fn);
  }

  /** Resolves when everything queued so far has been committed. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    await this.idle();
    this.closed = true;
  }

  private drain(): void {
    const paused = this.pausedUntil - performance.now();
    if (paused > 0) return void setTimeout(() => this.drain(), paused);
    const chunk = this.queue.splice(0, this.chunkSize);
    if (chunk.length || this.open) this.runChunk(chunk);
    this.stats.queued = this.queue.length;
    for (const w of this.spaceWaiters.splice(0, this.maxQueue - this.queue.length)) w();
    if (this.queue.length || this.open) {
      setImmediate(() => this.drain());
      return;
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Called after a transaction rolled back: whoever caches row ids assigned inside write jobs
   * (the trace store's rule/snapshot/object ids) must forget them, or later rows would point at
   * rows that were never committed.
   */
  onRollback(fn: () => void): void {
    this.rollbackListeners.push(fn);
  }

  private rolledBack(): void {
    this.txShared.clear();
    for (const fn of this.rollbackListeners) fn();
  }

  /**
   * The chunk hooks (onChunkRan), then a check that the transaction is still open: SQLite ends it
   * itself on SQLITE_IOERR, NOMEM or FULL, and a hook (or job) that swallowed such an error would
   * leave the next statements to autocommit one by one, then the failed COMMIT replay them: written
   * twice (test/integration/storage/writer.spec.ts). A throw here replays the chunk in transactions.
   */
  private chunkRanHooks(): void {
    for (const fn of this.chunkRan) fn(this.ctx);
    if (!this.db.inTransaction) throw new Error('the transaction ended inside the chunk (SQLite rolled it back on an error a job or hook did not pass on): replayed');
  }

  /** Everything that waits for the end of the transaction, inside it. */
  private endOfTransaction(): void {
    for (const [key, e] of this.txShared) {
      this.txShared.delete(key);
      e.flush(this.ctx, e.state);
    }
    for (const fn of this.chunkEnd) fn(this.ctx);
  }

  /**
   * Runs jobs for at most maxChunkMs, then gives the event loop a turn. The transaction is
   * committed then too, unless the store reads through another connection (spanTurns): then it
   * stays open across turns while work is queued, up to maxTxMs, and its jobs settle at its
   * COMMIT. Each commit writes every page the transaction touched to the WAL; a transaction of
   * 50 ms wrote the same hot index pages ~20 times a second (bench/api/RESULTS.md).
   */
  private runChunk(taken: Queued[]): void {
    let done = 0;
    let requeued = false;
    try {
      if (!this.open) {
        this.begin();
        this.open = { started: performance.now(), jobs: [] };
        for (const q of taken) q.lockSince = undefined;
      }
      const tx = this.open;
      const t0 = performance.now();
      for (const q of taken) {
        // Run under the lock: a wait it meets later is a new one (LOCK_WAIT_MS), whichever chunk of a
        // transaction kept open (spanTurns) it ran in, not only the chunk that began it.
        q.lockSince = undefined;
        const result = q.job(this.ctx);
        tx.jobs.push({ q, result });
        done++;
        if (performance.now() - t0 >= this.maxChunkMs) break;
      }
      if (done) this.chunkRanHooks();
      if (done < taken.length) {
        this.queue.unshift(...taken.slice(done));
        this.stats.queued = this.queue.length;
        requeued = true;
      }
      const keepOpen = this.opts.spanTurns && this.queue.length > 0 && performance.now() - tx.started < this.maxTxMs;
      if (keepOpen) return;
      this.endOfTransaction();
      this.db.exec('COMMIT');
      this.open = undefined;
      this.stats.transactions++;
      this.stats.committedJobs += tx.jobs.length;
      this.failing = undefined;
      for (const j of tx.jobs) j.q.resolve(j.result);
    } catch (err) {
      // Replay what this transaction held: its completed jobs, the one that threw and the rest
      // of the chunk (unless they went back to the queue before the throw).
      const replay = [...(this.open?.jobs.map((j) => j.q) ?? []), ...(requeued ? [] : taken.slice(done))];
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.open = undefined;
      this.rolledBack();
      // The lock another process holds (SQLITE_BUSY at BEGIN IMMEDIATE): a replay job by job would
      // ask for it again for each. The chunk goes back to the queue's head and waits.
      if (isLocked(err)) return this.lockHeld(replay, err as Error);
      // One bad job must not lose the others: replay them one transaction each (a lock found held
      // meanwhile sends the rest back, for the reason above).
      for (const [i, q] of replay.entries()) {
        try {
          this.begin();
          q.lockSince = undefined;
          let r: unknown;
          try {
            r = q.job(this.ctx);
            this.chunkRanHooks();
            this.endOfTransaction();
            this.db.exec('COMMIT');
          } catch (e) {
            if (this.db.inTransaction) this.db.exec('ROLLBACK');
            throw e;
          }
          this.stats.committedJobs++;
          this.failing = undefined;
          q.resolve(r);
        } catch (e) {
          this.rolledBack();
          if (isLocked(e)) return this.lockHeld(replay.slice(i), e as Error);
          this.failed(e);
          q.reject(e as Error);
        }
      }
    }
  }

  /**
   * Every transaction of the writer starts here. IMMEDIATE: the write lock is taken at BEGIN (a
   * deferred BEGIN that reads first fails at once with SQLITE_BUSY_SNAPSHOT when another process
   * committed in between), asked for LOCK_SLICE_MS at most (see LOCK_WAIT_MS). Once it is held,
   * COMMIT cannot meet SQLITE_BUSY in WAL mode (the frames are appended under the lock; the
   * automatic checkpoint after it is PASSIVE and its result ignored), so it keeps the connection's
   * busy timeout, as reads and every other statement do.
   */
  private begin(): void {
    const own = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma(`busy_timeout = ${Math.min(own, LOCK_SLICE_MS)}`);
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } finally {
      this.db.pragma(`busy_timeout = ${own}`);
    }
  }

  private failed(err: unknown): void {
    this.stats.failedJobs++;
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !STORE_FAILURE.test(code)) return;
    const at = Date.now();
    if (this.failing?.code === code && at - this.failing.lastAt < FAILING_MS) Object.assign(this.failing, { jobs: this.failing.jobs + 1, lastAt: at });
    else this.failing = { code, message: (err as Error).message, since: new Date(at).toISOString(), lastAt: at, jobs: 1 };
  }

  /** The store failure writes met within FAILING_MS, if any (see WriteFailure). */
  failingNow(): WriteFailure | undefined {
    return this.failing && Date.now() - this.failing.lastAt < FAILING_MS ? this.failing : undefined;
  }

  /** A chunk that found the write lock held (LOCK_WAIT_MS): back to the queue's head, or failed. */
  private lockHeld(jobs: Queued[], err: Error): void {
    const now = performance.now();
    const again: Queued[] = [];
    for (const q of jobs) {
      q.lockSince ??= now;
      if (now - q.lockSince < (this.opts.lockWaitMs ?? LOCK_WAIT_MS)) again.push(q);
      else {
        this.failed(err);
        q.reject(err);
      }
    }
    this.queue.unshift(...again);
    this.stats.queued = this.queue.length;
    if (again.length) this.pausedUntil = now + (this.opts.lockPauseMs ?? LOCK_PAUSE_MS);
  }
}

/** SQLite's codes of a failure of the store itself, whatever the job (not a constraint one row violates). */
const STORE_FAILURE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|NOLFS|PERM|BUSY|LOCKED)(_|$)/;

/** SQLite's answer when another connection holds the lock past the busy timeout (better-sqlite3's SqliteError code). */
function isLocked(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}
