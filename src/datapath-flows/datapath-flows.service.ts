import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { Page, page } from '../common/query';
import { StoreService } from '../storage/store.service';
import { TracesService } from '../traces/traces.service';

export interface DatapathFlowJson {
  id: number;
  ufid: string;
  chassis: string;
  state: 'live' | 'removed';
  firstSeen: string;
  lastSeen: string;
  removedAt: string | null;
  removalReason: string | null;
  inPort: string | null;
  recircId: string;
  key: string;
  actions: string;
  packets: number;
  bytes: number;
  used: string | null;
  source: string;
}

interface Row {
  id: number;
  chassis: string;
  ufid: string;
  first_seen: string;
  last_seen: string;
  removed_at: string | null;
  removal_reason: string | null;
  in_port: string | null;
  recirc_id: string;
  key: string;
  actions: string;
  packets: number;
  bytes: number;
  used: string | null;
  source: string;
}

export const toJson = (r: Row): DatapathFlowJson => ({
  id: r.id,
  ufid: r.ufid,
  chassis: r.chassis,
  state: r.removed_at ? 'removed' : 'live',
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  removedAt: r.removed_at,
  removalReason: r.removal_reason,
  inPort: r.in_port,
  recircId: r.recirc_id,
  key: r.key,
  actions: r.actions,
  packets: r.packets,
  bytes: r.bytes,
  used: r.used,
  source: r.source,
});

@Injectable()
export class DatapathFlowsService {
  constructor(
    private readonly storage: StoreService,
    private readonly traces: TracesService,
  ) {}

  list(f: { state?: 'live' | 'removed'; logicalPort?: string; chassis?: string; cursor?: number; limit: number }): Page<DatapathFlowJson> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.state === 'live') where.push('removed_at IS NULL');
    if (f.state === 'removed') where.push('removed_at IS NOT NULL');
    if (f.chassis) where.push('chassis = ?') && args.push(f.chassis);
    if (f.logicalPort) {
      const port = this.traces.resolvePort(f.logicalPort);
      where.push(`id IN (SELECT t.datapath_flow_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.${port.column} = ?)`);
      args.push(port.value);
    }
    if (f.cursor) where.push('id < ?') && args.push(f.cursor);
    const rows = this.storage.db
      .prepare(`SELECT * FROM datapath_flow ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, f.limit + 1) as Row[];
    return page(rows.map(toJson), f.limit);
  }

  /** Every lifetime of a UFID, newest first, with its traces and recirculation neighbours. */
  lifetimes(ufid: string) {
    const db = this.storage.db;
    const rows = db.prepare('SELECT * FROM datapath_flow WHERE ufid = ? ORDER BY first_seen DESC, id DESC').all(ufid) as Row[];
    if (!rows.length) throw notFound(`no datapath flow with UFID ${ufid}`);
    const neighbour = (sql: string, id: number) =>
      (db.prepare(sql).all(id) as Array<{ id: number; ufid: string; recirc_id: string; edge: string }>).map((n) => ({
        id: n.id,
        ufid: n.ufid,
        recircId: n.recirc_id,
        via: n.edge,
      }));
    return {
      ufid,
      lifetimes: rows.map((r) => ({
        ...toJson(r),
        traces: (
          db.prepare('SELECT id, created_at, method, consistent, verdict, path_id FROM trace WHERE datapath_flow_id = ? ORDER BY id DESC').all(r.id) as Array<{
            id: number;
            created_at: string;
            method: string;
            consistent: number | null;
            verdict: string;
            path_id: number | null;
          }>
        ).map((t) => ({ id: t.id, createdAt: t.created_at, method: t.method, consistent: t.consistent == null ? null : t.consistent === 1, verdict: JSON.parse(t.verdict), pathId: t.path_id })),
        parents: neighbour('SELECT d.id, d.ufid, d.recirc_id, e.recirc_id AS edge FROM recirc_edge e JOIN datapath_flow d ON d.id = e.parent_id WHERE e.child_id = ?', r.id),
        children: neighbour('SELECT d.id, d.ufid, d.recirc_id, e.recirc_id AS edge FROM recirc_edge e JOIN datapath_flow d ON d.id = e.child_id WHERE e.parent_id = ?', r.id),
      })),
    };
  }
}
