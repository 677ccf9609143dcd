import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { StoreService } from '../storage/store.service';
import { TraceRow } from '../traces/trace-store';
import { TracesService } from '../traces/traces.service';

@Injectable()
export class PathsService {
  constructor(
    private readonly storage: StoreService,
    private readonly traces: TracesService,
  ) {}

  /** The passes of one packet in order (recirculation order), with the path verdict. */
  get(id: number, withSteps: boolean) {
    const db = this.storage.db;
    const p = db.prepare('SELECT * FROM path WHERE id = ?').get(id) as
      | { id: number; chassis: string; created_at: string; updated_at: string; verdict: string }
      | undefined;
    if (!p) throw notFound(`no path ${id}`);
    const rows = db.prepare('SELECT * FROM trace WHERE path_id = ?').all(id) as TraceRow[];
    rows.sort((a, b) => Number(a.recirc_id) - Number(b.recirc_id) || a.id - b.id);
    const passes = rows.map((r) => this.traces.store.fromRow(db, r, withSteps));
    const edges = db
      .prepare(
        `SELECT e.parent_id, e.child_id, e.recirc_id FROM recirc_edge e
          WHERE e.parent_id IN (SELECT datapath_flow_id FROM trace WHERE path_id = ?) AND e.child_id IN (SELECT datapath_flow_id FROM trace WHERE path_id = ?)`,
      )
      .all(id, id) as Array<{ parent_id: number; child_id: number; recirc_id: string }>;
    return {
      id: p.id,
      chassis: p.chassis,
      createdAt: p.created_at,
      updatedAt: p.updated_at,
      verdict: JSON.parse(p.verdict),
      passes,
      edges: edges.map((e) => ({ parentDatapathFlowId: e.parent_id, childDatapathFlowId: e.child_id, recircId: e.recirc_id })),
    };
  }
}
