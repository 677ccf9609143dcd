// Annotated traces read back from their rows: the trace row, its packed steps (step-pack.ts) with
// the rules, logical-flow snapshots and OVN objects they point to, and its ports, as the API shows
// them. TraceStore (the write side) extends it; statements are prepared once per connection.
import type { Database, Statement } from 'better-sqlite3';
import { PackedStep, unpackSteps } from './step-pack';
import { LogicalPortJson, OwnerJson, StepJson, TraceJson } from './trace-record';
import type { StepHint, StepOwner } from '../correlation/types';

/** Owner flags in a packed step. */
export const STALE = 1;
export const COLLISION = 2;

export class TraceReader {

  private readonly readStmts = new WeakMap<Database, Map<string, Statement>>();

  /** A read statement prepared once per connection (a list of 50 traces runs 50 port queries). */
  stmt(db: Database, sql: string): Statement {
    let m = this.readStmts.get(db);
    if (!m) this.readStmts.set(db, (m = new Map()));
    let st = m.get(sql);
    if (!st) m.set(sql, (st = db.prepare(sql)));
    return st;
  }

  /** The trace as the API shows it; steps only when asked (lists carry stepCount). */
  read(db: Database, id: number, withSteps: boolean): TraceJson | undefined {
    const row = this.stmt(db, 'SELECT * FROM trace WHERE id = ?').get(id) as TraceRow | undefined;
    if (!row) return undefined;
    return this.fromRow(db, row, withSteps);
  }

  fromRow(db: Database, row: TraceRow, withSteps: boolean): TraceJson {
    // One range of the primary key (trace_id, port_name, role, scope).
    return this.build(db, row, withSteps, this.stmt(db, `${PORT_COLUMNS} WHERE trace_id = ?`).raw().all(row.id) as PortRow[]);
  }

  /**
   * A page of traces: their ports in one statement for the page rather than one per trace (at 1M
   * the 51 statements of a port query's page were a third of its cost, bench/api/RESULTS.md).
   */
  fromRows(db: Database, rows: TraceRow[], withSteps: boolean): TraceJson[] {
    if (rows.length < 2) return rows.map((r) => this.fromRow(db, r, withSteps));
    const byTrace = new Map<number, PortRow[]>();
    for (const r of rows) byTrace.set(r.id, []);
    const ports = this.stmt(db, `${PORT_COLUMNS} WHERE trace_id IN (SELECT value FROM json_each(?))`).raw().all(JSON.stringify(rows.map((r) => r.id))) as PortRow[];
    for (const p of ports) byTrace.get(p[0])?.push(p);
    return rows.map((r) => this.build(db, r, withSteps, byTrace.get(r.id) ?? []));
  }

  private build(db: Database, row: TraceRow, withSteps: boolean, portRows: PortRow[]): TraceJson {
    // Sorted here rather than by a temp b-tree in SQLite (byte order, as SQLite's BINARY collation).
    const ports = portRows.sort((a, b) => cmp(b[3], a[3]) || cmp(a[2], b[2]) || cmp(a[1], b[1])); // scope desc, role, name
    const json: TraceJson = {
      id: row.id,
      ufid: row.ufid,
      chassis: row.chassis,
      bridge: row.bridge,
      createdAt: row.created_at,
      method: row.method,
      methodReason: row.method_reason,
      recircId: row.recirc_id,
      flow: row.flow,
      finalFlow: unpackFinalFlow(row.flow, row.final_flow),
      megaflow: row.megaflow,
      datapathActions: row.datapath_actions,
      consistent: row.consistent == null ? null : row.consistent === 1,
      consistentReason: row.consistent_reason,
      pathId: row.path_id,
      datapathFlowId: row.datapath_flow_id,
      sessionId: row.session_id,
      verdict: JSON.parse(row.verdict),
      logicalPorts: ports.map((p): LogicalPortJson => ({ name: p[1], uuid: p[4], bindingUuid: p[5], datapath: p[6], role: p[2], scope: p[3] })),
      stepCount: row.step_count,
    };
    if (withSteps) {
      const extra = row.extra ? (JSON.parse(row.extra) as Record<string, unknown>) : {};
      json.steps = this.readSteps(db, row.steps, (extra.collisions ?? {}) as Record<string, StepOwner[]>);
      json.warnings = (extra.warnings as string[]) ?? [];
      json.errors = (extra.errors as string[]) ?? [];
      json.translationFailed = (extra.translationFailed as string) ?? null;
    }
    return json;
  }

  /** Unpacks trace.steps and fetches the rows they refer to, one statement per table. */
  private readSteps(db: Database, blob: Buffer, collisions: Record<string, StepOwner[]>): StepJson[] {
    const steps = unpackSteps(blob);
    const rules = this.byId<RuleRow>(db, 'SELECT id, bridge, table_id, priority, cookie, match, actions FROM of_rule', steps, (s) => s.ruleId);
    const lflows = this.byId<LflowRow>(db, 'SELECT id, uuid, datapaths, pipeline, table_id, stage, priority, match, actions, source FROM logical_flow_snapshot', steps, (s) => s.lflowId);
    const objects = this.byId<ObjectRow>(db, 'SELECT id, tbl, uuid, name, summary FROM ovn_object', steps, (s) => s.ownerId, (s) => s.hintId);
    const out: StepJson[] = [];
    for (const s of steps) {
      const r = rules.get(s.ruleId);
      if (!r) continue; // rules are never deleted; a missing one was never committed
      const stale = (s.flags & STALE) !== 0;
      const owners: OwnerJson[] = [];
      const l = s.lflowId !== null ? lflows.get(s.lflowId) : undefined;
      const o = s.ownerId !== null ? objects.get(s.ownerId) : undefined;
      if (l) {
        owners.push({
          table: 'Logical_Flow',
          uuid: l.uuid,
          stale,
          datapaths: (JSON.parse(l.datapaths) as Array<{ name: string | null; uuid: string; nbUuid: string | null }>).map((d) => ({
            name: d.name,
            uuid: d.uuid,
            nbUuid: d.nbUuid,
          })),
          pipeline: l.pipeline,
          tableId: l.table_id,
          stage: l.stage,
          priority: l.priority,
          match: l.match,
          actions: l.actions,
          source: l.source,
        });
      } else if (o) owners.push({ table: o.tbl, uuid: o.uuid, stale, name: o.name, summary: o.summary });
      for (const c of collisions[String(s.seq)] ?? []) owners.push(ownerJson(c));
      const h = s.hintId !== null ? objects.get(s.hintId) : undefined;
      out.push({
        seq: s.seq,
        depth: s.depth,
        bridge: r.bridge,
        table: r.table_id,
        priority: r.priority,
        cookie: r.cookie,
        match: r.match,
        actions: r.actions,
        owners,
        collision: (s.flags & COLLISION) !== 0,
        northbound: h ? { table: h.tbl as StepHint['table'], uuid: h.uuid, name: h.name, summary: h.summary } : null,
      });
    }
    return out;
  }

  /** The rows of one table the steps refer to, by id (one prepared statement, ids as a JSON array). */
  private byId<R extends { id: number }>(db: Database, select: string, steps: PackedStep[], ...refs: Array<(s: PackedStep) => number | null>): Map<number, R> {
    const ids = new Set<number>();
    for (const s of steps) for (const ref of refs) {
      const id = ref(s);
      if (id !== null) ids.add(id);
    }
    const out = new Map<number, R>();
    if (!ids.size) return out;
    for (const row of this.stmt(db, `${select} WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify([...ids])) as R[]) out.set(row.id, row);
    return out;
  }
}

/**
 * The final flow is the flow plus the registers the pipeline set: stored as what differs from
 * the flow (NUL, shared prefix length, shared suffix length, middle), ~250 bytes less per trace.
 */
export function packFinalFlow(flow: string, final: string): string {
  const max = Math.min(flow.length, final.length);
  let p = 0;
  while (p < max && flow.charCodeAt(p) === final.charCodeAt(p)) p++;
  let q = 0;
  while (q < max - p && flow.charCodeAt(flow.length - 1 - q) === final.charCodeAt(final.length - 1 - q)) q++;
  if (p + q < 32) return final;
  return `\u0000${p},${q},${final.slice(p, final.length - q)}`;
}

export function unpackFinalFlow(flow: string, stored: string): string {
  if (stored.charCodeAt(0) !== 0) return stored;
  const a = stored.indexOf(',');
  const b = stored.indexOf(',', a + 1);
  const p = Number(stored.slice(1, a));
  const q = Number(stored.slice(a + 1, b));
  return flow.slice(0, p) + stored.slice(b + 1) + flow.slice(flow.length - q);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);


function ownerJson(o: StepOwner): OwnerJson {
  if (o.logicalFlow) {
    const lf = o.logicalFlow;
    return {
      table: o.table,
      uuid: o.uuid,
      stale: o.stale,
      datapaths: lf.datapaths.map((d) => ({ name: d.name, uuid: d.uuid, nbUuid: d.nbUuid })),
      pipeline: lf.pipeline,
      tableId: lf.tableId,
      stage: lf.stage,
      priority: lf.priority,
      match: lf.match,
      actions: lf.actions,
      source: lf.source,
    };
  }
  return { table: o.table, uuid: o.uuid, stale: o.stale, name: o.name ?? null, summary: o.summary ?? '' };
}

const PORT_COLUMNS = 'SELECT trace_id, port_name, role, scope, port_uuid, binding_uuid, datapath FROM trace_port';

/** A trace_port row as an array (raw statements: ~40 % cheaper than objects at ~230 rows a page). */
type PortRow = [
  trace_id: number,
  port_name: string,
  role: string,
  scope: 'pass' | 'path',
  port_uuid: string | null,
  binding_uuid: string | null,
  datapath: string | null,
];

/** The trace columns a list without steps shows (the packed steps and `extra` stay on disk). */
export const TRACE_LIST_COLUMNS =
  'id, chassis, created_at, datapath_flow_id, session_id, ufid, method, method_reason, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, consistent, consistent_reason, verdict, path_id, step_count';

export interface TraceRow {
  id: number;
  chassis: string;
  created_at: string;
  datapath_flow_id: number | null;
  upcall_id: number | null;
  session_id: number | null;
  ufid: string | null;
  method: string;
  method_reason: string | null;
  bridge: string | null;
  recirc_id: string;
  flow: string;
  final_flow: string;
  megaflow: string;
  datapath_actions: string;
  consistent: number | null;
  consistent_reason: string | null;
  verdict_kinds: string;
  verdict: string;
  path_id: number | null;
  step_count: number;
  extra: string | null;
  steps: Buffer;
}

interface RuleRow {
  id: number;
  bridge: string | null;
  table_id: number;
  priority: number | null;
  cookie: string | null;
  match: string;
  actions: string;
}

interface LflowRow {
  id: number;
  uuid: string;
  datapaths: string;
  pipeline: string;
  table_id: number;
  stage: string | null;
  priority: number;
  match: string;
  actions: string;
  source: string | null;
}

interface ObjectRow {
  id: number;
  tbl: string;
  uuid: string;
  name: string | null;
  summary: string;
}
