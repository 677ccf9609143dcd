// The datapath flows of one path build's passes, as the cross-chassis link reads them: each segment's
// read in one statement (PathStore.flows), not one a pass. A build reads a segment's flows for its
// sender look (the first pass, and the later ones on its chassis for the packet's time) and again
// for each pass's pushes; each is read once.
import type { TraceRow } from '../traces/trace-store';
import type { LinkFlowRow, PathStore } from './path-store';

export class SegmentFlows {
  /** By flow id; undefined for an id read and not found (retention took it). */
  private readonly rows = new Map<number, LinkFlowRow | undefined>();

  constructor(private readonly store: Pick<PathStore, 'flows'>) {}

  /** Reads the flows of these passes not read yet, in one statement. */
  async load(passes: readonly Pick<TraceRow, 'datapath_flow_id'>[]): Promise<void> {
    const ids = [...new Set(passes.flatMap((p) => (p.datapath_flow_id === null || this.rows.has(p.datapath_flow_id) ? [] : [p.datapath_flow_id])))];
    if (!ids.length) return;
    const found = new Map((await this.store.flows(ids)).map((r) => [r.id, r]));
    for (const id of ids) this.rows.set(id, found.get(id));
  }

  /** A loaded pass's flow (undefined when it has none, or it is gone); a pass not loaded is a caller's mistake. */
  of(pass: Pick<TraceRow, 'datapath_flow_id'>): LinkFlowRow | undefined {
    if (pass.datapath_flow_id === null) return undefined;
    if (!this.rows.has(pass.datapath_flow_id)) throw new Error(`SegmentFlows: flow ${pass.datapath_flow_id} read before its segment was loaded`);
    return this.rows.get(pass.datapath_flow_id);
  }
}
