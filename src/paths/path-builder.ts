// A packet's path as every reader sees it (GET /paths/:id, the cross-check): its passes in edge
// order and its one verdict. A path's passes are the traces stored under it, plus passes it shares
// with earlier packets (megaflows), which the tracer stored in the first packet's path: the flows
// its passes recirculated from (walked up the edges) and, for recirculation ids none of its
// passes has, the flows they recirculate into (walked down).
import { Injectable } from '@nestjs/common';
import type { TraceRow } from '../traces/trace-store';
import { traceOrigin } from '../traces';
import { edgeOrder } from './edge-order';
import { EdgeRow, PathRow, PathStore } from './path-store';
import { passOfStored, pathVerdict, StoredPathVerdict } from './path-verdict';

/** How far the walks go: a packet recirculates a handful of times; this only bounds a loop in the data. */
const MAX_DEPTH = 16;

export interface BuiltPath {
  /** The path row; absent for a trace stored without a path. */
  path?: PathRow;
  /** The passes, root first along the recirculation edges. */
  passes: TraceRow[];
  edges: EdgeRow[];
  verdict: StoredPathVerdict;
}

const recircOf = (r: TraceRow): number => Number(r.recirc_id);
/** What a hand-typed flow's pass queued: its only link to its next passes (edge-order.ts); undefined for any other pass. */
const queuedOf = (r: TraceRow): number[] | undefined =>
  traceOrigin({ method: r.method, ufid: r.ufid, datapathFlowId: r.datapath_flow_id }) === 'hand-typed'
    ? ((JSON.parse(r.verdict) as { recircIds?: string[] }).recircIds ?? []).map(Number)
    : undefined;

@Injectable()
export class PathBuilder {
  constructor(private readonly store: PathStore) {}

  /** The path `id`, or undefined when there is none. */
  async ofPath(id: number): Promise<BuiltPath | undefined> {
    const path = await this.store.path(id);
    if (!path) return undefined;
    return this.build(await this.store.passes(id), path);
  }

  /** The path of a stored trace (the trace alone when it has none), or undefined for no such trace. */
  async ofTrace(traceId: number): Promise<BuiltPath | undefined> {
    const row = await this.store.trace(traceId);
    if (!row) return undefined;
    const path = row.path_id == null ? undefined : await this.store.path(row.path_id);
    return this.build(path ? await this.store.passes(path.id) : [row], path);
  }

  private async build(stored: TraceRow[], path: PathRow | undefined): Promise<BuiltPath> {
    const rows = [...stored];
    const have = new Set(rows.map((r) => r.datapath_flow_id));
    // One packet never takes two passes with the same recirculation id: a parent or a child is
    // followed only for an id the path has no pass of (the newest such pass).
    const recircs = new Set(rows.map(recircOf));
    let frontier = flowsOf(rows);
    for (let depth = 0; depth < MAX_DEPTH && frontier.length; depth++) {
      const next: number[] = [];
      for (const child of frontier) {
        const parents = await this.store.parentTraces(child);
        // Its parent is in the path already; any other parent is another packet's pass.
        if (parents.some((p) => have.has(p.datapath_flow_id))) continue;
        const parent = parents.find((p) => !recircs.has(recircOf(p)));
        if (!parent) continue;
        have.add(parent.datapath_flow_id);
        recircs.add(recircOf(parent));
        rows.push(parent);
        if (parent.datapath_flow_id !== null) next.push(parent.datapath_flow_id);
      }
      frontier = next;
    }
    let added = false;
    frontier = flowsOf(rows);
    for (let depth = 0; depth < MAX_DEPTH && frontier.length; depth++) {
      const next: number[] = [];
      for (const parent of frontier) {
        for (const child of await this.store.childTraces(parent)) {
          if (have.has(child.datapath_flow_id) || recircs.has(recircOf(child))) continue;
          have.add(child.datapath_flow_id);
          recircs.add(recircOf(child));
          rows.push(child);
          added = true;
          if (child.datapath_flow_id !== null) next.push(child.datapath_flow_id);
        }
      }
      frontier = next;
    }
    const edges = await this.store.edgesAmong(flowsOf(rows));
    const passes = edgeOrder(
      rows.map((row) => ({ row, traceId: row.id, flowId: row.datapath_flow_id, recircId: recircOf(row), queued: queuedOf(row) })),
      edges.map((e) => ({ parent: e.parent_id, child: e.child_id })),
    );
    const storedVerdict = path ? (JSON.parse(path.verdict) as StoredPathVerdict) : undefined;
    // The stored verdict is the tracer's over the same passes (shared ancestors included); recomputed
    // (the same function) when the walk down found more, when it still waited for a pass, or when
    // there is no path row.
    // A path row is created with '{}' before its first verdict is set: that is no verdict.
    const verdict =
      storedVerdict?.kinds && !added && !storedVerdict.incomplete
        ? storedVerdict
        : pathVerdict(passes.map((p) => ({ traceId: p.traceId, recircId: p.recircId, queued: p.queued, pass: passOfStored(JSON.parse(p.row.verdict)) })));
    return { path, passes: passes.map((p) => p.row), edges, verdict };
  }
}

function flowsOf(rows: readonly TraceRow[]): number[] {
  return rows.map((r) => r.datapath_flow_id).filter((x): x is number => x !== null);
}
