// The one way into datapath_flow (lifetimes) and recirc_edge (which lifetime recirculated into
// which). Three sources write lifetimes (the poller's dumps, the vswitchd log, ingested events),
// each under its own `source`, all through this store: one INSERT, one way to close a lifetime.
// Writes run inside the caller's writer job (synchronous, prepared statements). The API's reads
// go through `query` (the history, wherever it is kept); the pipeline's own (open lifetimes at a
// restart) stay on the local read connection. Reads may join the trace tables in one statement (a
// filter by logical port), never write them.
import { Inject, Injectable } from '@nestjs/common';
import type { Statement } from 'better-sqlite3';
import { pushSignature } from '../ovs/push-signature';
import { tunnelSignature } from '../ovs/tunnel-signature';
import { PLAN_EACH_CALL, SqliteReader, type SqlReader } from '../storage/sql';
import { busyPortPage } from './busy-port-store';
import { datapathFlowJson, type DatapathFlowJson, type DatapathFlowRow, type RecircNeighbour } from './datapath-flow-json';
import { StoreService } from '../storage/store.service';
import { Statements, WriteContext } from '../storage/writer';

export type LifetimeSource = 'poller' | 'vlog' | 'ingest';

/** The source as an SQL literal, so a query by source is planned as before (the partial index on open ingested lifetimes). */
const SOURCE_SQL: Record<LifetimeSource, string> = { poller: `'poller'`, vlog: `'vlog'`, ingest: `'ingest'` };

/** A lifetime as first seen. */
export interface NewLifetime {
  chassis: string;
  ufid: string;
  firstSeen: string;
  lastSeen: string;
  inPort: string | null;
  /** `0x` + hex (recircIdHex). */
  recircId: string;
  key: string;
  actions: string;
  packets: number;
  bytes: number;
  used: string | null;
  source: LifetimeSource;
  /** Its copies on several PMD threads, what a restart needs to go on (collectors/pmd-copies-column.ts); null or absent: none stored. */
  pmdCopies?: string | null;
  /**
   * When the agent heard of it, on its own clock (ingest: the request's receipt; the idle sweep's;
   * vlog: when its log line's event happened or its check ran, vlog-log-clock.ts).
   * Absent: an ingested one's last_seen, no other source's.
   */
  heardAt?: string;
}

/** A lifetime not closed yet, as a source continues it. */
export type OpenLifetime = { id: number; pmdCopies: string | null; heardAt: string | null } & Pick<NewLifetime, 'ufid' | 'firstSeen' | 'lastSeen' | 'key' | 'actions' | 'packets' | 'bytes' | 'used'>;

/** A lifetime's counters as a source read them, with its PMD copies' (NewLifetime.pmdCopies: absent writes NULL). */
export type SeenCounters = { lastSeen: string; packets: number; bytes: number; used: string | null } & Pick<NewLifetime, 'pmdCopies'>;

export interface DatapathFlowFilter {
  state?: 'live' | 'removed';
  /** Lifetimes a trace of which touched this logical port (the name trace_port is keyed by). */
  tracedOnPort?: string;
  chassis?: string;
  cursor?: number;
  /** Rows wanted; one more is read to tell whether a next page exists. */
  limit: number;
}

/** DatapathFlowStore.openOf's row. */
export type OpenOf = Pick<OpenLifetime, 'id' | 'key' | 'actions' | 'firstSeen' | 'lastSeen' | 'packets' | 'bytes' | 'pmdCopies'> & { heardAt: string | null };

/** Where DatapathFlowStore.pruneEndedUntraced goes on: by id, then per chassis by (removed_at, id). */
export interface UntracedCursor {
  id: number;
  chassis?: string;
  removedAt?: string;
}
export const UNTRACED_START: UntracedCursor = { id: -1 };

/** An event's counter, taken unless the event is older than last_seen: one sent late took the counters back to its time. */
const newest = (c: string) => `CASE WHEN ? >= last_seen THEN COALESCE(?, ${c}) ELSE ${c} END`;
const TOUCH = `UPDATE datapath_flow SET last_seen = MAX(last_seen, ?), packets = ${newest('packets')}, bytes = ${newest('bytes')}, used = ${newest('used')} WHERE id = ?`;

@Injectable()
export class DatapathFlowStore {
  private readonly statements: Statements;
  /** The API's reader: StoreService.query, read at each call (the PostgreSQL one once opened); else the read connection. */
  private readonly query: () => SqlReader;

  constructor(@Inject(StoreService) storage: Pick<StoreService, 'db'> & Partial<Pick<StoreService, 'query'>>) {
    this.statements = new Statements(storage.db);
    const local = new SqliteReader(storage.db);
    this.query = () => storage.query ?? local;
  }

  private stmt(sql: string): Statement {
    return this.statements.get(sql);
  }

  // ---- writes (inside writer jobs) ----------------------------------------------------

  /**
   * A new lifetime; returns its id. A tunnel arrival gets its tunnel signature, a pass that pushes a
   * tunnel its push signature (key and actions never change after: other ones are another lifetime).
   */
  create(tx: WriteContext, l: NewLifetime): number {
    const sig = tunnelSignature(l.key, Number(l.recircId));
    const pushSig = pushSignature(l.actions);
    // Every open ingested row has one: the idle sweep reads it (closeIdleIngested).
    const heardAt = l.heardAt ?? (l.source === 'ingest' ? l.lastSeen : null);
    return Number(
      tx
        .stmt(
          `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, in_port, recirc_id, key, actions, packets, bytes, used, source, tunnel_sig, push_sig, pmd_copies, heard_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(l.chassis, l.ufid, l.firstSeen, l.lastSeen, l.inPort, l.recircId, l.key, l.actions, l.packets, l.bytes, l.used, l.source, sig, pushSig, l.pmdCopies ?? null, heardAt).lastInsertRowid,
    );
  }

  /** The counters of a dump (the poller: each dump's values replace the last), its PMD copies' with them. */
  update(tx: WriteContext, id: number, seen: SeenCounters): void {
    tx.stmt('UPDATE datapath_flow SET last_seen = ?, packets = ?, bytes = ?, used = ?, pmd_copies = ? WHERE id = ?').run(seen.lastSeen, seen.packets, seen.bytes, seen.used, seen.pmdCopies ?? null, id);
  }

  /** Its PMD copies alone (the vlog source: another PMD logged the flow installed). */
  setPmdCopies(tx: WriteContext, id: number, pmdCopies: string | null): void {
    tx.stmt('UPDATE datapath_flow SET pmd_copies = ? WHERE id = ?').run(pmdCopies, id);
  }

  /** An event about the lifetime (ingest): last_seen never goes back, counters only when given and not older (TOUCH). */
  touch(tx: WriteContext, id: number, time: string, counters: { packets?: number; bytes?: number; used?: string }): void {
    tx.stmt(TOUCH).run(time, time, counters.packets ?? null, time, counters.bytes ?? null, time, counters.used ?? null, id);
  }

  /** `heardAt`: when the agent heard the end (its clock; retention's QUIET_MS guard reads it), kept as it was if absent. */
  close(tx: WriteContext, id: number, at: string, reason: string, heardAt?: string): void {
    // pmd_copies cleared: only an open lifetime's are read back (a later run goes on with it), and
    // an ended row would keep, and ship, them for as long as retention keeps it.
    tx.stmt('UPDATE datapath_flow SET removed_at = ?, removal_reason = ?, pmd_copies = NULL, heard_at = COALESCE(?, heard_at) WHERE id = ?').run(at, reason, heardAt ?? null, id);
  }

  /** The newest open lifetime of this UFID that this source wrote (with its counters and PMD copies: the vlog source's checks compare them). */
  openOf(tx: WriteContext, source: LifetimeSource, chassis: string, ufid: string): OpenOf | undefined {
    return tx
      .stmt(
        `SELECT id, key, actions, first_seen AS firstSeen, last_seen AS lastSeen, packets, bytes, pmd_copies AS pmdCopies, heard_at AS heardAt FROM datapath_flow WHERE chassis = ? AND ufid = ? AND source = ${SOURCE_SQL[source]} AND removed_at IS NULL ORDER BY id DESC LIMIT 1`,
      )
      .get(chassis, ufid) as OpenOf | undefined;
  }

  /** The lifetime of this UFID that this source wrote that had begun at `time` (the latest begun by then), open or ended. */
  begunBy(tx: WriteContext, source: LifetimeSource, chassis: string, ufid: string, time: string): { id: number; actions: string; removedAt: string | null } | undefined {
    return tx
      .stmt(
        `SELECT id, actions, removed_at AS removedAt FROM datapath_flow WHERE ufid = ? AND first_seen <= ? AND chassis = ? AND source = ${SOURCE_SQL[source]} ORDER BY first_seen DESC, id DESC LIMIT 1`,
      )
      .get(ufid, time, chassis) as { id: number; actions: string; removedAt: string | null } | undefined;
  }

  /** The lifetime of this UFID that this source wrote just before lifetime `id` (the order it wrote them). */
  before(tx: WriteContext, source: LifetimeSource, chassis: string, ufid: string, id: number): { id: number; removedAt: string | null; heardAt: string | null } | undefined {
    return tx
      .stmt(`SELECT id, removed_at AS removedAt, heard_at AS heardAt FROM datapath_flow WHERE ufid = ? AND id < ? AND chassis = ? AND source = ${SOURCE_SQL[source]} ORDER BY id DESC LIMIT 1`)
      .get(ufid, id, chassis) as { id: number; removedAt: string | null; heardAt: string | null } | undefined;
  }

  /** The first lifetime of this UFID that this source wrote begun after `time`. */
  begunAfter(tx: WriteContext, source: LifetimeSource, chassis: string, ufid: string, time: string): { id: number; actions: string; firstSeen: string } | undefined {
    return tx
      .stmt(
        `SELECT id, actions, first_seen AS firstSeen FROM datapath_flow WHERE ufid = ? AND first_seen > ? AND chassis = ? AND source = ${SOURCE_SQL[source]} ORDER BY first_seen, id LIMIT 1`,
      )
      .get(ufid, time, chassis) as { id: number; actions: string; firstSeen: string } | undefined;
  }

  /** An event older than the lifetime's first sight of it (ingest, out of order): first_seen never goes forward. */
  seenEarlier(tx: WriteContext, id: number, time: string): void {
    tx.stmt('UPDATE datapath_flow SET first_seen = MIN(first_seen, ?) WHERE id = ?').run(time, id);
  }

  /** The lifetime (any source) of that UFID in force at `time`: the earliest not removed before it. */
  inForceAt(tx: WriteContext, chassis: string, ufid: string, time: string): number | null {
    const r = tx
      .stmt(`SELECT id FROM datapath_flow WHERE chassis = ? AND ufid = ? AND (removed_at IS NULL OR removed_at >= ?) ORDER BY first_seen, id LIMIT 1`)
      .get(chassis, ufid, time) as { id: number } | undefined;
    return r?.id ?? null;
  }

  /** Child recirculated from parent (once per pair). */
  link(tx: WriteContext, parentId: number, childId: number, recircId: string): void {
    tx.stmt('INSERT OR IGNORE INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)').run(parentId, childId, recircId);
  }

  /**
   * Closes at most `batch` open ingested lifetimes last heard of before `cutoff` (the agent's clock:
   * heard_at), as `idle` at their last_seen (the producer's last sighting), heard `now`; returns how many.
   */
  closeIdleIngested(tx: WriteContext, cutoff: string, batch: number, now: string): number {
    const rows = tx
      .stmt(`SELECT id, last_seen FROM datapath_flow WHERE removed_at IS NULL AND source = 'ingest' AND heard_at < ? ORDER BY heard_at LIMIT ?`)
      .all(cutoff, batch) as Array<{ id: number; last_seen: string }>;
    // heard_at: its end is news now (retention keeps what ended within QUIET_MS on the agent's clock).
    const close = tx.stmt(`UPDATE datapath_flow SET removed_at = ?, removal_reason = 'idle', heard_at = ? WHERE id = ?`);
    for (const r of rows) close.run(r.last_seen, now, r.id);
    return rows.length;
  }

  /**
   * An ingested event of lifetime `id` was heard at `at` (the agent's clock, RFC 3339): what the idle
   * sweep counts from. Never last_seen, the producer's own time: its clock may be hours apart.
   */
  heard(tx: WriteContext, id: number, at: string): void {
    tx.stmt(`UPDATE datapath_flow SET heard_at = ? WHERE id = ? AND source = 'ingest' AND (heard_at IS NULL OR heard_at < ?)`).run(at, id, at);
  }

  /** Closes those of these lifetimes that are ingested and still open; returns how many. */
  closeOpenIngested(tx: WriteContext, ids: readonly number[], at: string, reason: string): number {
    return tx
      .stmt(
        `UPDATE datapath_flow SET removed_at = ?, removal_reason = ?
         WHERE removed_at IS NULL AND source = 'ingest' AND id IN (SELECT value FROM json_each(?))`,
      )
      .run(at, reason, JSON.stringify(ids)).changes;
  }

  /**
   * Retention: deletes the lifetime with its edges when it has ended and no trace refers to it
   * (a live one is still followed by the poller under its id); returns whether it went.
   */
  deleteIfEndedAndUntraced(tx: WriteContext, id: number): boolean {
    if (!tx.stmt('SELECT 1 FROM datapath_flow WHERE id = ? AND removed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trace WHERE datapath_flow_id = ?)').get(id, id)) return false;
    tx.stmt('DELETE FROM recirc_edge WHERE parent_id = ? OR child_id = ?').run(id, id);
    return tx.stmt('DELETE FROM datapath_flow WHERE id = ?').run(id).changes > 0;
  }

  /** The id of the newest lifetime beyond the `keep` newest (null: no more than `keep`). One index walk. */
  idBeyondNewest(tx: WriteContext, keep: number): number | null {
    const row = tx.stmt('SELECT id FROM datapath_flow ORDER BY id DESC LIMIT 1 OFFSET ?').get(keep) as { id: number } | undefined;
    return row ? row.id : null;
  }

  /**
   * Retention of the lifetimes no trace cites (the poller stores one for every flow it dumps, most
   * never traced, so pruning traces never reaches them): one batch of up to `batch` lifetimes looked
   * at, deleting with their edges those ended before `quietBefore` and either before `before` or with
   * an id at or below `maxId`, that no trace cites. Two walks, each on an index: ids up to `maxId`,
   * then per chassis the ended ones by (removed_at, id) before the earlier of `before` and
   * `quietBefore` (idx_dpflow_live). Ids do not order time: ingest dates a lifetime by its event, so
   * a producer's backlog replayed late stores lifetimes ended weeks ago under the newest ids.
   * `cursor`: where the next batch goes on (start: UNTRACED_START), null once done. `may`: the
   * caller's own condition (the spool's: PostgreSQL holds it as the spool does).
   */
  pruneEndedUntraced(
    tx: WriteContext,
    o: { after: UntracedCursor; before: string | null; maxId: number | null; quietBefore: string; batch: number; may?: (id: number) => boolean },
  ): { cursor: UntracedCursor | null; deleted: number } {
    let deleted = 0;
    const consider = (r: { id: number; removed_at: string | null; heard_at: string | null }): void => {
      // Ended within the guard as the agent heard it too (heard_at: an ingested removal dated by a producer's clock behind ours).
      if (r.removed_at === null || r.removed_at >= o.quietBefore || (r.heard_at !== null && r.heard_at >= o.quietBefore)) return;
      if ((o.may?.(r.id) ?? true) && this.deleteIfEndedAndUntraced(tx, r.id)) deleted++;
    };
    const at = o.after;
    if (at.chassis === undefined && o.maxId !== null) {
      const rows = tx.stmt('SELECT id, removed_at, heard_at FROM datapath_flow WHERE id > ? AND id <= ? ORDER BY id LIMIT ?').all(at.id, o.maxId, o.batch) as Array<{
        id: number;
        removed_at: string | null;
        heard_at: string | null;
      }>;
      rows.forEach(consider);
      if (rows.length === o.batch) return { cursor: { id: rows[rows.length - 1].id }, deleted };
    }
    if (o.before === null) return { cursor: null, deleted };
    const cut = o.before < o.quietBefore ? o.before : o.quietBefore;
    const nextChassis = (after: string | null): string | null =>
      (tx.stmt('SELECT MIN(chassis) AS c FROM datapath_flow WHERE chassis > ?').get(after ?? '') as { c: string | null }).c;
    const chassis = at.chassis ?? nextChassis(null);
    if (chassis === null) return { cursor: null, deleted };
    const rows = tx
      .stmt(
        `SELECT id, removed_at, heard_at FROM datapath_flow WHERE chassis = ? AND removed_at < ? AND (removed_at, id) > (?, ?) ORDER BY removed_at, id LIMIT ?`,
      )
      .all(chassis, cut, at.removedAt ?? '', at.chassis === undefined ? -1 : at.id, o.batch) as Array<{ id: number; removed_at: string; heard_at: string | null }>;
    rows.forEach(consider);
    if (rows.length === o.batch) {
      const last = rows[rows.length - 1];
      return { cursor: { id: last.id, chassis, removedAt: last.removed_at }, deleted };
    }
    const next = nextChassis(chassis);
    return { cursor: next === null ? null : { id: -1, chassis: next, removedAt: '' }, deleted };
  }

  // ---- the pipeline's reads (the local read connection) -------------------------------

  /** The open lifetimes a source left on a chassis (a restart continues them). */
  open(source: LifetimeSource, chassis: string): OpenLifetime[] {
    return (
      this.stmt(`SELECT id, ufid, first_seen, last_seen, key, actions, packets, bytes, used, pmd_copies, heard_at FROM datapath_flow WHERE chassis = ? AND removed_at IS NULL AND source = ${SOURCE_SQL[source]}`).all(chassis) as Array<{
        id: number;
        ufid: string;
        first_seen: string;
        last_seen: string;
        key: string;
        actions: string;
        packets: number;
        bytes: number;
        used: string | null;
        pmd_copies: string | null;
        heard_at: string | null;
      }>
    ).map((r) => ({ id: r.id, ufid: r.ufid, firstSeen: r.first_seen, lastSeen: r.last_seen, key: r.key, actions: r.actions, packets: r.packets, bytes: r.bytes, used: r.used, pmdCopies: r.pmd_copies, heardAt: r.heard_at }));
  }

  /** Whether lifetime `id` of `ufid` is still open, as committed (a failed write's checks: VlogLifetimes.unwritten). */
  isOpen(id: number, ufid: string): boolean {
    return this.stmt('SELECT 1 FROM datapath_flow WHERE id = ? AND ufid = ? AND removed_at IS NULL').get(id, ufid) !== undefined;
  }

  // ---- the API's reads (query) --------------------------------------------------------

  /** Lifetimes newest first (limit + 1 rows: the extra one says a next page exists). */
  async list(f: DatapathFlowFilter): Promise<DatapathFlowJson[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state === 'live') where.push('removed_at IS NULL');
    if (f.state === 'removed') where.push('removed_at IS NOT NULL');
    if (f.chassis) where.push('chassis = ?') && args.push(f.chassis);
    if (f.cursor) where.push('id < ?') && args.push(f.cursor);
    const q = this.query();
    const port = f.tracedOnPort;
    if (port !== undefined && q.dialect === 'sqlite') {
      const busy = await busyPortPage<DatapathFlowRow>(q, where, args, port, f.limit + 1);
      if (busy) return busy.map(datapathFlowJson);
    }
    if (port !== undefined) {
      where.push(`id IN (SELECT t.datapath_flow_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = ?)`);
      args.push(port);
    }
    // By port: newest flows checked one by one (a port in most traces) or the port's own traces'
    // flows (a rare one), as PostgreSQL's statistics of that port say: planned at each call.
    const plan = port !== undefined ? PLAN_EACH_CALL : '';
    const rows = await q.all<DatapathFlowRow>(
      `${plan}SELECT * FROM datapath_flow ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`,
      ...args,
      f.limit + 1,
    );
    return rows.map(datapathFlowJson);
  }

  /** Every lifetime of a UFID, newest first. */
  async lifetimesOf(ufid: string): Promise<DatapathFlowJson[]> {
    return (await this.query().all<DatapathFlowRow>('SELECT * FROM datapath_flow WHERE ufid = ? ORDER BY first_seen DESC, id DESC', ufid)).map(datapathFlowJson);
  }

  // Ordered by the other lifetime's id: the order of the key SQLite reads them by (no sort).

  /** The lifetimes this one recirculated from. */
  parentsOf(id: number): Promise<RecircNeighbour[]> {
    return this.neighbours(
      'SELECT d.id, d.ufid, d.recirc_id, e.recirc_id AS edge FROM recirc_edge e JOIN datapath_flow d ON d.id = e.parent_id WHERE e.child_id = ? ORDER BY e.parent_id',
      id,
    );
  }

  /** The lifetimes that recirculated from this one. */
  childrenOf(id: number): Promise<RecircNeighbour[]> {
    return this.neighbours(
      'SELECT d.id, d.ufid, d.recirc_id, e.recirc_id AS edge FROM recirc_edge e JOIN datapath_flow d ON d.id = e.child_id WHERE e.parent_id = ? ORDER BY e.child_id',
      id,
    );
  }

  private async neighbours(sql: string, id: number): Promise<RecircNeighbour[]> {
    const rows = await this.query().all<{ id: number; ufid: string; recirc_id: string; edge: string }>(sql, id);
    return rows.map((n) => ({ id: n.id, ufid: n.ufid, recircId: n.recirc_id, via: n.edge }));
  }
}
