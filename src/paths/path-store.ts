// The SQL of paths: the path rows, which traces are a path's passes, and the recirculation edges
// that link their datapath flows. Writes run in the caller's writer transaction; reads use the
// read connection.
import { Inject, Injectable } from '@nestjs/common';
import type { Statement } from 'better-sqlite3';
import { StoreService } from '../storage/store.service';
import { Statements, WriteContext } from '../storage/writer';
import type { TraceRow } from '../traces/trace-store';
import type { StoredPathVerdict } from './path-verdict';

export interface PathRow {
  id: number;
  chassis: string;
  created_at: string;
  updated_at: string;
  verdict: string;
}

export interface EdgeRow {
  parent_id: number;
  child_id: number;
  recirc_id: string;
}

@Injectable()
export class PathStore {
  private readonly statements: Statements;

  constructor(@Inject(StoreService) storage: Pick<StoreService, 'db'>) {
    this.statements = new Statements(storage.db);
  }

  private stmt(sql: string): Statement {
    return this.statements.get(sql);
  }

  create(tx: WriteContext, chassis: string, now: string): number {
    return Number(tx.stmt('INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, ?)').run(chassis, now, now, '{}').lastInsertRowid);
  }

  setVerdict(tx: WriteContext, pathId: number, verdict: StoredPathVerdict, now: string): void {
    tx.stmt('UPDATE path SET verdict = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(verdict), now, pathId);
  }

  /** Retention: deletes the path once no trace is stored under it; returns whether it went. */
  deleteIfEmpty(tx: WriteContext, pathId: number): boolean {
    return tx.stmt('DELETE FROM path WHERE id = ? AND NOT EXISTS (SELECT 1 FROM trace WHERE path_id = ?)').run(pathId, pathId).changes > 0;
  }

  /** Moves every pass of path `from` into path `into` and deletes `from`. */
  merge(tx: WriteContext, into: number, from: number): void {
    tx.stmt('UPDATE trace SET path_id = ? WHERE path_id = ?').run(into, from);
    tx.stmt('DELETE FROM path WHERE id = ?').run(from);
  }

  path(id: number): PathRow | undefined {
    return this.stmt('SELECT * FROM path WHERE id = ?').get(id) as PathRow | undefined;
  }

  passes(pathId: number): TraceRow[] {
    return this.stmt('SELECT * FROM trace WHERE path_id = ?').all(pathId) as TraceRow[];
  }

  trace(id: number): TraceRow | undefined {
    return this.stmt('SELECT * FROM trace WHERE id = ?').get(id) as TraceRow | undefined;
  }

  /** The traces of the flows this flow recirculated from, newest first. */
  parentTraces(flowId: number): TraceRow[] {
    return this.stmt(
      `SELECT t.* FROM recirc_edge e JOIN trace t ON t.datapath_flow_id = e.parent_id
        WHERE e.child_id = ? ORDER BY t.id DESC`,
    ).all(flowId) as TraceRow[];
  }

  /** The traces of the flows this flow recirculates into, newest first. */
  childTraces(flowId: number): TraceRow[] {
    return this.stmt(
      `SELECT t.* FROM recirc_edge e JOIN trace t ON t.datapath_flow_id = e.child_id
        WHERE e.parent_id = ? ORDER BY t.id DESC`,
    ).all(flowId) as TraceRow[];
  }

  /** The recirculation edges between these flows. */
  edgesAmong(flowIds: readonly number[]): EdgeRow[] {
    if (!flowIds.length) return [];
    const ids = JSON.stringify(flowIds);
    return this.stmt(
      `SELECT parent_id, child_id, recirc_id FROM recirc_edge
        WHERE parent_id IN (SELECT value FROM json_each(?)) AND child_id IN (SELECT value FROM json_each(?))
        ORDER BY parent_id, child_id`,
    ).all(ids, ids) as EdgeRow[];
  }

  /** A datapath flow as the cross-chassis link reads it. */
  flow(id: number): LinkFlowRow | undefined {
    return this.stmt(`SELECT ${LINK_COLUMNS} FROM datapath_flow f WHERE f.id = ?`).get(id) as LinkFlowRow | undefined;
  }

  /**
   * First passes (recirc_id 0) on chassis other than `notChassis` whose key holds a tunnel to
   * `dst` and whose lifetime meets [from, to], each with its newest trace: the arrivals a push
   * could have become. Bounded: a window holds a handful per packet.
   */
  arrivals(side: LinkSide, dst: string, from: string, to: string): LinkFlowRow[] {
    return this.candidates(side, "f.recirc_id = '0x0' AND instr(f.key, 'tunnel(') > 0 AND instr(f.key, ?) > 0", dst, from, to);
  }

  /**
   * Passes on chassis other than `notChassis` whose actions push a tunnel to `dst`, lifetime meeting
   * [from, to], each with its newest trace: the senders an arrival could have come from.
   */
  senders(side: LinkSide, dst: string, from: string, to: string): LinkFlowRow[] {
    return this.candidates(side, "(instr(f.actions, 'tnl_push(') > 0 OR instr(f.actions, 'set(tunnel(') > 0) AND instr(f.actions, ?) > 0", dst, from, to);
  }

  /**
   * Flows of the other side alive in [from, to] with a trace. With the other chassis's name (the
   * southbound Encap of the tunnel's IP) the walk is that chassis's live and recently removed flows
   * (idx_dpflow_live, two ranges), not the whole table.
   */
  private candidates(side: LinkSide, match: string, dst: string, from: string, to: string): LinkFlowRow[] {
    const tail = 'AND f.first_seen <= ? AND coalesce(f.removed_at, f.last_seen) >= ? AND trace_id IS NOT NULL ORDER BY f.first_seen DESC LIMIT 256';
    const needle = `dst=${dst},`;
    if (side.chassis !== null) {
      return this.stmt(
        `SELECT ${LINK_COLUMNS} FROM datapath_flow f
          WHERE f.id IN (SELECT id FROM datapath_flow WHERE chassis = ? AND removed_at IS NULL
                         UNION ALL SELECT id FROM datapath_flow WHERE chassis = ? AND removed_at >= ?)
            AND ${match} ${tail}`,
      ).all(side.chassis, side.chassis, from, needle, to, from) as LinkFlowRow[];
    }
    return this.stmt(`SELECT ${LINK_COLUMNS} FROM datapath_flow f WHERE f.chassis <> ? AND ${match} ${tail}`).all(side.notChassis, needle, to, from) as LinkFlowRow[];
  }

  /** Whether any chassis by this name has written a datapath flow into this store (an agent runs there). */
  hasChassis(chassis: string): boolean {
    return this.stmt('SELECT 1 FROM datapath_flow WHERE chassis = ? LIMIT 1').get(chassis) !== undefined;
  }
}

/** Where the other end of a tunnel is looked for: that chassis when the southbound names it, else any other. */
export interface LinkSide {
  chassis: string | null;
  notChassis: string;
}

export interface LinkFlowRow {
  id: number;
  chassis: string;
  key: string;
  actions: string;
  recirc_id: string;
  first_seen: string;
  last_seen: string;
  removed_at: string | null;
  /** The newest trace of the flow (its pass), null when it has none. */
  trace_id: number | null;
}

const LINK_COLUMNS =
  'f.id, f.chassis, f.key, f.actions, f.recirc_id, f.first_seen, f.last_seen, f.removed_at, ' +
  '(SELECT max(t.id) FROM trace t WHERE t.datapath_flow_id = f.id) AS trace_id';
