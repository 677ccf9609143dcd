// Copies the spool's changed rows to PostgreSQL (issue 19), the PostgreSQL way: multi-row
// INSERT … ON CONFLICT (key) DO UPDATE, one transaction a batch. The spool is the agent's bounded
// local queue: while PostgreSQL is away the agent goes on tracing into it, /health and the metrics
// say so, and the backlog is shipped when it comes back. A change is forgotten (its ship_log entry
// deleted) only after PostgreSQL committed it, so a restart of either side loses nothing that the
// spool had accepted; shipping a row twice writes the same row.
import { Logger } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { ownSequence, type ShippedTable } from './spool';
import { Statements, type StoreWriter } from './writer';

export interface ShipperOptions {
  /** Changes per PostgreSQL transaction. */
  batch: number;
  /** Backlog (changes waiting) at which the spool is full: sources drop new traces and count them. */
  maxBacklog: number;
  /** Pause when there is nothing to ship, and the first retry delay after an error. */
  idleMs: number;
}

export interface ShipperState {
  /** PostgreSQL answered the last attempt. */
  up: boolean;
  backlog: number;
  full: boolean;
  /** Traces the sources did not store because the spool was full. */
  dropped: number;
  shippedRows: number;
  batches: number;
  lastShippedAt: string | null;
  lastError: string | null;
  since: string | null;
}

/**
 * Rows an upsert may change: a session's state and counters are decided by whoever ends it first
 * (an agent that saw it expire, an api asked to stop it); an ended session is never reopened.
 */
const UPSERT_GUARD: Record<string, string> = {
  trace_session: `WHERE trace_session.state = 'active'`,
};

/** How often the active sessions are copied from PostgreSQL into the spool. */
const PULL_EVERY_MS = 500;

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
const PG_MAX_PARAMS = 65_000;

export class Shipper {
  readonly state: ShipperState = { up: false, backlog: 0, full: false, dropped: 0, shippedRows: 0, batches: 0, lastShippedAt: null, lastError: null, since: null };
  private readonly tables: Map<string, ShippedTable>;
  private readonly statements: Statements;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private retryMs: number;
  private waiters: Array<{ seq: number; resolve(): void; reject(e: Error): void }> = [];
  private pulledAt = 0;
  private readonly log = new Logger('Shipper');

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
    this.retryMs = opts.idleMs;
    this.refreshBacklog();
  }

  start(): void {
    this.schedule(0);
  }

  /** Ships what is left (best effort: a PostgreSQL that is away keeps it in the spool). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    // Everything committed so far (called again after the last writes of a shutdown).
    try {
      while ((await this.shipSome()) > 0);
    } catch {
      // PostgreSQL away: it stays in the spool, shipped at the next start.
    }
    for (const w of this.waiters.splice(0)) w.reject(new Error('the shipper stopped'));
  }

  /** Resolves once every change committed to the spool so far is in PostgreSQL (read-your-writes). */
  synced(timeoutMs = 10_000): Promise<void> {
    // Stopped: nothing more leaves the spool in this process's life (the next start ships it).
    if (this.stopped) return Promise.resolve();
    const row = this.statements.get('SELECT MAX(seq) AS s FROM ship_log').get() as { s: number | null };
    if (row.s === null) return Promise.resolve();
    const seq = row.s;
    return new Promise((resolve, reject) => {
      const w = { seq, resolve, reject };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        // ECONNREFUSED-like: the API answers 503 (retry), as when PostgreSQL itself is away.
        const e = new Error(`PostgreSQL has not taken this process's last writes within ${timeoutMs} ms (${this.state.backlog} changes waiting${this.state.lastError ? `: ${this.state.lastError}` : ''})`);
        reject(Object.assign(e, { code: 'ESPOOLBEHIND' }));
      }, timeoutMs).unref();
      this.schedule(0);
    });
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
    try {
      let n: number;
      do n = await this.shipSome();
      while (n >= this.opts.batch && !this.stopped);
      if (Date.now() - this.pulledAt >= PULL_EVERY_MS) await this.pullSessions();
      if (!this.state.up) this.log.log('PostgreSQL is back: shipping resumed');
      this.state.up = true;
      this.state.lastError = null;
      this.retryMs = this.opts.idleMs;
      this.schedule(this.opts.idleMs);
    } catch (err) {
      this.refreshBacklog();
      this.noteDown((err as Error).message);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
      this.schedule(this.retryMs);
    }
  }

  /** PostgreSQL did not answer (the shipper's own attempt, or /health's ping): down since the first miss. */
  noteDown(reason: string): void {
    if (this.state.up || this.state.lastError === null) this.log.warn(`PostgreSQL unreachable, spooling locally (${this.state.backlog} changes waiting): ${reason}`);
    if (this.state.up || !this.state.since) this.state.since = new Date().toISOString();
    this.state.up = false;
    this.state.lastError = reason;
  }

  private refreshBacklog(): void {
    const r = this.statements.get('SELECT COUNT(*) AS n FROM ship_log').get() as { n: number };
    this.state.backlog = r.n;
    this.state.full = r.n >= this.opts.maxBacklog;
  }

  /** One batch: returns how many changes it shipped. */
  async shipSome(): Promise<number> {
    const entries = this.statements.get('SELECT seq, tbl, pk, ver FROM ship_log ORDER BY seq LIMIT ?').all(this.opts.batch) as Array<{ seq: number; tbl: string; pk: string; ver: number }>;
    if (!entries.length) {
      this.refreshBacklog();
      this.release();
      return 0;
    }
    const byTable = new Map<string, unknown[][]>();
    for (const e of entries) {
      if (!this.tables.has(e.tbl)) continue;
      let keys = byTable.get(e.tbl);
      if (!keys) byTable.set(e.tbl, (keys = []));
      keys.push(JSON.parse(e.pk) as unknown[]);
    }
    const work = [...byTable].map(([name, keys]) => ({ t: this.tables.get(name)!, keys, rows: this.currentRows(this.tables.get(name)!, keys) }));
    const client = await this.pool.connect();
    // A server going away mid-batch also emits 'error' on the checked-out client: the query's
    // rejection below is what counts; unheard, the event would end the process.
    const onError = (): void => undefined;
    client.on('error', onError);
    let broken: Error | undefined;
    let rows = 0;
    try {
      await client.query('BEGIN');
      for (const w of work) {
        rows += await upsert(client, w.t, w.rows);
        const present = new Set(w.rows.map((r) => keyOf(w.t, r)));
        const gone = w.keys.filter((k) => !present.has(JSON.stringify(k)));
        if (gone.length) await remove(client, w.t, gone);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      broken = err as Error;
      throw err;
    } finally {
      client.off('error', onError);
      // A client whose batch failed is dropped, not handed out again.
      client.release(broken);
    }
    // Only entries not changed since they were read: a newer change goes out with the next batch.
    const shipped = JSON.stringify(entries.map((e) => [e.seq, e.ver]));
    await this.writer.submit((tx) =>
      tx.stmt(`DELETE FROM ship_log WHERE (seq, ver) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`).run(shipped),
    );
    this.state.shippedRows += rows;
    this.state.batches++;
    this.state.lastShippedAt = new Date().toISOString();
    this.state.since = null;
    this.state.up = true;
    this.state.lastError = null;
    this.refreshBacklog();
    this.release();
    return entries.length;
  }

  /**
   * Sessions are made by api instances and ended by whoever comes first; each process ends one
   * with an UPDATE … WHERE state = 'active' on its spool, so the spool must hold the session's row:
   * the active ones (and those it still holds as active) are copied in, silenced (ship_mute), except
   * a row whose own change is still waiting to be shipped.
   */
  async pullSessions(): Promise<void> {
    const t = this.tables.get('trace_session');
    if (!t) return;
    const localActive = (this.statements.get(`SELECT id FROM trace_session WHERE state = 'active'`).all() as Array<{ id: number }>).map((r) => r.id);
    const { rows } = await this.pool.query(`SELECT * FROM trace_session WHERE state = 'active' OR id = ANY($1::bigint[])`, [localActive]);
    this.pulledAt = Date.now();
    if (!rows.length) return;
    const cols = t.columns;
    await this.writer.submit((tx) => {
      tx.stmt('INSERT OR IGNORE INTO ship_mute ("on") VALUES (1)').run();
      try {
        const pending = tx.stmt(`SELECT 1 FROM ship_log WHERE tbl = 'trace_session' AND pk = json_array(?)`);
        const put = tx.stmt(`REPLACE INTO trace_session (${cols.map(q).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
        for (const r of rows as Record<string, unknown>[]) if (!pending.get(r.id)) put.run(...cols.map((c) => r[c]));
        // An explicit id above the sequence moves it: back to this writer's own range.
        if (this.slot !== undefined) ownSequence((sql) => tx.stmt(sql), 'trace_session', 'id', this.slot);
      } finally {
        tx.stmt('DELETE FROM ship_mute').run();
      }
    });
  }

  /** Waiters whose changes have all left the spool (no entry at or below their seq remains). */
  private release(): void {
    if (!this.waiters.length) return;
    const first = (this.statements.get('SELECT MIN(seq) AS s FROM ship_log').get() as { s: number | null }).s;
    this.waiters = this.waiters.filter((w) => {
      if (first === null || w.seq < first) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  /** The rows' current values in the spool (a row no longer there was deleted). */
  private currentRows(t: ShippedTable, keys: unknown[][]): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const per = Math.max(1, Math.floor(30_000 / t.key.length));
    for (let i = 0; i < keys.length; i += per) {
      const part = keys.slice(i, i + per);
      const sql =
        t.key.length === 1
          ? `SELECT * FROM ${q(t.name)} WHERE ${q(t.key[0])} IN (${part.map(() => '?').join(',')})`
          : `SELECT * FROM ${q(t.name)} WHERE (${t.key.map(q).join(', ')}) IN (VALUES ${part.map(() => `(${t.key.map(() => '?').join(', ')})`).join(', ')})`;
      out.push(...(this.spool.prepare(sql).all(...part.flat()) as Record<string, unknown>[]));
    }
    return out;
  }
}

function keyOf(t: ShippedTable, row: Record<string, unknown>): string {
  return JSON.stringify(t.key.map((k) => row[k]));
}

async function upsert(client: PoolClient, t: ShippedTable, rows: Record<string, unknown>[]): Promise<number> {
  if (!rows.length) return 0;
  const cols = t.columns;
  const nonKey = cols.filter((c) => !t.key.includes(c));
  const conflict = nonKey.length
    ? `DO UPDATE SET ${nonKey.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')} ${UPSERT_GUARD[t.name] ?? ''}`
    : 'DO NOTHING';
  const per = Math.max(1, Math.floor(PG_MAX_PARAMS / cols.length));
  for (let i = 0; i < rows.length; i += per) {
    const part = rows.slice(i, i + per);
    const values: unknown[] = [];
    const tuples = part.map((r) => `(${cols.map((c) => (values.push(r[c]), `$${values.length}`)).join(', ')})`);
    await client.query(`INSERT INTO ${q(t.name)} (${cols.map(q).join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (${t.key.map(q).join(', ')}) ${conflict}`, values);
  }
  return rows.length;
}

async function remove(client: PoolClient, t: ShippedTable, keys: unknown[][]): Promise<void> {
  const per = Math.max(1, Math.floor(PG_MAX_PARAMS / t.key.length));
  for (let i = 0; i < keys.length; i += per) {
    const part = keys.slice(i, i + per);
    const values: unknown[] = [];
    const tuples = part.map((k) => `(${k.map((v) => (values.push(v), `$${values.length}`)).join(', ')})`);
    await client.query(`DELETE FROM ${q(t.name)} WHERE (${t.key.map(q).join(', ')}) IN (${tuples.join(', ')})`, values);
  }
}
