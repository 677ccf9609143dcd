import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { isUuid, makeCursor, Page } from '../common/query';
import { renderTraceText } from './trace-text';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import { TraceJson, TraceRecordInput } from './trace-record';
import { citedTraceIds, citesSql, CITES_HINT, CITES_LFLOW } from './citations';
import { TRACE_LIST_COLUMNS, TraceRow, TraceStore } from './trace-store';

export interface TraceFilter {
  logicalPort?: string;
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

@Injectable()
export class TracesService {
  readonly store = new TraceStore();

  constructor(
    private readonly storage: StoreService,
    private readonly replicas: ReplicasService,
  ) {
    storage.writer.onChunkEnd((tx) => this.store.flushSeen(tx));
    storage.writer.onRollback(() => this.store.clearCaches());
  }

  /** Stores one annotated trace through the writer; resolves with its id once committed. */
  record(input: TraceRecordInput): Promise<number> {
    return this.storage.writer.submit((tx) => this.store.insert(tx, input));
  }

  get(id: number, withSteps = true): TraceJson {
    const t = this.store.read(this.storage.db, id, withSteps);
    if (!t) throw notFound(`no trace ${id}`);
    return t;
  }

  text(id: number): string {
    return renderTraceText(this.get(id, true));
  }

  /**
   * A port by name or UUID, as the name trace_port is keyed by (a UUID is looked up in
   * logical_port_alias, then in OVN); unknown ones are a 404 naming them. The column is always
   * port_name: the primary key (port_name, trace_id) serves every port query.
   */
  resolvePort(nameOrUuid: string): { column: 'port_name'; value: string } {
    const db = this.storage.db;
    if (isUuid(nameOrUuid.toLowerCase())) {
      const u = nameOrUuid.toLowerCase();
      const alias = this.store.stmt(db, 'SELECT port_name FROM logical_port_alias WHERE uuid = ? LIMIT 1').get(u) as { port_name: string } | undefined;
      if (alias) return { column: 'port_name', value: alias.port_name };
      const nb = this.replicas.nb.get('Logical_Switch_Port', u) ?? this.replicas.nb.get('Logical_Router_Port', u);
      if (nb) return { column: 'port_name', value: String(nb.name) };
      const pb = this.replicas.sb.get('Port_Binding', u);
      if (pb) return { column: 'port_name', value: String(pb.logical_port) };
      throw notFound(`no logical port with UUID ${u}`, 'logical_port');
    }
    if (this.store.stmt(db, 'SELECT 1 FROM trace_port WHERE port_name = ? LIMIT 1').get(nameOrUuid)) return { column: 'port_name', value: nameOrUuid };
    const known =
      this.replicas.nb.find('Logical_Switch_Port', 'name', nameOrUuid).length ||
      this.replicas.nb.find('Logical_Router_Port', 'name', nameOrUuid).length ||
      this.replicas.sb.find('Port_Binding', 'logical_port', nameOrUuid).length;
    if (!known) throw notFound(`no logical port named ${JSON.stringify(nameOrUuid)}`, 'logical_port');
    return { column: 'port_name', value: nameOrUuid };
  }

  /**
   * "The trace cites one of these rows" (trace_citation). Few citations: the traces' ids, from
   * the bitmaps (cost ~ citations). Many (a DP-group flow is in nearly every trace): checked per
   * trace while walking newest first, as materialising a million ids took seconds (bench/api).
   */
  private citing(kind: number, refs: number[], where: string[], args: unknown[]): void {
    const ids = citedTraceIds((sql) => this.store.stmt(this.storage.db, sql), kind, refs, WALK_ABOVE);
    if (ids === 'many') where.push(citesSql(kind, 't.id')) && args.push(JSON.stringify(refs));
    else where.push('t.id IN (SELECT value FROM json_each(?))') && args.push(JSON.stringify(ids));
  }

  private refs(sql: string, value: string): number[] {
    return (this.store.stmt(this.storage.db, sql).all(value) as Array<{ id: number }>).map((r) => r.id);
  }

  list(f: TraceFilter): Page<TraceJson> {
    const where: string[] = [];
    const args: unknown[] = [];
    // By port: walk trace_port's primary key (port_name, trace_id) newest first from the cursor
    // and join each trace by id, so the first page costs ~limit rows however many traces the port
    // has (an IN (subquery) materialised all of them; EXPLAIN QUERY PLAN in bench/api/RESULTS.md).
    let from = 'trace t';
    let order = 't.id';
    if (f.logicalPort) {
      const port = this.resolvePort(f.logicalPort);
      from = 'trace_port p CROSS JOIN trace t ON t.id = p.trace_id';
      order = 'p.trace_id';
      where.push('p.port_name = ?') && args.push(port.value);
      if (f.role === 'inport') where.push(`p.role = 'inport'`);
      if (f.role === 'outport') where.push(`p.role IN ('outport', 'output', 'tunnel_out')`);
      if (f.cursor) where.push('p.trace_id < ?') && args.push(f.cursor);
    }
    // A trace's UFID is its datapath flow's (the tracer and ingest store them together).
    if (f.ufid)
      where.push('(t.datapath_flow_id IN (SELECT id FROM datapath_flow WHERE ufid = ?) OR (t.datapath_flow_id IS NULL AND t.ufid = ?))') &&
        args.push(f.ufid, f.ufid);
    if (f.logicalFlow) this.citing(CITES_LFLOW, this.refs('SELECT id FROM logical_flow_snapshot WHERE uuid = ?', f.logicalFlow), where, args);
    if (f.northboundUuid) this.citing(CITES_HINT, this.refs(`SELECT id FROM ovn_object WHERE uuid = ? AND db = 'OVN_Northbound'`, f.northboundUuid), where, args);
    if (f.datapath) where.push('t.id IN (SELECT trace_id FROM trace_port WHERE datapath = ?)') && args.push(f.datapath);
    if (f.verdict) where.push('t.verdict_kinds LIKE ?') && args.push(`%,${f.verdict},%`);
    if (f.since) where.push('t.created_at >= ?') && args.push(f.since);
    if (f.until) where.push('t.created_at <= ?') && args.push(f.until);
    if (f.chassis) where.push('t.chassis = ?') && args.push(f.chassis);
    if (f.sessionId) where.push('t.session_id = ?') && args.push(f.sessionId);
    if (f.cursor) where.push('t.id < ?') && args.push(f.cursor);
    const group = f.logicalPort ? ' GROUP BY p.trace_id' : '';
    const columns = f.withSteps ? 't.*' : TRACE_LIST_COLUMNS.split(', ').map((c) => `t.${c}`).join(', ');
    const sql = `SELECT ${columns} FROM ${from} ${where.length ? 'WHERE ' + where.join(' AND ') : ''}${group} ORDER BY ${order} DESC LIMIT ?`;
    const rows = this.store.stmt(this.storage.db, sql).all(...args, f.limit + 1) as TraceRow[];
    // The row past the limit only says there is a next page: not built.
    const items = this.store.fromRows(this.storage.db, rows.slice(0, f.limit), f.withSteps);
    return { items, next: rows.length > f.limit ? makeCursor(items[items.length - 1].id) : null };
  }
}
