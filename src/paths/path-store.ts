// The SQL of paths: the path rows, which traces are a path's passes, and the recirculation edges
// that link their datapath flows. Writes run in the caller's writer transaction; reads are the
// API's (GET /paths/:id, the cross-check) and go through `storage.query` (SQLite or PostgreSQL).
import { Inject, Injectable } from '@nestjs/common';
import type { PushSignatureSeek } from '../ovs/push-signature';
import { SqliteReader, type SqlReader } from '../storage/sql';
import { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import type { TraceRow } from '../traces/trace-store';
import type { StoredPathVerdict } from './path-verdict';
import type { LinkFlow } from './tunnel-link';

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
  private readonly local: SqlReader;

  /** `query` when given (StoreService: read at each call, it becomes PostgreSQL's once opened), else the read connection. */
  constructor(@Inject(StoreService) private readonly storage: Pick<StoreService, 'db'> & { readonly query?: SqlReader }) {
    this.local = new SqliteReader(storage.db);
  }

  private get q(): SqlReader {
    return this.storage.query ?? this.local;
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

  path(id: number): Promise<PathRow | undefined> {
    return this.q.get<PathRow>('SELECT * FROM path WHERE id = ?', id);
  }

  /** The traces stored under the path, by id (the order SQLite's path_id index gave). */
  passes(pathId: number): Promise<TraceRow[]> {
    return this.q.all<TraceRow>('SELECT * FROM trace WHERE path_id = ? ORDER BY id', pathId);
  }

  trace(id: number): Promise<TraceRow | undefined> {
    return this.q.get<TraceRow>('SELECT * FROM trace WHERE id = ?', id);
  }

  /** The traces of the flows this flow recirculated from, newest first. */
  parentTraces(flowId: number): Promise<TraceRow[]> {
    return this.q.all<TraceRow>(
      `SELECT t.* FROM recirc_edge e JOIN trace t ON t.datapath_flow_id = e.parent_id
        WHERE e.child_id = ? ORDER BY t.id DESC`,
      flowId,
    );
  }

  /** The traces of the flows this flow recirculates into, newest first. */
  childTraces(flowId: number): Promise<TraceRow[]> {
    return this.q.all<TraceRow>(
      `SELECT t.* FROM recirc_edge e JOIN trace t ON t.datapath_flow_id = e.child_id
        WHERE e.parent_id = ? ORDER BY t.id DESC`,
      flowId,
    );
  }

  /** The recirculation edges between these flows. */
  async edgesAmong(flowIds: readonly number[]): Promise<EdgeRow[]> {
    if (!flowIds.length) return [];
    const q = this.q;
    return q.all<EdgeRow>(
      `SELECT parent_id, child_id, recirc_id FROM recirc_edge
        WHERE parent_id IN (${q.inList('int')}) AND child_id IN (${q.inList('int')})
        ORDER BY parent_id, child_id`,
      q.list(flowIds),
      q.list(flowIds),
    );
  }

  /** A datapath flow as the cross-chassis link reads it. */
  async flow(id: number): Promise<LinkFlowRow | undefined> {
    return (await this.flows([id]))[0];
  }

  /** Datapath flows as the cross-chassis link reads them, in one statement (a segment's passes), in no set order. */
  async flows(ids: readonly number[]): Promise<LinkFlowRow[]> {
    if (!ids.length) return [];
    const q = this.q;
    return q.all<LinkFlowRow>(`SELECT ${LINK_COLUMNS} FROM datapath_flow f WHERE f.id IN (${q.inList('int')})`, q.list(ids));
  }

  /**
   * First passes (recirc_id 0) on chassis other than `notChassis` whose tunnel signature is among
   * `signatures` (signaturesReaching of one push: its remote IP with VNI, ingress and egress each as
   * pushed or wildcarded) and whose lifetime meets [from, to], each with its newest trace: the
   * arrivals the push could have become. Index seeks (idx_dpflow_tunnel: the live ones, then those
   * removed since `from`, first seen by `to` read from the index), not a read of the receiver's
   * flow table; pushReaches decides on the rest.
   */
  arrivals(side: LinkSide, signatures: readonly string[], window: LinkWindow): Promise<LinkLook> {
    if (signatures.length !== SIGNATURES) throw new Error(`arrivals: ${signatures.length} tunnel signatures, expected ${SIGNATURES}`);
    return this.linkCandidates(side, 'datapath_flow f2', [{ sql: `f2.tunnel_sig IN (${signatures.map(() => '?').join(', ')})`, params: signatures }], window);
  }

  /**
   * Passes on chassis other than `notChassis` whose push signature is among `sought`
   * (pushSignaturesSought of the receiver's tunnel signature: the receiver's dst or `*`, its VNI and
   * port keys or `*|*|*`, prefixes where its mask wildcards a part) and whose lifetime meets
   * [from, to], each with its newest trace: the senders an arrival could have come from. Index seeks
   * and ranges (idx_dpflow_push: the live ones, then those removed since `from`, first seen by `to`
   * read from the index), not a search of the sending chassis's actions; senderOf decides on the rest.
   */
  senders(side: LinkSide, sought: PushSignatureSeek, window: LinkWindow): Promise<LinkLook> {
    // Without statistics SQLite prefers idx_dpflow_live's two equalities (chassis, removed_at IS
    // NULL: every live flow of the sender) to a prefix's range of push_sig; INDEXED BY is SQLite's
    // alone (PostgreSQL plans from its statistics).
    const seekIn = `datapath_flow f2${this.q.dialect === 'sqlite' ? ' INDEXED BY idx_dpflow_push' : ''}`;
    // One shape a subquery, each a seek or one range of the index: the exact values, then each prefix.
    return this.linkCandidates(
      side,
      seekIn,
      [
        { sql: `f2.push_sig IN (${sought.exact.map(() => '?').join(', ')})`, params: sought.exact },
        ...sought.prefixes.map((p) => ({ sql: 'f2.push_sig >= ? AND f2.push_sig < ?', params: [p.from, p.below] })),
      ],
      window,
    );
  }

  /**
   * The other side's flows that a signature index finds (`shapes`: conditions on `f2` in `seekIn`),
   * each shape sought among the live flows, then among those removed since `from`, first seen by
   * `to` (read from the index, with the chassis when the southbound names it), then those alive in
   * [from, to] with a trace (TAIL): the one walk both directions of the link take. At most
   * LINK_A_SIDE started at or before `near` and as many after it, each side nearest first (the
   * pick's own first rule, tunnel-link.ts `nearer`): past the limit go those least likely to win,
   * not the oldest. Times compare as text, as every read here does (no cast a stored time could
   * fail), so both databases cut alike; the rows come back newest first, then by the newer id.
   * `bounded` says a side had more than LINK_A_SIDE (one row past it is read to know), and `reach`
   * where each such side stopped: a candidate not read started at or beyond it, so a pick nearer
   * than every bounded side's reach is sure, and one that is not (or none found) may be wrong.
   */
  private async linkCandidates(side: LinkSide, seekIn: string, shapes: ReadonlyArray<{ sql: string; params: readonly string[] }>, window: LinkWindow): Promise<LinkLook> {
    const { from, to, near } = window;
    const onChassis = side.chassis !== null ? 'AND f2.chassis = ?' : '';
    const at = side.chassis !== null ? [side.chassis] : [];
    const notChassis = side.chassis !== null ? '' : 'AND f.chassis <> ?';
    // One side: its cut on first_seen inside every seek (a bounded range of the index), then its order.
    const look = (cut: string, bounds: readonly string[], order: 'ASC' | 'DESC') => {
      const subqueries: string[] = [];
      const params: unknown[] = [];
      for (const shape of shapes) {
        subqueries.push(`SELECT f2.id FROM ${seekIn} WHERE ${shape.sql} ${onChassis} AND f2.removed_at IS NULL AND ${cut}`);
        params.push(...shape.params, ...at, ...bounds);
        subqueries.push(`SELECT f2.id FROM ${seekIn} WHERE ${shape.sql} ${onChassis} AND f2.removed_at >= ? AND ${cut}`);
        params.push(...shape.params, ...at, from, ...bounds);
      }
      return this.q.all<LinkFlowRow>(
        `SELECT ${LINK_COLUMNS} FROM datapath_flow f WHERE f.id IN (${subqueries.join(' UNION ALL ')}) ${notChassis} ${TAIL}
           ORDER BY f.first_seen ${order}, f.id DESC LIMIT ${LINK_A_SIDE + 1}`,
        ...params,
        ...(side.chassis !== null ? [] : [side.notChassis]),
        to,
        from,
      );
    };
    const before = await look('f2.first_seen <= ?', [near], 'DESC');
    const after = await look('f2.first_seen > ? AND f2.first_seen <= ?', [near, to], 'ASC');
    const cut = (side: LinkFlowRow[]) => (side.length > LINK_A_SIDE ? side[LINK_A_SIDE - 1].first_seen : null);
    const reach = { before: cut(before), after: cut(after) };
    const bounded = reach.before !== null || reach.after !== null;
    const rows = [...before.slice(0, LINK_A_SIDE), ...after.slice(0, LINK_A_SIDE)];
    // The pick keeps the first of candidates tied on every rule (whole milliseconds): in stop 21's
    // order, newest text first, then the newer id, so such a tie resolves as it did.
    rows.sort((a, b) => (a.first_seen < b.first_seen ? 1 : a.first_seen > b.first_seen ? -1 : b.id - a.id));
    return { rows, bounded, reach };
  }

  /**
   * Passes on chassis other than `notChassis` whose datapath flow lifetime came in from the physical
   * network by one of `ports` (the localnet ports of one physical network and VLAN: localnet-hops.ts)
   * ('in', datapath_flow.localnet_in) or left to it by one ('out', localnet_out, but not one that came
   * in by them too: OVN drops inport == outport, so what such a pass output outside br-int was the
   * provider bridge's own flood to its LOCAL port), whose lifetime meets [from, to], each with its
   * newest trace: the candidates of a hop across the physical network. By lifetime, as a tunnel's
   * (linkCandidates: a lifetime is traced once, maybe long before the other side's), seeks of
   * idx_dpflow_localnet_in / idx_dpflow_localnet_out.
   */
  localnetPasses(direction: 'in' | 'out', ports: readonly string[], notChassis: string, window: LinkWindow): Promise<LinkLook> {
    if (!ports.length) return Promise.resolve({ rows: [], bounded: false, reach: { before: null, after: null } });
    const list = ports.map(() => '?').join(', ');
    const shape =
      direction === 'in'
        ? { sql: `f2.localnet_in IN (${list})`, params: ports }
        : { sql: `f2.localnet_out IN (${list}) AND (f2.localnet_in IS NULL OR f2.localnet_in NOT IN (${list}))`, params: [...ports, ...ports] };
    // As senders: without statistics SQLite may prefer idx_dpflow_live's equalities (see senders).
    const index = direction === 'in' ? 'idx_dpflow_localnet_in' : 'idx_dpflow_localnet_out';
    const seekIn = `datapath_flow f2${this.q.dialect === 'sqlite' ? ` INDEXED BY ${index}` : ''}`;
    return this.linkCandidates({ chassis: null, notChassis }, seekIn, [shape], window);
  }

  /**
   * The flows this flow recirculates into whose lifetime meets [from, to], as the cross-chassis link
   * reads them: an arrival megaflow's passes after conntrack, one set a packet that rode it (at most
   * CHILDREN_READ, the latest started first).
   */
  childFlows(flowId: number, window: Pick<LinkWindow, 'from' | 'to'>): Promise<LinkFlowRow[]> {
    return this.q.all<LinkFlowRow>(
      `SELECT ${LINK_COLUMNS} FROM recirc_edge e JOIN datapath_flow f ON f.id = e.child_id
        WHERE e.parent_id = ? AND f.first_seen <= ? AND coalesce(f.removed_at, f.last_seen) >= ?
        ORDER BY f.first_seen DESC, f.id DESC LIMIT ${CHILDREN_READ}`,
      flowId,
      window.to,
      window.from,
    );
  }

  /** The logical ports a trace's own pass names (scope 'pass'), with their roles. */
  passPorts(traceId: number): Promise<Array<{ port_name: string; role: string }>> {
    return this.q.all(`SELECT port_name, role FROM trace_port WHERE trace_id = ? AND scope = 'pass' ORDER BY port_name, role`, traceId);
  }

  /** The chassis's chassis_mark (chassis-mark-store.ts), null when its agent never told one. */
  async markOf(chassis: string): Promise<string | null> {
    return (await this.q.get<{ traced_through: string }>('SELECT traced_through FROM chassis_mark WHERE chassis = ?', chassis))?.traced_through ?? null;
  }

  /** Whether any chassis by this name has written a datapath flow into this store (an agent runs there). */
  async hasChassis(chassis: string): Promise<boolean> {
    return (await this.q.get('SELECT 1 AS found FROM datapath_flow WHERE chassis = ? LIMIT 1', chassis)) !== undefined;
  }
}

/** A flow row as the link compares it: its lifetime in epoch ms (to: removed, else last seen), the row kept. */
export function linkFlowOf(r: LinkFlowRow): LinkFlow & { row: LinkFlowRow } {
  return { chassis: r.chassis, key: r.key, actions: r.actions, recircId: Number(r.recirc_id), from: Date.parse(r.first_seen), to: Date.parse(r.removed_at ?? r.last_seen), row: r };
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

/** What one look found: the candidates, and whether a side had more than LINK_A_SIDE (the farthest were not read). */
export interface LinkLook {
  rows: LinkFlowRow[];
  bounded: boolean;
  /** The start (first_seen) of the farthest candidate read on a side that had more; null on a side read whole. */
  reach: { before: string | null; after: string | null };
}

/** Where a look searches: lifetimes meeting [from, to], the nearest their start to `near` first (ISO times). */
export interface LinkWindow {
  from: string;
  to: string;
  near: string;
}

/**
 * Candidates one look reads at most on each side of its reference start. A sender megaflow alive
 * for an hour meets every flow the receiver set up in that hour; the nearest fitting one wins, and
 * it may be past any first few hundred.
 */
export const LINK_A_SIDE = 2048;

/** Recirculations of one flow read at once by childFlows: one a conntrack state and recirculation, seldom more than a few. */
const CHILDREN_READ = 256;

/** How many signatures `arrivals` takes: signaturesReaching's eight, so its SQL is one text. */
const SIGNATURES = 8;

/** Alive in [from, to] and traced (the order, so the LIMIT and the pick see one order on both databases, is linkCandidates'). */
const TAIL = 'AND f.first_seen <= ? AND coalesce(f.removed_at, f.last_seen) >= ? AND EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = f.id)';

const FLOW_COLUMNS = 'f.id, f.chassis, f.key, f.actions, f.recirc_id, f.first_seen, f.last_seen, f.removed_at';

const LINK_COLUMNS = `${FLOW_COLUMNS}, (SELECT max(t.id) FROM trace t WHERE t.datapath_flow_id = f.id) AS trace_id`;
