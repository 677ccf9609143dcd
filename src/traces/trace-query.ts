// The SQL of `GET /traces` and the page built from it, as a function of a read connection only:
// the service runs it in the trace reader worker (trace-read-worker.ts), off the event loop that
// polls and traces, and in process where there is no worker (':memory:' databases).
import type { Database } from 'better-sqlite3';
import { makeCursor, Page } from '../common/query';
import { citedTraceIds, citesSql, CITES_HINT, CITES_LFLOW } from './citations';
import type { TraceJson } from './trace-record';
import { TRACE_LIST_COLUMNS, TraceReader, TraceRow } from './trace-reader';

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

/** Citations above which a filter by logical flow / northbound row is checked per trace. */
const WALK_ABOVE = 10_000;

export function listTraces(reader: TraceReader, db: Database, f: TraceListQuery): Page<TraceJson> {
  const where: string[] = [];
  const args: unknown[] = [];
  const refs = (sql: string, value: string): number[] => (reader.stmt(db, sql).all(value) as Array<{ id: number }>).map((r) => r.id);
  /**
   * "The trace cites one of these rows" (trace_citation). Few citations: the traces' ids, from
   * the bitmaps (cost ~ citations). Many (a DP-group flow is in nearly every trace): checked per
   * trace while walking newest first, as materialising a million ids took seconds (bench/api).
   */
  const citing = (kind: number, ids0: number[]): void => {
    const ids = citedTraceIds((sql) => reader.stmt(db, sql), kind, ids0, WALK_ABOVE);
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
    if (f.role === 'inport') where.push(`p.role = 'inport'`);
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
  const rows = reader.stmt(db, sql).all(...args, f.limit + 1) as TraceRow[];
  // The row past the limit only says there is a next page: not built.
  const items = reader.fromRows(db, rows.slice(0, f.limit), f.withSteps);
  return { items, next: rows.length > f.limit ? makeCursor(items[items.length - 1].id) : null };
}
