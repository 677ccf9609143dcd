// The one way into the upcall table. An upcall is joined to the datapath flow lifetime it
// installed by (chassis, ufid, time): the earliest lifetime of that UFID not removed before the
// upcall (a UFID comes back after deletion, so the UFID alone is not enough), and to the newest
// trace of that lifetime or of the upcall itself. Writes run inside the caller's writer job; reads
// (the API's) go through `query` and may join the lifetime and trace tables, never write them.
import { Inject, Injectable } from '@nestjs/common';
import { PLAN_EACH_CALL, SqliteReader, type SqlReader } from '../storage/sql';
import { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';

export interface UpcallInput {
  chassis: string;
  source: string;
  eventId?: string | null;
  /** The producer's time (vswitchd's log line, the ingested event's): what the row shows. */
  time: string;
  /** When the agent heard it, on its own clock: what retention's age goes by. */
  heardAt: string;
  upcallType?: string | null;
  dpif?: string | null;
  thread?: string | null;
  key?: string | null;
  packet?: string | null;
  inPort?: string | null;
  recircId?: string | null;
  ufid?: string | null;
  megaUfid?: string | null;
  flowKey?: string | null;
  flowActions?: string | null;
  datapathFlowId?: number | null;
  sampled: boolean;
  extra?: Record<string, unknown> | null;
}

export interface UpcallJson {
  id: number;
  chassis: string;
  source: string;
  eventId: string | null;
  time: string;
  upcallType: string | null;
  dpif: string | null;
  thread: string | null;
  key: string | null;
  packet: string | null;
  inPort: string | null;
  recircId: string | null;
  ufid: string | null;
  megaUfid: string | null;
  /** The flow it installed as logged (key with masks, actions), when linked. */
  flow: { key: string | null; actions: string | null } | null;
  datapathFlowId: number | null;
  traceId: number | null;
  sampled: boolean;
  extra: Record<string, unknown> | null;
}

/** A filter of stored upcalls, the logical port already resolved to the name trace_port is keyed by. */
export interface UpcallQuery {
  chassis?: string;
  ufid?: string;
  source?: string;
  upcallType?: string;
  linked?: boolean;
  portName?: string;
  since?: string;
  until?: string;
  cursor?: number;
  /** Rows wanted; one more is read to tell whether a next page exists. */
  limit: number;
}

interface Row {
  id: number;
  chassis: string;
  source: string;
  event_id: string | null;
  time: string;
  upcall_type: string | null;
  dpif: string | null;
  thread: string | null;
  key: string | null;
  packet: string | null;
  in_port: string | null;
  recirc_id: string | null;
  ufid: string | null;
  mega_ufid: string | null;
  flow_key: string | null;
  flow_actions: string | null;
  dp_id: number | null;
  sampled: number;
  extra: string | null;
}

const DP_OF_UPCALL = `COALESCE(u.datapath_flow_id, (SELECT d.id FROM datapath_flow d WHERE d.ufid = u.ufid AND d.chassis = u.chassis
  AND (d.removed_at IS NULL OR d.removed_at >= u.time) ORDER BY d.first_seen, d.id LIMIT 1))`;

@Injectable()
export class UpcallStore {
  /** The API's reader: StoreService.query, read at each call (the PostgreSQL one once opened); else the read connection. */
  private readonly query: () => SqlReader;

  constructor(@Inject(StoreService) storage: Pick<StoreService, 'db'> & Partial<Pick<StoreService, 'query'>>) {
    const local = new SqliteReader(storage.db);
    this.query = () => storage.query ?? local;
  }

  /** Inside a writer job; returns the row id. */
  insert(tx: WriteContext, u: UpcallInput): number {
    return Number(
      tx
        .stmt(
          `INSERT INTO upcall (chassis, source, event_id, time, heard_at, upcall_type, dpif, thread, key, packet, in_port, recirc_id, ufid, mega_ufid,
             flow_key, flow_actions, datapath_flow_id, sampled, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          u.chassis, u.source, u.eventId ?? null, u.time, u.heardAt, u.upcallType ?? null, u.dpif ?? null, u.thread ?? null, u.key ?? null, u.packet ?? null,
          u.inPort ?? null, u.recircId ?? null, u.ufid ?? null, u.megaUfid ?? null, u.flowKey ?? null, u.flowActions ?? null,
          u.datapathFlowId ?? null, u.sampled ? 1 : 0, u.extra ? JSON.stringify(u.extra) : null,
        ).lastInsertRowid,
    );
  }

  /** Its table, for the spool's retention (what PostgreSQL holds of it: spool-retention-store.ts). */
  readonly table = 'upcall';

  /**
   * Retention (inside its writer job): up to `batch` of the oldest upcalls, heard before `before` on
   * the agent's clock (heard_at, its index; not time, the producer's: a vswitchd or ingest producer
   * whose clock was days behind had its upcalls go as soon as heard) or with an id at or below `maxId`; none above `upTo` (the spool's: what
   * PostgreSQL does not hold yet). Returns how many went.
   */
  pruneOldest(tx: WriteContext, o: { before: string | null; maxId: number | null; batch: number; upTo?: number }): number {
    const ids = new Set<number>();
    const upTo = o.upTo ?? Number.MAX_SAFE_INTEGER;
    if (o.maxId !== null)
      for (const r of tx.stmt('SELECT id FROM upcall WHERE id <= ? ORDER BY id LIMIT ?').all(Math.min(o.maxId, upTo), o.batch) as Array<{ id: number }>) ids.add(r.id);
    if (o.before !== null && ids.size < o.batch)
      for (const r of tx.stmt('SELECT id FROM upcall WHERE heard_at < ? AND id <= ? ORDER BY heard_at LIMIT ?').all(o.before, upTo, o.batch - ids.size) as Array<{ id: number }>) ids.add(r.id);
    const del = tx.stmt('DELETE FROM upcall WHERE id = ?');
    let n = 0;
    for (const id of ids) n += del.run(id).changes;
    return n;
  }

  /** The id of the newest upcall beyond the `keep` newest (null: no more than `keep`). */
  idBeyondNewest(tx: WriteContext, keep: number): number | null {
    return (tx.stmt('SELECT id FROM upcall ORDER BY id DESC LIMIT 1 OFFSET ?').get(keep) as { id: number } | undefined)?.id ?? null;
  }

  /** Upcalls newest first (limit + 1 rows: the extra one says a next page exists). */
  async list(f: UpcallQuery): Promise<UpcallJson[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.chassis) where.push('u.chassis = ?') && args.push(f.chassis);
    if (f.ufid) where.push('u.ufid = ?') && args.push(f.ufid);
    if (f.source) where.push('u.source = ?') && args.push(f.source);
    if (f.upcallType) where.push('u.upcall_type = ?') && args.push(f.upcallType);
    if (f.linked === true) where.push('u.ufid IS NOT NULL');
    if (f.linked === false) where.push('u.ufid IS NULL');
    if (f.since) where.push('u.time >= ?') && args.push(f.since);
    if (f.until) where.push('u.time <= ?') && args.push(f.until);
    if (f.cursor) where.push('u.id < ?') && args.push(f.cursor);
    let outer = '';
    if (f.portName !== undefined) {
      outer = `WHERE dp_id IN (SELECT t.datapath_flow_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = ?)
        OR id IN (SELECT t.upcall_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = ?)`;
      args.push(f.portName, f.portName);
    }
    // The derived table is named: PostgreSQL (before 16) requires it.
    // By port: planned at each call, as a port's datapath flows are (storage/sql.ts PLAN_EACH_CALL).
    const sql = `${f.portName !== undefined ? PLAN_EACH_CALL : ''}SELECT * FROM (SELECT u.*, ${DP_OF_UPCALL} AS dp_id FROM upcall u ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY u.id DESC) AS linked ${outer} ORDER BY id DESC LIMIT ?`;
    const rows = await this.query().all<Row>(sql, ...args, f.limit + 1);
    return Promise.all(rows.map((r) => this.toJson(r)));
  }

  async get(id: number): Promise<UpcallJson | undefined> {
    const r = await this.query().get<Row>(`SELECT u.*, ${DP_OF_UPCALL} AS dp_id FROM upcall u WHERE u.id = ?`, id);
    return r && this.toJson(r);
  }

  private async toJson(r: Row): Promise<UpcallJson> {
    const q = this.query();
    const t =
      (await q.get<{ id: number }>('SELECT id FROM trace WHERE upcall_id = ? ORDER BY id DESC LIMIT 1', r.id)) ??
      (r.dp_id !== null ? await q.get<{ id: number }>('SELECT id FROM trace WHERE datapath_flow_id = ? ORDER BY id DESC LIMIT 1', r.dp_id) : undefined);
    return {
      id: r.id,
      chassis: r.chassis,
      source: r.source,
      eventId: r.event_id,
      time: r.time,
      upcallType: r.upcall_type,
      dpif: r.dpif,
      thread: r.thread,
      key: r.key,
      packet: r.packet,
      inPort: r.in_port,
      recircId: r.recirc_id,
      ufid: r.ufid,
      megaUfid: r.mega_ufid,
      flow: r.flow_key || r.flow_actions ? { key: r.flow_key, actions: r.flow_actions } : null,
      datapathFlowId: r.dp_id,
      traceId: t?.id ?? null,
      sampled: r.sampled === 1,
      extra: r.extra ? (JSON.parse(r.extra) as Record<string, unknown>) : null,
    };
  }
}
