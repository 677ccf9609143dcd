import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { isUuid, Page, page } from '../common/query';
import { renderTraceText } from './trace-text';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import { TraceJson, TraceRecordInput } from './trace-record';
import { TraceRow, TraceStore } from './trace-store';

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

@Injectable()
export class TracesService {
  readonly store = new TraceStore();

  constructor(
    private readonly storage: StoreService,
    private readonly replicas: ReplicasService,
  ) {}

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

  /** Port names or UUIDs the store has never seen and OVN does not know: a 404 names them. */
  resolvePort(nameOrUuid: string): { column: 'port_name' | 'port_uuid' | 'binding_uuid'; value: string } {
    const db = this.storage.db;
    if (isUuid(nameOrUuid.toLowerCase())) {
      const u = nameOrUuid.toLowerCase();
      if (db.prepare('SELECT 1 FROM trace_port WHERE port_uuid = ? LIMIT 1').get(u)) return { column: 'port_uuid', value: u };
      if (db.prepare('SELECT 1 FROM trace_port WHERE binding_uuid = ? LIMIT 1').get(u)) return { column: 'binding_uuid', value: u };
      const nb = this.replicas.nb.get('Logical_Switch_Port', u) ?? this.replicas.nb.get('Logical_Router_Port', u);
      if (nb) return { column: 'port_name', value: String(nb.name) };
      const pb = this.replicas.sb.get('Port_Binding', u);
      if (pb) return { column: 'port_name', value: String(pb.logical_port) };
      throw notFound(`no logical port with UUID ${u}`);
    }
    if (db.prepare('SELECT 1 FROM trace_port WHERE port_name = ? LIMIT 1').get(nameOrUuid)) return { column: 'port_name', value: nameOrUuid };
    const known =
      this.replicas.nb.find('Logical_Switch_Port', 'name', nameOrUuid).length ||
      this.replicas.nb.find('Logical_Router_Port', 'name', nameOrUuid).length ||
      this.replicas.sb.find('Port_Binding', 'logical_port', nameOrUuid).length;
    if (!known) throw notFound(`no logical port named ${JSON.stringify(nameOrUuid)}`);
    return { column: 'port_name', value: nameOrUuid };
  }

  list(f: TraceFilter): Page<TraceJson> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.logicalPort) {
      const port = this.resolvePort(f.logicalPort);
      const role = f.role === 'inport' ? ` AND role = 'inport'` : f.role === 'outport' ? ` AND role IN ('outport', 'output', 'tunnel_out')` : '';
      where.push(`t.id IN (SELECT trace_id FROM trace_port WHERE ${port.column} = ?${role}${f.cursor ? ' AND trace_id < ?' : ''})`);
      args.push(port.value);
      if (f.cursor) args.push(f.cursor);
    }
    if (f.ufid) where.push('t.ufid = ?') && args.push(f.ufid);
    if (f.logicalFlow) {
      where.push('t.id IN (SELECT s.trace_id FROM trace_step s WHERE s.lflow_id IN (SELECT id FROM logical_flow_snapshot WHERE uuid = ?))');
      args.push(f.logicalFlow);
    }
    if (f.northboundUuid) {
      where.push(
        `t.id IN (SELECT s.trace_id FROM trace_step s WHERE s.hint_id IN (SELECT id FROM ovn_object WHERE uuid = ? AND db = 'OVN_Northbound'))`,
      );
      args.push(f.northboundUuid);
    }
    if (f.datapath) where.push('t.id IN (SELECT trace_id FROM trace_port WHERE datapath = ?)') && args.push(f.datapath);
    if (f.verdict) where.push('t.verdict_kinds LIKE ?') && args.push(`%,${f.verdict},%`);
    if (f.since) where.push('t.created_at >= ?') && args.push(f.since);
    if (f.until) where.push('t.created_at <= ?') && args.push(f.until);
    if (f.chassis) where.push('t.chassis = ?') && args.push(f.chassis);
    if (f.sessionId) where.push('t.session_id = ?') && args.push(f.sessionId);
    if (f.cursor) where.push('t.id < ?') && args.push(f.cursor);
    const sql = `SELECT t.* FROM trace t ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY t.id DESC LIMIT ?`;
    const rows = this.storage.db.prepare(sql).all(...args, f.limit + 1) as TraceRow[];
    return page(
      rows.map((r) => this.store.fromRow(this.storage.db, r, f.withSteps)),
      f.limit,
    );
  }
}
