// Annotated traces read back from their rows on one read connection: the trace row, its packed
// steps (step-pack.ts) with the rules, logical-flow snapshots and OVN objects they point to, and its
// ports, as the API shows them; `GET /traces`'s query. The service reads through the main thread's
// connection (TraceStore, trace-store.ts), the trace reader worker through its own
// (trace-read-worker.ts); statements are prepared once per connection.
import type { Database, Statement } from 'better-sqlite3';
import { makeCursor, Page } from '../common/query';
import { Statements } from '../storage/writer';
import { citedTraceIds, citesSql, CITES_HINT, CITES_LFLOW } from './citation-store';
import { PackedStep, unpackSteps } from './step-pack';
import { LogicalPortJson, OwnerJson, ownerJson, StepJson, TraceJson } from './trace-record';
import type { StepHint, StepOwner } from '../correlation/types';

/** Owner flags in a packed step. */
export const STALE = 1;
export const COLLISION = 2;

/** A trace filter with its logical port already resolved to the name trace_port is keyed by. */
export interface TraceListQuery {
  portName?: string;
  role?: 'inport' | 'outport' | 'any';
  ufid?: string;
  logicalFlow?: string;
  northboundUuid?: string;
  datapath?: string;
  verdict?: string;
  since?: string;
  until?: string;
  chassis?: string;
  sessionId?: number;
  cursor?: number;
  limit: number;
  withSteps: boolean;
}

/** A trace in a datapath flow lifetime's summary. */
export interface TraceOfFlow {
  id: number;
  createdAt: string;
  method: string;
  consistent: boolean | null;
  verdict: unknown;
  pathId: number | null;
}

/** Citations above which a filter by logical flow / northbound row is checked per trace. */
const WALK_ABOVE = 10_000;

export class TraceReadStore {
  private readonly statements: Statements;

  constructor(db: Database) {
    this.statements = new Statements(db);
  }

  private stmt(sql: string): Statement {
    return this.statements.get(sql);
  }

  /** The trace as the API shows it; steps only when asked (lists carry stepCount). */
  read(id: number, withSteps: boolean): TraceJson | undefined {
    const row = this.stmt('SELECT * FROM trace WHERE id = ?').get(id) as TraceRow | undefined;
    if (!row) return undefined;
    return this.fromRow(row, withSteps);
  }

  fromRow(row: TraceRow, withSteps: boolean): TraceJson {
    // One range of the primary key (trace_id, port_name, role, scope).
    return this.build(row, withSteps, this.stmt(`${PORT_COLUMNS} WHERE trace_id = ?`).raw().all(row.id) as PortRow[]);
  }

  /**
   * A page of traces: their ports in one statement for the page rather than one per trace (at 1M
   * the 51 statements of a port query's page were a third of its cost, bench/api/RESULTS.md).
   */
  fromRows(rows: TraceRow[], withSteps: boolean): TraceJson[] {
    if (rows.length < 2) return rows.map((r) => this.fromRow(r, withSteps));
    const byTrace = new Map<number, PortRow[]>();
    for (const r of rows) byTrace.set(r.id, []);
    const ports = this.stmt(`${PORT_COLUMNS} WHERE trace_id IN (SELECT value FROM json_each(?))`).raw().all(JSON.stringify(rows.map((r) => r.id))) as PortRow[];
    for (const p of ports) byTrace.get(p[0])?.push(p);
    return rows.map((r) => this.build(r, withSteps, byTrace.get(r.id) ?? []));
  }

  /** `GET /traces`: one page, newest first. */
  list(f: TraceListQuery): Page<TraceJson> {
    const where: string[] = [];
    const args: unknown[] = [];
    const refs = (sql: string, value: string): number[] => (this.stmt(sql).all(value) as Array<{ id: number }>).map((r) => r.id);
    /**
     * "The trace cites one of these rows" (trace_citation). Few citations: the traces' ids, from
     * the bitmaps (cost ~ citations). Many (a DP-group flow is in nearly every trace): checked per
     * trace while walking newest first, as materialising a million ids took seconds (bench/api).
     */
    const citing = (kind: number, ids0: number[]): void => {
      const ids = citedTraceIds((sql) => this.stmt(sql), kind, ids0, WALK_ABOVE);
      if (ids === 'many') where.push(citesSql(kind, 't.id')) && args.push(JSON.stringify(ids0));
      else where.push('t.id IN (SELECT value FROM json_each(?))') && args.push(JSON.stringify(ids));
    };
    // By port: walk trace_port's primary key (port_name, trace_id) newest first from the cursor
    // and join each trace by id, so the first page costs ~limit rows however many traces the port
    // has (an IN (subquery) materialised all of them; EXPLAIN QUERY PLAN in bench/api/RESULTS.md).
    let from = 'trace t';
    let order = 't.id';
    if (f.portName !== undefined) {
      from = 'trace_port p CROSS JOIN trace t ON t.id = p.trace_id';
      order = 'p.trace_id';
      where.push('p.port_name = ?') && args.push(f.portName);
      // A tunnel arrival's inport is the ingress key in the Geneve option (correlation/ports.ts:
      // tunnel_in), so a port's packets are its inport's on the receiving chassis too.
      if (f.role === 'inport') where.push(`p.role IN ('inport', 'tunnel_in')`);
      if (f.role === 'outport') where.push(`p.role IN ('outport', 'output', 'tunnel_out')`);
      if (f.cursor) where.push('p.trace_id < ?') && args.push(f.cursor);
    }
    // A trace's UFID is its datapath flow's (the tracer and ingest store them together).
    if (f.ufid)
      where.push('(t.datapath_flow_id IN (SELECT id FROM datapath_flow WHERE ufid = ?) OR (t.datapath_flow_id IS NULL AND t.ufid = ?))') &&
        args.push(f.ufid, f.ufid);
    if (f.logicalFlow) citing(CITES_LFLOW, refs('SELECT id FROM logical_flow_snapshot WHERE uuid = ?', f.logicalFlow));
    if (f.northboundUuid) citing(CITES_HINT, refs(`SELECT id FROM ovn_object WHERE uuid = ? AND db = 'OVN_Northbound'`, f.northboundUuid));
    if (f.datapath) where.push('t.id IN (SELECT trace_id FROM trace_port WHERE datapath = ?)') && args.push(f.datapath);
    if (f.verdict) where.push('t.verdict_kinds LIKE ?') && args.push(`%,${f.verdict},%`);
    if (f.since) where.push('t.created_at >= ?') && args.push(f.since);
    if (f.until) where.push('t.created_at <= ?') && args.push(f.until);
    if (f.chassis) where.push('t.chassis = ?') && args.push(f.chassis);
    if (f.sessionId) where.push('t.session_id = ?') && args.push(f.sessionId);
    if (f.cursor) where.push('t.id < ?') && args.push(f.cursor);
    const group = f.portName !== undefined ? ' GROUP BY p.trace_id' : '';
    const columns = f.withSteps ? 't.*' : TRACE_LIST_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ');
    const sql = `SELECT ${columns} FROM ${from} ${where.length ? 'WHERE ' + where.join(' AND ') : ''}${group} ORDER BY ${order} DESC LIMIT ?`;
    const rows = this.stmt(sql).all(...args, f.limit + 1) as TraceRow[];
    // The row past the limit only says there is a next page: not built.
    const items = this.fromRows(rows.slice(0, f.limit), f.withSteps);
    return { items, next: rows.length > f.limit ? makeCursor(items[items.length - 1].id) : null };
  }

  /** The name a logical port UUID was stored under (logical_port_alias), if any trace saw it. */
  portNameOfUuid(uuid: string): string | undefined {
    return (this.stmt('SELECT port_name FROM logical_port_alias WHERE uuid = ? LIMIT 1').get(uuid) as { port_name: string } | undefined)?.port_name;
  }

  /** The traces of a datapath flow lifetime, newest first, as its summary shows them. */
  ofDatapathFlow(flowId: number): TraceOfFlow[] {
    return (
      this.stmt('SELECT id, created_at, method, consistent, verdict, path_id FROM trace WHERE datapath_flow_id = ? ORDER BY id DESC').all(flowId) as Array<{
        id: number;
        created_at: string;
        method: string;
        consistent: number | null;
        verdict: string;
        path_id: number | null;
      }>
    ).map((t) => ({ id: t.id, createdAt: t.created_at, method: t.method, consistent: t.consistent == null ? null : t.consistent === 1, verdict: JSON.parse(t.verdict), pathId: t.path_id }));
  }

  /** Whether any trace touched a logical port of this name. */
  hasPort(name: string): boolean {
    return this.stmt('SELECT 1 FROM trace_port WHERE port_name = ? LIMIT 1').get(name) !== undefined;
  }

  private build(row: TraceRow, withSteps: boolean, portRows: PortRow[]): TraceJson {
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
      json.steps = this.readSteps(row.steps, (extra.collisions ?? {}) as Record<string, StepOwner[]>);
      json.warnings = (extra.warnings as string[]) ?? [];
      json.errors = (extra.errors as string[]) ?? [];
      json.translationFailed = (extra.translationFailed as string) ?? null;
    }
    return json;
  }

  /** Unpacks trace.steps and fetches the rows they refer to, one statement per table. */
  private readSteps(blob: Buffer, collisions: Record<string, StepOwner[]>): StepJson[] {
    const steps = unpackSteps(blob);
    const rules = this.byId<RuleRow>('SELECT id, bridge, table_id, priority, cookie, match, actions FROM of_rule', steps, (s) => s.ruleId);
    const lflows = this.byId<LflowRow>('SELECT id, uuid, datapaths, pipeline, table_id, stage, priority, match, actions, source FROM logical_flow_snapshot', steps, (s) => s.lflowId);
    const objects = this.byId<ObjectRow>('SELECT id, tbl, uuid, name, summary, detail FROM ovn_object', steps, (s) => s.ownerId, (s) => s.hintId);
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
      } else if (o) owners.push({ table: o.tbl, uuid: o.uuid, stale, name: o.name, summary: o.summary, ...objectDatapath(o.detail) });
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
  private byId<R extends { id: number }>(select: string, steps: PackedStep[], ...refs: Array<(s: PackedStep) => number | null>): Map<number, R> {
    const ids = new Set<number>();
    for (const s of steps) for (const ref of refs) {
      const id = ref(s);
      if (id !== null) ids.add(id);
    }
    const out = new Map<number, R>();
    if (!ids.size) return out;
    for (const row of this.stmt(`${select} WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify([...ids])) as R[]) out.set(row.id, row);
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


/** The logical datapath the store kept with a southbound owner (trace-store's ownerDetail), when any. */
function objectDatapath(detail: string | null): Pick<OwnerJson, 'datapath'> {
  const d = detail ? (JSON.parse(detail) as { datapath?: { name: string | null; uuid: string } | null }).datapath : undefined;
  return d === undefined ? {} : { datapath: d && { name: d.name, uuid: d.uuid } };
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

/** The columns of a logical flow snapshot a step cites (the audit reads the rest too). */
export interface LflowRow {
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
  detail: string | null;
}
