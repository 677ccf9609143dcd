// Copies the spool's changed rows to PostgreSQL (issue 19), one transaction a batch: a claimed
// range's new rows by binary COPY, logged rows by INSERT … ON CONFLICT (key) DO UPDATE. The spool is the agent's bounded
// local queue: while PostgreSQL is away the agent goes on tracing into it, /health and the metrics
// say so, and the backlog is shipped when it comes back. A change is forgotten (its ship_log entry
// deleted) only after PostgreSQL committed it, so a restart of either side loses nothing that the
// spool had accepted; shipping a row twice writes the same row. Most rows (a trace's, its ports,
// path, flow) are not logged one by one: they are shipped by range of a high-water mark (spool.ts,
// installTriggers), claimed through the writer before it is read, advanced after PostgreSQL commits;
// rows travel column-wise (ship-sql.ts). What a batch carries is read by ship-batch.ts.
import { Logger } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { inTransaction, SILENT_MS, withClient } from './pg-client';
import { stillOurs } from './slot-claim';
import { highestOwn, markKeys, type ShippedTable } from './spool';
import { SpoolBacklog } from './ship-backlog';
import { claimRanges } from './ship-claim';
import { readBatch, type ShipLogEntry } from './ship-batch';
import { ShipBudget } from './ship-read';
import { reported, type ReshipState, reshipPruned } from './ship-pruned';
import { ShipStop } from './ship-stop';
import { SyncWaiters } from './ship-waiters';
import { pullSessions } from './ship-sessions';
import { type ShippedWord, type SpoolMoment, TracedThrough } from './ship-synced';
import { columnTypes, copyFresh, remove, upsert } from './ship-sql';
import { Statements, type StoreWriter, type WriteContext } from './writer';

export interface ShipperOptions {
  /** Changes per PostgreSQL transaction. */
  batch: number;
  /** And at most this many bytes of their values (ship-read.ts rowBytes); one row larger than it still ships, alone. */
  batchBytes?: number;
  /** Backlog (changes waiting) at which the spool is full: sources drop new traces and count them. Passed by at most one writer chunk while PostgreSQL is away (countChunk). */
  maxBacklog: number;
  /** Pause when there is nothing to ship, and the first retry delay after an error. */
  idleMs: number;
  /** A connection silent this long with a statement of ours on it is given up (default SILENT_MS). */
  silentMs?: number;
  /**
   * Awaited before each batch and session pull: PostgreSQL's schema brought up to date once it
   * answers, for a process that started while it was away (central.ts). Rejects while it is away.
   */
  ready?: () => Promise<void>;
}

export interface ShipperState extends ReshipState {
  /** PostgreSQL answered the last attempt. */
  up: boolean;
  backlog: number;
  full: boolean;
  /**
   * Traces the tracer dropped because the spool was full: their one count, which /health
   * (traceDropped.spoolFull) and /metrics (livetrace_traces_total{outcome="dropped_spool_full"}, and
   * livetrace_ship_dropped_total, the same under its older name) read.
   */
  dropped: number;
  shippedRows: number;
  batches: number;
  lastShippedAt: string | null;
  lastError: string | null;
  since: string | null;
}

/** How often the active sessions are copied from PostgreSQL into the spool. */
const PULL_EVERY_MS = 500;
/**
 * How often the backlog (and the bound the sources drop by) is counted again while an attempt waits:
 * counted only as one ended, an agent whose schema step waited minutes for another process's
 * migration lock wrote on past its bound, nothing dropped, /health's backlog standing still
 * (test/postgres/ship-bound-waiting.spec.ts).
 */
const BACKLOG_EVERY_MS = 1000;

export class Shipper {
  readonly state: ShipperState = { up: false, backlog: 0, full: false, dropped: 0, shippedRows: 0, batches: 0, lastShippedAt: null, lastError: null, since: null, reshipFailures: 0, reshipError: null };
  private readonly tables: Map<string, ShippedTable>;
  private readonly statements: Statements;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  /** The stop (ship-stop.ts): its bounded last flush, and the abandon signal of what waits on PostgreSQL. */
  private readonly stopper = new ShipStop({
    halt: () => {
      this.stopped = true;
      clearTimeout(this.timer);
      return this.running;
    },
    shipAll: async () => {
      while ((await this.shipSome()) > 0);
    },
    flushed: () => {
      this.waiters.rejectAll(new Error('the shipper stopped'));
    },
  });
  private retryMs: number;
  private readonly waiters = new SyncWaiters();
  private pulledAt = 0;
  private readonly log = new Logger('Shipper');
  /** Tables shipped by range, with their marks as committed in the spool's meta. */
  private readonly marked: ShippedTable[] = [];
  private readonly marks = new Map<string, { shipped: number; claim: number }>();
  /** PostgreSQL's column types, for the arrays the rows travel in. */
  private readonly pgTypes = new Map<string, string[]>();
  /** The last batch stopped at its byte bound: more is waiting now (the loop goes on without its pause). */
  private cut = false;
  /**
   * The last batch read range rows and was cut: its logged rows had only what the ranges left. The
   * next batch claims no new range before it starts, so they get a whole budget (the first row always
   * goes): else, while the agent writes, a logged row larger than what every new range leaves waited for good.
   */
  private loggedTurn = false;
  private readonly traced: TracedThrough;
  /** Counted whole by attempts, chunk by chunk by the writer while PostgreSQL is away (ship-backlog.ts). */
  private readonly backlog: SpoolBacklog;

  constructor(
    /** A read connection on the spool (committed state). */
    private readonly spool: Database,
    private readonly writer: StoreWriter,
    private readonly pool: Pool,
    tables: ShippedTable[],
    private readonly opts: ShipperOptions,
    /** This writer's slot: pulled rows must not move its id sequences into another's range. */
    private readonly slot?: number,
  ) {
    this.tables = new Map(tables.map((t) => [t.name, t]));
    // The fixed statements, prepared once: the loop runs them every idle turn (100 ms).
    this.statements = new Statements(spool);
    this.traced = new TracedThrough(this.statements, slot);
    this.retryMs = opts.idleMs;
    if (slot !== undefined) {
      const meta = this.statements.get('SELECT value FROM meta WHERE key = ?');
      for (const t of tables) {
        if (!t.mark) continue;
        const k = markKeys(t.name);
        const shipped = meta.get(k.shipped) as { value: string } | undefined;
        const claim = meta.get(k.claim) as { value: string } | undefined;
        // No marks (triggers installed without a slot): its triggers log every row.
        if (!shipped || !claim) continue;
        this.marked.push(t);
        this.marks.set(t.name, { shipped: Number(shipped.value), claim: Number(claim.value) });
      }
    }
    this.backlog = new SpoolBacklog(this.state, opts.maxBacklog, this.marked, slot);
    this.refreshBacklog();
    writer.onChunkRan((tx) => this.countChunk(tx));
    writer.onRollback(() => this.backlog.forget());
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops shipping, then ships what the spool holds within STOP_FLUSH_MS (ship-stop.ts); a later call ships again within it. */
  stop(): Promise<void> {
    return this.stopper.stop();
  }

  /** Resolves once every change committed to the spool so far is in PostgreSQL (read-your-writes). */
  synced(timeoutMs = 10_000): Promise<void> {
    // Stopped: the stop ships what it can (flush); nothing more leaves the spool in this process's life (the next start ships it).
    if (this.stopped) return Promise.resolve();
    const row = this.statements.get('SELECT MAX(seq) AS s FROM ship_log').get() as { s: number | null };
    const tops = this.marked.map((t): [string, number] => [t.name, this.top(t)]).filter(([name, top]) => top > this.marks.get(name)!.shipped);
    if (row.s === null && !tops.length) return Promise.resolve();
    const waiting = this.waiters.wait({ seq: row.s ?? -1, tops }, timeoutMs, () =>
      `PostgreSQL has not taken this process's last writes within ${timeoutMs} ms (${this.state.backlog} changes waiting${this.state.lastError ? `: ${this.state.lastError}` : ''})`,
    );
    this.schedule(0);
    return waiting;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.running) return this.schedule(this.opts.idleMs);
      this.running = this.loop().finally(() => (this.running = undefined));
    }, ms);
    this.timer.unref();
  }

  private async loop(): Promise<void> {
    // Not once stopped: the spool's read connection closes after the stop, an abandoned attempt may settle later.
    const counting = setInterval(() => void (!this.stopped && this.refreshBacklog()), BACKLOG_EVERY_MS);
    counting.unref();
    try {
      let n: number;
      do n = await this.shipSome();
      while ((n >= this.opts.batch || this.cut) && !this.stopped);
      if (Date.now() - this.pulledAt >= PULL_EVERY_MS) await this.pullSessions();
      if (!this.state.up) this.log.log('PostgreSQL is back: shipping resumed');
      this.state.up = true;
      this.state.lastError = null;
      this.retryMs = this.opts.idleMs;
      this.schedule(this.opts.idleMs);
    } catch (err) {
      this.refreshBacklog();
      // Given up by the stop (halt), not a PostgreSQL gone away.
      if (this.stopped) return;
      this.noteDown((err as Error).message);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
      this.schedule(this.retryMs);
    } finally {
      clearInterval(counting);
    }
  }

  /** PostgreSQL did not answer (the shipper's own attempt, or /health's ping): down since the first miss. */
  noteDown(reason: string): void {
    // From now on the writer counts the backlog, first whole on its own connection (its open transaction too).
    if (!this.away()) this.backlog.forget();
    if (this.state.up || this.state.lastError === null) this.log.warn(`PostgreSQL unreachable, spooling locally (${this.state.backlog} changes waiting): ${reason}`);
    if (this.state.up || !this.state.since) this.state.since = new Date().toISOString();
    this.state.up = false;
    this.state.lastError = reason;
  }

  /**
   * The backlog counted whole on the spool's read connection: 0 only when all is in PostgreSQL, what
   * /health and the tests wait for. Not while PostgreSQL is known away: the writer counts then
   * (countChunk), its open transaction too, which this connection would not see (room again, wrongly).
   */
  private refreshBacklog(): void {
    if (!this.away()) this.backlog.whole((sql) => this.statements.get(sql));
  }

  /**
   * At the end of each writer chunk while PostgreSQL is away, inside its transaction: the backlog
   * follows the writes, so the spool is full from the chunk that reached its bound on (counted at an
   * attempt's end, the attempts 5 s apart, it went on for 5 s past it: test/postgres/ship-bound-down.spec.ts).
   */
  private countChunk(tx: WriteContext): void {
    if (!this.away() || this.stopped) return;
    try {
      this.backlog.since((sql) => tx.stmt(sql));
    } catch (err) {
      // Never the chunk's failure (a throw here replays it job by job): counted whole next time. An
      // error that made SQLite end the transaction is the writer's to see (chunkRanHooks replays the chunk).
      this.backlog.forget();
      this.log.warn(`the spool's backlog not counted after a writer chunk: ${(err as Error).message}`);
    }
  }

  /** PostgreSQL did not answer the last attempt (or /health's ping): not merely not asked yet. */
  private away(): boolean {
    return !this.state.up && this.state.lastError !== null;
  }

  /** One batch: returns how many changes it shipped (rows of ranges included). */
  async shipSome(): Promise<number> {
    if (this.opts.ready) await this.opts.ready();
    const moment = this.traced.moment(() => this.marked.map((t): [string, number] => [t.name, this.top(t)]));
    const entries = this.statements.get('SELECT seq, tbl, pk, ver FROM ship_log ORDER BY seq LIMIT ?').all(this.opts.batch) as ShipLogEntry[];
    // A range claimed and not yet shipped (a failed batch, a restart) goes first; else claim one.
    const claimNow = !this.loggedTurn || !entries.length;
    this.loggedTurn = false;
    if (claimNow && !this.marked.some((t) => this.pending(t)) && this.marked.some((t) => this.top(t) > this.marks.get(t.name)!.claim)) await this.claimNext();
    const ranges = this.marked.filter((t) => this.pending(t)).map((t) => ({ t, ...this.marks.get(t.name)! }));
    if (!entries.length && !ranges.length) {
      this.refreshBacklog();
      this.release();
      await this.noteTraced(moment);
      return 0;
    }
    const budget = new ShipBudget(this.opts.batchBytes ?? Infinity);
    const { work, done, reached } = readBatch(
      { tables: this.tables, shippedMark: (name) => this.marks.get(name)?.shipped, stmt: (sql) => this.statements.get(sql), prepare: (sql) => this.spool.prepare(sql) },
      entries,
      ranges,
      budget,
    );
    this.cut = budget.cut;
    this.loggedTurn = budget.cut && reached.length > 0;
    const rows = await this.withClient(async (client) => {
      for (const w of work.values()) if (!this.pgTypes.has(w.t.name)) this.pgTypes.set(w.t.name, await columnTypes(client, w.t));
      return inTransaction(client, async () => {
        let n = 0;
        // The slot still this spool's (slot-claim.ts): a copy started beside it since ships alone.
        if (this.slot !== undefined) await stillOurs(this.spool, client, this.slot);
        n += await copyFresh(client, [...work.values()], (t) => this.pgTypes.get(t.name)!);
        for (const w of work.values()) {
          n += await upsert(client, w.t, this.pgTypes.get(w.t.name)!, w.rows);
          if (w.gone.length) await remove(client, w.t, this.pgTypes.get(w.t.name)!, w.gone);
        }
        return n;
      });
    });
    // Only entries not changed since they were read: a newer change goes out with the next batch.
    const shipped = JSON.stringify(done.map((e) => [e.seq, e.ver]));
    const claims = await this.writer.submit((tx) => {
      this.backlog.deleted(tx.stmt(`DELETE FROM ship_log WHERE (seq, ver) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`).run(shipped).changes);
      for (const r of reached) tx.stmt('UPDATE meta SET value = ? WHERE key = ?').run(String(r.upTo), markKeys(r.t.name).shipped);
      // The next range is claimed in the same transaction: one writer turn a batch. Not while a
      // range is cut short by the byte bound: every table's next claim waits for its end, so
      // ranges stay claimed together (a trace's ports never claimed past its trace's claim).
      return budget.cut ? [] : this.claim(tx);
    });
    for (const r of reached) this.marks.get(r.t.name)!.shipped = r.upTo;
    this.noteClaims(claims);
    this.state.shippedRows += rows;
    this.state.batches++;
    this.state.lastShippedAt = new Date().toISOString();
    this.state.since = null;
    this.state.up = true;
    this.state.lastError = null;
    this.refreshBacklog();
    this.release();
    await this.noteTraced(moment);
    return Math.max(done.length, rows);
  }

  /** The highest row of this writer's own range in a marked table (committed). */
  private top(t: ShippedTable): number {
    return highestOwn((sql) => this.statements.get(sql), t, this.slot!);
  }

  /** A marked table shipped up to `top` (or nothing of it left above its mark: rows deleted before their claim). */
  private shipped(name: string, top: number): boolean {
    const mark = this.marks.get(name)!.shipped;
    return mark >= top || this.top(this.tables.get(name)!) <= mark;
  }

  private pending(t: ShippedTable): boolean {
    const m = this.marks.get(t.name)!;
    return m.claim > m.shipped;
  }

  private async claimNext(): Promise<void> {
    this.noteClaims(await this.writer.submit((tx) => this.claim(tx)));
  }

  /** The next ranges, in a writer transaction (ship-claim.ts). */
  private claim(tx: WriteContext): Array<[string, number]> {
    return claimRanges(tx, { marked: this.marked, slot: this.slot!, batch: this.opts.batch, db: this.writer.db });
  }

  private noteClaims(claims: Array<[string, number]>): void {
    for (const [name, claim] of claims) this.marks.get(name)!.claim = claim;
  }

  /** The active sessions copied in from PostgreSQL (ship-sessions.ts). */
  async pullSessions(): Promise<void> {
    const t = this.tables.get('trace_session');
    if (!t) return;
    if (this.opts.ready) await this.opts.ready();
    await pullSessions({ t, statements: this.statements, writer: this.writer, query: (text, values) => this.query(text, values), slot: this.slot });
    this.pulledAt = Date.now();
  }

  /** A fact told PostgreSQL once what the spool held when it was taken has shipped (ship-synced.ts ShippedWord). */
  tellWhenShipped(word: ShippedWord): void {
    this.traced.word = word;
  }

  /** writer_slot.traced_through, once all `m` held is shipped (ship-synced.ts). */
  private noteTraced(m: SpoolMoment | null): Promise<void> {
    return this.traced.note(m, (name, top) => this.shipped(name, top), (text, values) => this.query(text, values), () => this.reshipPruned());
  }

  /** The lifetimes PostgreSQL's retention took while this slot was silent, shipped again with their edges (ship-pruned.ts). */
  private async reshipPruned(): Promise<void> {
    const flows = this.tables.get('datapath_flow');
    const edges = this.tables.get('recirc_edge');
    if (!flows || this.slot === undefined) return;
    const types = async (client: PoolClient, t: ShippedTable) => this.pgTypes.get(t.name) ?? this.pgTypes.set(t.name, await columnTypes(client, t)).get(t.name)!;
    const e = edges && { t: edges, shipped: this.marks.get(edges.name)?.shipped ?? Infinity };
    const slot = this.slot;
    await reported(this.state, this.log, slot, () =>
      this.withClient((client) => reshipPruned(client, this.statements, slot, { flows, edges: e, types: (t) => types(client, t), ours: (c) => stillOurs(this.spool, c, slot) }, this.opts.batch)),
    );
  }

  /** pool.query, with a connection that falls silent given up (dropWhenSilent). */
  private query(text: string, values: unknown[]): Promise<{ rows: unknown[] }> {
    return this.withClient((client) => client.query(text, values));
  }

  /** `fn` on a guarded client of the pool (pg-client.ts), given up when silent for opts.silentMs. */
  private withClient<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    return withClient(this.pool, this.opts.silentMs ?? SILENT_MS, fn, this.stopper.signal);
  }

  /**
   * Waiters whose changes have all left the spool (ship-waiters.ts): each marked table shipped up to
   * the height it had when they asked, or nothing of it left above the shipped mark (its newest rows
   * deleted before their range was claimed, a merged path).
   */
  private release(): void {
    if (this.waiters.empty) return;
    const first = (this.statements.get('SELECT MIN(seq) AS s FROM ship_log').get() as { s: number | null }).s;
    this.waiters.release(first, (name, top) => this.shipped(name, top));
  }
}
