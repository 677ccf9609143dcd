// Annotated traces read back from their rows: the trace row, its packed steps with the rules,
// logical-flow snapshots and OVN objects they point to (step-store.ts), and its ports, as the API
// shows them; `GET /traces`'s query. Reads go through a SqlReader (storage/sql.ts): the service's
// `storage.query` (TraceStore, trace-store.ts: SQLite or PostgreSQL), or the trace reader worker's
// own connection (src/read-workers/read-worker.ts). The SQL is written once for both dialects.
import { makeCursor, makeTraceCursor, Page, TracePosition } from '../common/query';
import { endingOfExtra } from '../ovs/trace-ending';
import type { SqlReader } from '../storage/sql';
import { inSession } from './trace-extra-session-store';
import { citesSql, CITES_HINT, CITES_LFLOW, tracesCiting } from './citation-store';
import { LogicalPortJson, TraceJson, traceOrigin } from './trace-record';
import type { StepOwner } from '../correlation/types';
import { slotBase, slotOf } from './trace-slot-store';
import { unpackFinalFlow } from './final-flow';
import { readSteps, stepRows, StepRows } from './step-store';

export { packFinalFlow, unpackFinalFlow } from './final-flow';
export { COLLISION, STALE } from './step-store';
export type { LflowRow } from './step-store';

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
  /** The page is below this position (the API's cursor): newest first by time, then id, across writers. */
  before?: TracePosition;
  /**
   * Below this trace id. With `above`: the stream's walk of one writer slot, by id. Without: a
   * cursor the API returned before pages were ordered by time, placed at its trace's time (positionBelow).
   */
  cursor?: number;
  /** Only ids above this (the stream's floor in one writer slot: its walk ends there, not a page below); the walk is by id. */
  above?: number;
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
  /** A reader, or how to get the current one (StoreService.query may be replaced at startup). */
  constructor(private readonly source: SqlReader | (() => SqlReader)) {}

  private get q(): SqlReader {
    return typeof this.source === 'function' ? this.source() : this.source;
  }

  /** The trace as the API shows it; steps only when asked (lists carry stepCount). */
  async read(id: number, withSteps: boolean): Promise<TraceJson | undefined> {
    const row = await this.q.get<TraceRow>('SELECT * FROM trace WHERE id = ?', id);
    if (!row) return undefined;
    return this.fromRow(row, withSteps);
  }

  async fromRow(row: TraceRow, withSteps: boolean): Promise<TraceJson> {
    // One range of the primary key (trace_id, port_name, role, scope).
    const ports = await this.q.rows<PortRow>(`${PORT_COLUMNS} WHERE trace_id = ?`, row.id);
    return this.build(row, withSteps, ports, withSteps ? await stepRows(this.q, [row]) : undefined);
  }

  /**
   * A page of traces: their ports in one statement for the page rather than one per trace (at 1M
   * the 51 statements of a port query's page were a third of its cost, bench/api/RESULTS.md), and
   * the rows their steps cite in one statement per table.
   */
  async fromRows(rows: Array<TraceRow & { page_ports?: PortJsonRow[] | null }>, withSteps: boolean): Promise<TraceJson[]> {
    const byTrace = new Map<number, PortRow[]>();
    if (rows.length && rows.every((r) => r.page_ports !== undefined)) {
      // PostgreSQL's page read them (list(): PORTS_OF_PAGE).
      for (const r of rows) byTrace.set(r.id, (r.page_ports ?? []).map((p) => [r.id, ...p]));
    } else {
      if (rows.length < 2) return Promise.all(rows.map((r) => this.fromRow(r, withSteps)));
      for (const r of rows) byTrace.set(r.id, []);
      const q = this.q;
      const ports = await q.rows<PortRow>(`${PORT_COLUMNS} WHERE trace_id IN (${q.inList('int')})`, q.list(rows.map((r) => r.id)));
      for (const p of ports) byTrace.get(p[0])?.push(p);
    }
    const cited = withSteps ? await stepRows(this.q, rows) : undefined;
    return rows.map((r) => this.build(r, withSteps, byTrace.get(r.id) ?? [], cited));
  }

  /**
   * `GET /traces`: one page, newest first by trace time, then id (a total order; ids alone order
   * only one writer's traces: each PostgreSQL writer has its own id range). With `above` (the
   * stream's walk of one writer slot) by id.
   */
  async list(f: TraceListQuery): Promise<Page<TraceJson>> {
    const q = this.q;
    const byId = f.above !== undefined;
    let before = f.before;
    if (!byId && !before && f.cursor) {
      const at = await positionBelow(q, f.cursor);
      if (!at) return { items: [], next: null };
      before = at;
    }
    const where: string[] = [];
    const args: unknown[] = [];
    const refs = async (sql: string, value: string): Promise<number[]> => (await q.all<{ id: number }>(sql, value)).map((r) => r.id);
    /**
     * "The trace cites one of these rows" (trace_citation). Few citations: the traces' ids, from
     * the bitmaps (cost ~ citations). Many (a DP-group flow is in nearly every trace): checked per
     * trace while walking newest first, as materialising a million ids took seconds (bench/api).
     */
    const citing = async (kind: number, ids0: number[]): Promise<void> => {
      const ids = await tracesCiting(q, kind, ids0, WALK_ABOVE);
      if (ids === 'many') where.push(citesSql(kind, 't.id', q.inList('int'), q.dialect)) && args.push(q.list(ids0));
      else where.push(`t.id IN (${q.inList('int')})`) && args.push(q.list(ids));
    };
    // By port: walk trace_port's index (port_name, created_at, trace_id) newest first from the
    // cursor (the trace's time is copied into its port rows for this) and join each trace by id, so
    // the first page costs ~limit rows however many traces the port has (an IN (subquery)
    // materialised all of them; EXPLAIN in bench/api/RESULTS.md). Without a port, trace's
    // (created_at, id) index (SQLite: created_at, the rowid being the id).
    let from = 'trace t';
    // [time, id] columns of the walk.
    let key = ['t.created_at', 't.id'];
    if (f.portName !== undefined) {
      // CROSS JOIN keeps SQLite's planner to that order; the join condition is in WHERE because
      // PostgreSQL takes no ON after CROSS JOIN.
      from = 'trace_port p CROSS JOIN trace t';
      key = ['p.created_at', 'p.trace_id'];
      where.push('p.port_name = ?') && args.push(f.portName);
      // A tunnel arrival's inport is the ingress key in the Geneve option (correlation/ports.ts:
      // tunnel_in), so a port's packets are its inport's on the receiving chassis too.
      if (f.role === 'inport') where.push(`p.role IN ('inport', 'tunnel_in')`);
      if (f.role === 'outport') where.push(`p.role IN ('outport', 'output', 'tunnel_out')`);
    }
    const [time, id] = key;
    // A trace's UFID is its datapath flow's (the tracer and ingest store them together).
    if (f.ufid)
      where.push('(t.datapath_flow_id IN (SELECT id FROM datapath_flow WHERE ufid = ?) OR (t.datapath_flow_id IS NULL AND t.ufid = ?))') &&
        args.push(f.ufid, f.ufid);
    if (f.logicalFlow) await citing(CITES_LFLOW, await refs('SELECT id FROM logical_flow_snapshot WHERE uuid = ?', f.logicalFlow));
    if (f.northboundUuid) await citing(CITES_HINT, await refs(`SELECT id FROM ovn_object WHERE uuid = ? AND db = 'OVN_Northbound'`, f.northboundUuid));
    if (f.datapath) where.push('t.id IN (SELECT trace_id FROM trace_port WHERE datapath = ?)') && args.push(f.datapath);
    // LIKE's case rule differs (SQLite ignores ASCII case) but not here: verdict_kinds and the
    // verdicts the API accepts are lowercase words without LIKE wildcards.
    if (f.verdict) where.push('t.verdict_kinds LIKE ?') && args.push(`%,${f.verdict},%`);
    // On the walk's own time column: a range of its index.
    if (f.since) where.push(`${time} >= ?`) && args.push(f.since);
    if (f.until) where.push(`${time} <= ?`) && args.push(f.until);
    if (f.chassis) where.push('t.chassis = ?') && args.push(f.chassis);
    if (f.sessionId) {
      const s = inSession('t', f.sessionId);
      where.push(s.sql) && args.push(...s.args);
    }
    if (byId) {
      if (f.cursor) where.push(`${id} < ?`) && args.push(f.cursor);
      where.push(`${id} > ?`) && args.push(f.above);
    } else if (before) where.push(`(${time}, ${id}) < (?, ?)`) && args.push(before.at, before.id);
    const keys = byId ? [id] : [time, id];
    // One row per trace of the port (it has several port rows: roles, scopes). PostgreSQL wants the
    // trace's key grouped to select its columns; in SQLite that extra column costs two temp b-trees
    // (the walk along the port's index no longer gives the order), so each gets its own clause.
    const group = f.portName === undefined ? '' : ` GROUP BY ${keys.join(', ')}${q.dialect === 'postgres' ? ', t.id' : ''}`;
    const columns = f.withSteps ? 't.*' : TRACE_LIST_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ');
    // The cursor is the walk's own position: a port row's time is its trace's, except a row an old
    // agent shipped before its trace (PostgreSQL's fill leaves '') — a cursor from the trace's time
    // would then page back to it forever.
    const walkAt = f.portName === undefined || byId ? '' : `, ${time} AS walk_at`;
    const all = f.portName === undefined ? where : ['t.id = p.trace_id', ...where];
    let sql = `SELECT ${columns}${walkAt} FROM ${from} ${all.length ? 'WHERE ' + all.join(' AND ') : ''}${group} ORDER BY ${keys.map((k) => `${k} DESC`).join(', ')} LIMIT ?`;
    // PostgreSQL: each trace of the page with its port rows, one statement where the page and its
    // ports were two round trips (bench/api/RESULTS-postgres.md, stop 27); ordered again by the
    // walk's key as the page's columns name it (a sort of limit + 1 rows, if the plan keeps one).
    if (q.dialect === 'postgres') {
      const outer = byId ? ['page.id'] : [walkAt ? 'page.walk_at' : 'page.created_at', 'page.id'];
      sql = `SELECT page.*, ${PORTS_OF_PAGE} FROM (${sql}) page ORDER BY ${outer.map((k) => `${k} DESC`).join(', ')}`;
    }
    type PageRow = TraceRow & { walk_at?: string; page_ports?: PortJsonRow[] | null };
    // PostgreSQL, a port's walk by time that no column of the trace filters: its first traces.
    const firstTraces = q.dialect === 'postgres' && walkAt && !(f.ufid || f.logicalFlow || f.northboundUuid || f.datapath || f.verdict || f.chassis || f.sessionId);
    let rows = firstTraces ? await q.all<PageRow>(firstTracesOfPort(where, columns), ...args, f.limit + 1) : undefined;
    // A port row whose trace is not there (shipped ahead of it, or its trace pruned first) is no
    // trace of the page, and the page may go on past it: the walk that joins every row then.
    if (!rows || rows.some((r) => r.id == null)) rows = await q.all<PageRow>(sql, ...args, f.limit + 1);
    // The row past the limit only says there is a next page: not built.
    const items = await this.fromRows(rows.slice(0, f.limit), f.withSteps);
    const last = items[items.length - 1];
    return { items, next: rows.length > f.limit ? (byId ? makeCursor(last.id) : makeTraceCursor({ at: rows[f.limit - 1].walk_at ?? last.createdAt, id: last.id })) : null };
  }

  /** The name a logical port UUID was stored under (logical_port_alias), if any trace saw it. */
  async portNameOfUuid(uuid: string): Promise<string | undefined> {
    // Ordered: the key (uuid, port_name) allows several names; the first in byte order, as before.
    return (await this.q.get<{ port_name: string }>('SELECT port_name FROM logical_port_alias WHERE uuid = ? ORDER BY port_name LIMIT 1', uuid))?.port_name;
  }

  /**
   * The name a datapath UUID was stored under, if a trace's step cited the datapath's own row: a
   * Datapath_Binding owner (southbound) or a Logical_Switch / Logical_Router stage-hint
   * (northbound). By idx_ovn_object_uuid; the datapath every other owner carries sits in its detail
   * JSON, which no index reaches.
   */
  async datapathNameOfUuid(uuid: string): Promise<string | undefined> {
    return (
      await this.q.get<{ name: string }>(
        `SELECT name FROM ovn_object WHERE uuid = ? AND tbl IN ('Datapath_Binding', 'Logical_Switch', 'Logical_Router') AND name IS NOT NULL ORDER BY name LIMIT 1`,
        uuid,
      )
    )?.name;
  }

  /** The traces of a datapath flow lifetime, newest first, as its summary shows them. */
  async ofDatapathFlow(flowId: number): Promise<TraceOfFlow[]> {
    const rows = await this.q.all<{ id: number; created_at: string; method: string; consistent: number | null; verdict: string; path_id: number | null }>(
      'SELECT id, created_at, method, consistent, verdict, path_id FROM trace WHERE datapath_flow_id = ? ORDER BY id DESC',
      flowId,
    );
    return rows.map((t) => ({ id: t.id, createdAt: t.created_at, method: t.method, consistent: t.consistent == null ? null : t.consistent === 1, verdict: JSON.parse(t.verdict), pathId: t.path_id }));
  }

  /** Whether any trace touched a logical port of this name. */
  async hasPort(name: string): Promise<boolean> {
    return (await this.q.get('SELECT 1 AS found FROM trace_port WHERE port_name = ? LIMIT 1', name)) !== undefined;
  }

  private build(row: TraceRow, withSteps: boolean, portRows: PortRow[], cited: StepRows | undefined): TraceJson {
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
      origin: traceOrigin({ method: row.method, ufid: row.ufid, datapathFlowId: row.datapath_flow_id }),
      verdict: JSON.parse(row.verdict),
      logicalPorts: ports.map((p): LogicalPortJson => ({ name: p[1], uuid: p[4], bindingUuid: p[5], datapath: p[6], role: p[2], scope: p[3] })),
      stepCount: row.step_count,
    };
    if (withSteps && cited) {
      const extra = row.extra ? (JSON.parse(row.extra) as Record<string, unknown>) : {};
      json.steps = readSteps(cited.steps.get(row.id) ?? [], (extra.collisions ?? {}) as Record<string, StepOwner[]>, cited);
      json.warnings = (extra.warnings as string[]) ?? [];
      json.errors = (extra.errors as string[]) ?? [];
      Object.assign(json, endingOfExtra(extra));
    }
    return json;
  }
}

/**
 * Where an `id:N` cursor (pages before they were ordered by time) goes on: below trace N's time,
 * or when N is gone (retention), from the newest trace of N's writer slot below it, that trace
 * included; undefined when that slot holds none.
 */
export async function positionBelow(q: SqlReader, id: number): Promise<TracePosition | undefined> {
  const r = await q.get<{ id: number | string; created_at: string }>(
    'SELECT id, created_at FROM trace WHERE id <= ? AND id >= ? ORDER BY id DESC LIMIT 1',
    id,
    slotBase(slotOf(id)),
  );
  if (!r) return undefined;
  const found = Number(r.id);
  return { at: r.created_at, id: found === id ? id : found + 1 };
}

/**
 * PostgreSQL: a port's page as its first distinct (time, trace) positions in the walk's order,
 * each trace's row then fetched once. A trace has several rows of a port (roles; its own pass's and
 * its path's), and the walk that joins every row and groups after the join fetched each trace ~1.7
 * times at 150k (bench/api/RESULTS-postgres.md, stop 43). The LIMIT is inside, on the port's rows
 * alone (`where`: the port, its role, time and position), so PostgreSQL plans it as a Unique over
 * the port index's walk that stops after limit + 1 traces; without it, it plans the subquery for
 * all of the port's rows (a hot port's whole history sorted, test/postgres/hot-port-plans.spec.ts).
 * A LEFT JOIN, so that a position without its trace shows as a row without an id.
 */
function firstTracesOfPort(where: string[], columns: string): string {
  const walk = `SELECT DISTINCT p.created_at, p.trace_id FROM trace_port p WHERE ${where.join(' AND ')} ORDER BY p.created_at DESC, p.trace_id DESC LIMIT ?`;
  const page = `SELECT ${columns}, p.created_at AS walk_at, p.trace_id AS walk_id FROM (${walk}) p LEFT JOIN trace t ON t.id = p.trace_id`;
  return `SELECT page.*, ${PORTS_OF_PAGE} FROM (${page}) page ORDER BY page.walk_at DESC, page.walk_id DESC`;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const PORT_COLUMNS = 'SELECT trace_id, port_name, role, scope, port_uuid, binding_uuid, datapath FROM trace_port';

/**
 * PostgreSQL: a page row's trace_port rows as a JSON array of PORT_COLUMNS' arrays but the trace id
 * (pg parses json: strings and nulls, as the rows gave them).
 */
const PORTS_OF_PAGE =
  '(SELECT json_agg(json_build_array(port_name, role, scope, port_uuid, binding_uuid, datapath)) FROM trace_port WHERE trace_id = page.id) AS page_ports';

/** A PORTS_OF_PAGE entry: a PortRow without its trace id. */
type PortJsonRow = [port_name: string, role: string, scope: 'pass' | 'path', port_uuid: string | null, binding_uuid: string | null, datapath: string | null];

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
