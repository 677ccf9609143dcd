// The passes of one packet as the tracer stores them (in any order), with the recirculation
// edges between their datapath flows, so its verdict reads them in edge order like every reader.
import type { TracePort } from '../correlation/types';
import { edgeOrder, FlowEdge } from './edge-order';
import { pathVerdict, PassSummary, StoredPathVerdict, summarise } from './path-verdict';

export interface StatePass {
  traceId: number;
  flowId: number | null;
  recircId: number;
  pass: PassSummary;
  /** The datapath flows this pass's flow recirculated from (poller's recirculation index). */
  parents: readonly number[];
  /** A hand-typed flow's pass (PathRecorder.recordSimulated): linked by what it queued, in its order (edge-order.ts). */
  simulated?: boolean;
}

export class PathState {
  private readonly passes: StatePass[] = [];

  get traceIds(): number[] {
    return this.passes.map((p) => p.traceId);
  }

  add(p: StatePass): void {
    this.passes.push({ ...p, pass: summarise(p.pass) });
  }

  hasRecirc(recircId: number): boolean {
    return this.passes.some((p) => p.recircId === recircId);
  }

  recircIds(): Set<number> {
    return new Set(this.passes.map((p) => p.recircId));
  }

  /** Takes the passes of another path of the same packet. */
  absorb(other: PathState): void {
    for (const p of other.passes) this.add(p);
  }

  /** The logical ports of every pass, once per (port, role), in the order the packet met them. */
  ports(): TracePort[] {
    const seen = new Map<string, TracePort>();
    for (const p of this.ordered()) for (const port of p.pass.ports) seen.set(`${port.logicalPort}/${port.role}`, port);
    return [...seen.values()];
  }

  ordered(): StatePass[] {
    const edges: FlowEdge[] = this.passes.flatMap((p) => (p.flowId === null ? [] : p.parents.map((parent) => ({ parent, child: p.flowId! }))));
    // A hand-typed flow's pass is linked by what it queued (edge-order.ts); a live one never is.
    return edgeOrder(
      this.passes.map((p) => (p.simulated ? { ...p, queued: p.pass.verdict.recircIds.map(Number) } : p)),
      edges,
    );
  }

  verdict(): StoredPathVerdict {
    return pathVerdict(this.ordered());
  }
}
