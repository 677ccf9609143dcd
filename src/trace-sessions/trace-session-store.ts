// The one way into trace_session and trace_session_counter. The service keeps the active sessions
// in memory (every new datapath flow is checked against them); the table is what survives a
// restart, what every agent polls for new and ended sessions, and what the API lists. Counters
// live one row per (session, chassis): each agent writes only its own. Writes run inside the
// caller's writer job; reads go through `query`, the central database when there is one (the api
// creates sessions there, every agent polls them from there), else the read connection.
import { Inject, Injectable } from '@nestjs/common';
import { StoreService } from '../storage/store.service';
import { Client } from 'pg';
import { endClient, olderServer, silenceBound, SILENT_MS } from '../storage/pg-client';
import { pgPoolOptions, pgUnreachable } from '../storage/postgres';
import { pgText } from '../storage/ship-sql';
import { nextOwnId } from '../storage/spool';
import { muted } from '../storage/spool-state';
import { SqliteReader, type SqlReader } from '../storage/sql';
import type { WriteContext } from '../storage/writer';

export interface SessionStats {
  selected: number;
  traced: number;
  stored: number;
  /** Traced only to decide (a flow towards the port's addresses) and not about the port. */
  notSelected: number;
  /** Not taken, every reason together (the sum of droppedBy). */
  dropped: number;
  /**
   * Not taken, by reason: queue_full (the tracer's queue held LIVETRACE_TRACE_QUEUE jobs: this
   * process traces slower than flows come), spool_full (the agent's spool held
   * LIVETRACE_SPOOL_MAX_CHANGES: PostgreSQL away or too slow). Empty in counters written before it.
   */
  droppedBy: Record<string, number>;
  failed: Record<string, number>;
  /**
   * Taken, then not traced, or traced and not stored, because the session could store no more by
   * the time its turn came or its pass was traced, by reason: max_traces (reached by what is stored
   * and on its way), expired, stopped. With the others, selected = traced + dropped + failed (but
   * `store`, counted after traced) + skipped + still queued, and traced = stored + notSelected + failed.store
   * (+ stores in flight).
   */
  skipped: Record<string, number>;
}

export interface TraceSessionJson {
  id: number;
  chassis: string;
  createdAt: string;
  bridge: string;
  filter: string | null;
  logicalPort: string | null;
  maxTraces: number | null;
  durationSeconds: number | null;
  includeExisting: boolean;
  crossCheck: boolean;
  expiresAt: string | null;
  /** The chassis that carry the session out; null: every chassis. */
  onChassis: string[] | null;
  state: 'active' | 'completed' | 'expired' | 'stopped';
  endedAt: string | null;
  /** Every chassis's counters added up. */
  stats: SessionStats;
  /** Each chassis's own counters; a chassis appears once its agent has taken the session up. */
  perChassis: Record<string, SessionStats>;
}

/** pg_advisory_lock key of session creation (the migrations hold 7946710, the central retention 7946711). */
export const SESSION_CREATE_LOCK = 7946712;

/**
 * The longest the lock's connection may sit idle while its holder counts, inserts and waits for the
 * shipper (synced: 10 s) before the server ends its session, and the lock with it: across a
 * partition the server never hears the connection go and would keep both until its TCP keepalive
 * (hours), every instance's creation failing meanwhile. Under the statement_timeout a waiter's lock
 * call has (pgPoolOptions, 30 s), so a waiter behind a holder cut off still gets the lock.
 */
export const SESSION_CREATE_IDLE_MS = 20_000;

/** The session-creation lock not had: another api instance held it for as long as this one could wait (the API's 503). */
export class CreateLockBusy extends Error {
  constructor(cause: Error) {
    super(
      `another api instance holds the session-creation lock (PostgreSQL advisory lock ${SESSION_CREATE_LOCK}) and it was not released in time ` +
        `(${cause.message}); retry: a holder cut off from PostgreSQL lets go once its session ends`,
    );
  }
}

/**
 * The session-creation lock's connection, held: the new session's row goes to PostgreSQL on it
 * (insertCentral). Each statement on it is bound by silence (underCreateLock).
 */
export interface CreateLock {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

const COLUMNS = `id, chassis, created_at, bridge, filter, logical_port, max_traces, duration_seconds, include_existing, cross_check, expires_at, state, ended_at, stats, on_chassis`;

/** A new session's row after its id, in COLUMNS' order. */
const rowValues = (json: Omit<TraceSessionJson, 'id'>): unknown[] => [
  json.chassis, json.createdAt, json.bridge, json.filter, json.logicalPort, json.maxTraces, json.durationSeconds, json.includeExisting ? 1 : 0,
  json.crossCheck ? 1 : 0, json.expiresAt, json.state, null, JSON.stringify(json.stats), json.onChassis ? JSON.stringify(json.onChassis) : null,
];

export const emptyStats = (): SessionStats => ({ selected: 0, traced: 0, stored: 0, notSelected: 0, dropped: 0, droppedBy: {}, failed: {}, skipped: {} });

@Injectable()
export class TraceSessionStore {
  private spoolReader?: SqliteReader;
  /**
   * A statement on the lock's connection (its lock wait, the new row's INSERT) whose connection moves
   * no byte this long is given up (SILENT_MS, as the pool's: over the lock wait's statement_timeout).
   * It is a Client of its own, not withClient's: across a partition nothing else ends the wait (the
   * server's statement_timeout never reaches us, TCP keepalive takes hours) and the POST never answered
   * (test/postgres/session-create-silent.spec.ts).
   */
  silentMs = SILENT_MS;

  constructor(@Inject(StoreService) private readonly storage: Pick<StoreService, 'query' | 'db'> & Partial<Pick<StoreService, 'central'>>) {}

  /**
   * `fn` (count the active sessions, insert one, wait for it to reach PostgreSQL: session-limit.ts)
   * under PostgreSQL's session-creation lock, so that api instances sharing it count each other's
   * new sessions. On a connection of its own, not the pool's: the lock is its session's, released
   * when it ends (a pooled connection would keep it), and the count reads through the pool meanwhile
   * (a pool of one would wait on itself). With SQLite, or
   * PostgreSQL away (the spool's count then, as the agents' polls read it): `fn` alone. `fn` is given
   * the lock's connection while it holds the lock (PostgreSQL's count then decides, and the new row
   * goes to PostgreSQL on it, insertCentral), undefined without it.
   */
  async underCreateLock<T>(fn: (lock?: CreateLock) => Promise<T>): Promise<T> {
    const url = this.storage.central?.url;
    if (!url || this.storage.query.dialect !== 'postgres') return fn();
    const { max: _max, ...options } = pgPoolOptions(url, 1);
    const c = new Client(options);
    c.on('error', () => undefined); // a server gone ends the wait with the query's own rejection
    const lock: CreateLock = { query: (text, values) => silenceBound(c, this.silentMs, () => c.query(text, values)) };
    try {
      await c.connect();
      // PostgreSQL 14+; an older server (42704: no such setting) keeps the session until its keepalive.
      await lock.query(`SELECT set_config('idle_session_timeout', $1, false)`, [`${SESSION_CREATE_IDLE_MS}ms`]).catch(olderServer);
      await lock.query('SELECT pg_advisory_lock($1)', [SESSION_CREATE_LOCK]);
    } catch (err) {
      await endClient(c);
      if (pgUnreachable(err)) return fn();
      // The wait ended by the server (its statement_timeout; a lock_timeout or deadlock if configured):
      // another instance holds the lock, one PostgreSQL before 14 keeps for a holder cut off.
      if (['57014', '55P03', '40P01'].includes((err as { code?: string }).code ?? '')) throw new CreateLockBusy(err as Error);
      throw err;
    }
    try {
      return await fn(lock);
    } finally {
      // Not waiting on the server's close: across a partition after the last answer it never comes
      // (test/postgres/session-create-end.spec.ts); the server lets the lock go as the session ends.
      await endClient(c);
    }
  }

  /**
   * This chassis's counters as this process's own database holds them: with PostgreSQL the spool,
   * where the agent writes its row before it ships (a restart may come first); with SQLite the
   * same database `query` reads.
   */
  ownCounters(id: number, chassis: string): SessionStats | undefined {
    const r = this.storage.db.prepare('SELECT stats FROM trace_session_counter WHERE session_id = ? AND chassis = ?').get(id, chassis) as { stats: string } | undefined;
    return r && parseStats(r.stats);
  }

  /**
   * The sessions stored as active (a restart reloads them; every agent polls them), with their
   * counters. One past its expiry is among them, answered as expired (see fromRow): an agent
   * ends it in the store, and takes it up no more.
   */
  async active(now = new Date().toISOString()): Promise<TraceSessionJson[]> {
    const sql = `SELECT * FROM trace_session WHERE state = 'active' ORDER BY id`;
    try {
      return await this.withCounters(this.storage.query, await this.storage.query.all<SessionRow>(sql), now);
    } catch (err) {
      // PostgreSQL away (an agent restarted during an outage reads nothing there): the sessions its
      // spool last pulled (the shipper copies the active ones every 500 ms), with the counters it holds.
      if (this.storage.query.dialect !== 'postgres' || !pgUnreachable(err)) throw err;
      const spool = (this.spoolReader ??= new SqliteReader(this.storage.db));
      return this.withCounters(spool, await spool.all<SessionRow>(sql), now);
    }
  }

  async get(id: number, now = new Date().toISOString()): Promise<TraceSessionJson | undefined> {
    const r = await this.storage.query.get<SessionRow>('SELECT * FROM trace_session WHERE id = ?', id);
    return r && (await this.withCounters(this.storage.query, [r], now))[0];
  }

  /** A session's stored state and end (one no longer active: ended by another agent or an api). */
  async endOf(id: number): Promise<Pick<TraceSessionJson, 'state' | 'endedAt'> | undefined> {
    const r = await this.storage.query.get<{ state: TraceSessionJson['state']; ended_at: string | null }>('SELECT state, ended_at FROM trace_session WHERE id = ?', id);
    return r && { state: r.state, endedAt: r.ended_at };
  }

  /** Newest first (limit + 1 rows: the extra one says a next page exists), by state as answered. */
  async list(opts: { state?: string; cursor?: number; limit: number }, now = new Date().toISOString()): Promise<TraceSessionJson[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.state === 'active') where.push(`state = 'active' AND (expires_at IS NULL OR expires_at > ?)`) && args.push(now);
    else if (opts.state === 'expired') where.push(`(state = 'expired' OR (state = 'active' AND expires_at <= ?))`) && args.push(now);
    else if (opts.state) where.push('state = ?') && args.push(opts.state);
    if (opts.cursor) where.push('id < ?') && args.push(opts.cursor);
    const rows = await this.storage.query.all<SessionRow>(
      `SELECT * FROM trace_session ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`,
      ...args,
      opts.limit + 1,
    );
    return this.withCounters(this.storage.query, rows, now);
  }

  private async withCounters(q: SqlReader, rows: SessionRow[], now: string): Promise<TraceSessionJson[]> {
    if (!rows.length) return [];
    const counters = await q.all<{ session_id: number; chassis: string; stats: string }>(
      `SELECT session_id, chassis, stats FROM trace_session_counter WHERE session_id IN (${q.inList('int')}) ORDER BY session_id, chassis`,
      q.list(rows.map((r) => r.id)),
    );
    return rows.map((r) => {
      const perChassis: Record<string, SessionStats> = {};
      for (const c of counters) if (c.session_id === r.id) perChassis[c.chassis] = parseStats(c.stats);
      const json = fromRow(r, now);
      // A session from before per-chassis counters keeps its counts on its row: its one agent's, the
      // chassis that made it, until that agent's own row carries them on (the take-up starts from
      // them, TraceSessionsService.pollOnce). Else an upgraded agent's first counter row hid them,
      // and its maxTraces counted from 0 again. A later session's row holds no count.
      if (!perChassis[r.chassis] && !isEmpty(json.stats)) perChassis[r.chassis] = json.stats;
      if (Object.keys(perChassis).length) json.stats = addStats(Object.values(perChassis));
      return { ...json, perChassis };
    });
  }

  /**
   * The sessions active now as the writer's own database holds them, read inside its write job:
   * LIVETRACE_MAX_SESSIONS is checked and the new session inserted in one transaction (session-limit.ts).
   * With SQLite that is the shared file (BEGIN IMMEDIATE orders every writer); with PostgreSQL the
   * spool: this process's sessions, and the others' as its shipper last pulled them (every 500 ms).
   */
  activeCount(tx: WriteContext, now: string): number {
    return (tx.stmt(`SELECT count(*) AS n FROM trace_session WHERE state = 'active' AND (expires_at IS NULL OR expires_at > ?)`).get(now) as { n: number }).n;
  }

  /**
   * This process's own sessions active in its spool whose insert has not shipped yet (still in
   * ship_log: trace_session is logged row by row, and pulled copies are written muted), read inside
   * its write job. PostgreSQL's count does not hold them yet: a create that timed out waiting to ship
   * (answered 503) ships later. Never stale: only this process writes them.
   */
  unshippedActive(tx: WriteContext, now: string): number[] {
    return (
      tx
        .stmt(
          `SELECT id FROM trace_session s WHERE state = 'active' AND (expires_at IS NULL OR expires_at > ?)
             AND EXISTS (SELECT 1 FROM ship_log l WHERE l.tbl = 'trace_session' AND l.pk = json_array(s.id))`,
        )
        .all(now) as Array<{ id: number }>
    ).map((r) => Number(r.id));
  }

  /**
   * A new session; returns its id. `central`: the row also goes to PostgreSQL, by insertCentral under
   * the creation lock, so the spool's copy is written muted (as the shipper's pulled copies are):
   * nothing of it is shipped, and a create PostgreSQL refused leaves nothing to ship later (forget).
   */
  insert(tx: WriteContext, json: Omit<TraceSessionJson, 'id'>, central = false): number {
    const run = () =>
      Number(
        tx
          .stmt(`INSERT INTO trace_session (${COLUMNS}) VALUES (${COLUMNS.split(',').map(() => '?').join(', ')})`)
          // An explicit id of this writer's slot: the spool holds other writers' sessions (spool.ts nextOwnId).
          .run(nextOwnId((sql) => tx.stmt(sql), 'trace_session'), ...rowValues(json)).lastInsertRowid,
      );
    return central ? muted(tx, run) : run();
  }

  /**
   * The row of a session inserted with `central`, in PostgreSQL, on the creation lock's connection:
   * one statement, its own transaction, committed before the lock is let go, so every instance's next
   * count reads it. Text as the shipper sends it (no U+0000 in PostgreSQL's text: ship-sql.ts pgText).
   */
  async insertCentral(lock: CreateLock, id: number, json: Omit<TraceSessionJson, 'id'>): Promise<void> {
    const values = [id, ...rowValues(json)].map((v) => (typeof v === 'string' ? pgText(v) : v));
    await lock.query(`INSERT INTO trace_session (${COLUMNS}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')})`, values);
  }

  /**
   * Whether PostgreSQL holds session `id`, when the connection its INSERT went on was lost before the
   * answer (insertCentral's error: PostgreSQL unreachable). Asked under the lock again: the server held
   * it until that statement had ended (committed or not), so what it reads then is final. undefined:
   * not known (PostgreSQL unreachable again, or the lock not had in time).
   */
  async madeCentrally(id: number): Promise<boolean | undefined> {
    return this.underCreateLock(async (lock) => (lock ? (await lock.query('SELECT 1 FROM trace_session WHERE id = $1', [id])).rows.length > 0 : undefined)).catch(
      () => undefined,
    );
  }

  /**
   * The spool's copy of a session PostgreSQL did not take (insertCentral failed), muted: it was never
   * to ship. If PostgreSQL took it after all (its answer lost with the connection), the shipper's next
   * pull copies it back in, as any other instance's.
   */
  forget(tx: WriteContext, id: number): void {
    muted(tx, () => tx.stmt(`DELETE FROM trace_session WHERE id = ? AND state = 'active'`).run(id));
  }

  /**
   * Ends a session if it is still active; whoever comes first (an agent seeing it expire or reach
   * maxTraces, an API asked to stop it) decides the state, the others change nothing. An end at or
   * after the expiry is the expiry, at expires_at: what every read answered from that moment on.
   */
  end(tx: WriteContext, id: number, state: TraceSessionJson['state'], endedAt: string): boolean {
    return (
      tx
        .stmt(
          `UPDATE trace_session SET state = CASE WHEN expires_at <= ? THEN 'expired' ELSE ? END,
             ended_at = CASE WHEN expires_at <= ? THEN expires_at ELSE ? END WHERE id = ? AND state = 'active'`,
        )
        .run(endedAt, state, endedAt, endedAt, id).changes > 0
    );
  }

  /** This chassis's counters for the session (its own row: no other agent writes it). */
  saveStats(tx: WriteContext, id: number, chassis: string, stats: SessionStats): void {
    tx.stmt(
      `INSERT INTO trace_session_counter (session_id, chassis, stats) VALUES (?, ?, ?)
       ON CONFLICT (session_id, chassis) DO UPDATE SET stats = excluded.stats`,
    ).run(id, chassis, JSON.stringify(stats));
  }
}

const parseStats = (text: string): SessionStats => ({ ...emptyStats(), ...(JSON.parse(text) as Partial<SessionStats>) });

const isEmpty = (s: SessionStats): boolean => !s.selected && !s.traced && !s.stored && !s.notSelected && !s.dropped && !Object.keys(s.droppedBy).length && !Object.keys(s.failed).length && !Object.keys(s.skipped).length;

export function addStats(all: SessionStats[]): SessionStats {
  const sum = emptyStats();
  for (const s of all) {
    sum.selected += s.selected;
    sum.traced += s.traced;
    sum.stored += s.stored;
    sum.notSelected += s.notSelected;
    sum.dropped += s.dropped;
    for (const [k, n] of Object.entries(s.droppedBy)) sum.droppedBy[k] = (sum.droppedBy[k] ?? 0) + n;
    for (const [k, n] of Object.entries(s.failed)) sum.failed[k] = (sum.failed[k] ?? 0) + n;
    for (const [k, n] of Object.entries(s.skipped)) sum.skipped[k] = (sum.skipped[k] ?? 0) + n;
  }
  return sum;
}

interface SessionRow {
  id: number;
  chassis: string;
  created_at: string;
  bridge: string;
  filter: string | null;
  logical_port: string | null;
  max_traces: number | null;
  duration_seconds: number | null;
  include_existing: number;
  cross_check: number;
  expires_at: string | null;
  state: TraceSessionJson['state'];
  ended_at: string | null;
  stats: string;
  on_chassis: string | null;
}

/**
 * A session past its expiry is expired whether or not an agent has stored its end yet: none may
 * run (an api instance's sessions), or none has looked in the second since. Answered so on read
 * rather than ended by the reader, so an answer writes nothing and every api instance gives the
 * same one; the agents' stored end says the same (end: at expires_at).
 */
function fromRow(r: SessionRow, now: string): Omit<TraceSessionJson, 'perChassis'> {
  const expired = r.state === 'active' && r.expires_at !== null && r.expires_at <= now;
  return {
    id: r.id,
    chassis: r.chassis,
    createdAt: r.created_at,
    bridge: r.bridge,
    filter: r.filter,
    logicalPort: r.logical_port,
    maxTraces: r.max_traces,
    durationSeconds: r.duration_seconds,
    includeExisting: r.include_existing === 1,
    crossCheck: r.cross_check === 1,
    expiresAt: r.expires_at,
    onChassis: r.on_chassis ? (JSON.parse(r.on_chassis) as string[]) : null,
    state: expired ? 'expired' : r.state,
    endedAt: expired ? r.expires_at : r.ended_at,
    stats: parseStats(r.stats),
  };
}
