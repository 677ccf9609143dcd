import { Injectable } from '@nestjs/common';
import { notFound } from '../common/api-error';
import { passOfStored, PathState, pathVerdictOf } from '../collectors/path-state';
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
    // Passes this packet shared with earlier packets (megaflows) are stored in the first packet's
    // path: walk the recirculation edges up from the passes to include them.
    const have = new Set(rows.map((r) => r.datapath_flow_id));
    const parentTrace = db.prepare(
      `SELECT t.* FROM recirc_edge e JOIN trace t ON t.datapath_flow_id = e.parent_id
        WHERE e.child_id = ? ORDER BY t.id DESC LIMIT 1`,
    );
    let frontier = rows.map((r) => r.datapath_flow_id).filter((x): x is number => x !== null);
    for (let depth = 0; depth < 16 && frontier.length; depth++) {
      const next: number[] = [];
      for (const child of frontier) {
        const parent = parentTrace.get(child) as TraceRow | undefined;
        if (parent && !have.has(parent.datapath_flow_id)) {
          have.add(parent.datapath_flow_id);
          rows.push(parent);
          if (parent.datapath_flow_id !== null) next.push(parent.datapath_flow_id);
        }
      }
      frontier = next;
    }
    // Passes this packet shares with earlier packets below it (a megaflow after the recirculation,
    // e.g. a load-balanced connection's later packet joining the backend's output flow) are in the
    // first packet's path too: walk the edges down, for recirc ids no pass of this path has.
    const recircs = new Set(rows.map((r) => Number(r.recirc_id)));
    const childTraces = db.prepare(
      `SELECT t.* FROM recirc_edge e JOIN trace t ON t.datapath_flow_id = e.child_id
        WHERE e.parent_id = ? ORDER BY t.id DESC`,
    );
    let added = false;
    frontier = rows.map((r) => r.datapath_flow_id).filter((x): x is number => x !== null);
    for (let depth = 0; depth < 16 && frontier.length; depth++) {
      const next: number[] = [];
      for (const parent of frontier) {
        for (const child of childTraces.all(parent) as TraceRow[]) {
          if (have.has(child.datapath_flow_id) || recircs.has(Number(child.recirc_id))) continue;
          have.add(child.datapath_flow_id);
          recircs.add(Number(child.recirc_id));
          rows.push(child);
          added = true;
          if (child.datapath_flow_id !== null) next.push(child.datapath_flow_id);
        }
      }
      frontier = next;
    }
    rows.sort((a, b) => Number(a.recirc_id) - Number(b.recirc_id) || a.id - b.id);
    let verdict = JSON.parse(p.verdict);
    if (added || verdict.incomplete) {
      const state = new PathState();
      for (const r of rows) state.add(r.id, Number(r.recirc_id), passOfStored(JSON.parse(r.verdict)));
      verdict = pathVerdictOf(state);
    }
    const passes = this.traces.store.fromRows(db, rows, withSteps);
    const flowIds = rows.map((r) => r.datapath_flow_id).filter((x): x is number => x !== null);
    const marks = flowIds.map(() => '?').join(',') || 'NULL';
    const edges = db
      .prepare(`SELECT parent_id, child_id, recirc_id FROM recirc_edge WHERE parent_id IN (${marks}) AND child_id IN (${marks})`)
      .all(...flowIds, ...flowIds) as Array<{ parent_id: number; child_id: number; recirc_id: string }>;
    return {
      id: p.id,
      chassis: p.chassis,
      createdAt: p.created_at,
      updatedAt: p.updated_at,
      verdict,
      passes,
      edges: edges.map((e) => ({ parentDatapathFlowId: e.parent_id, childDatapathFlowId: e.child_id, recircId: e.recirc_id })),
    };
  }
}
