// The order of a packet's passes: along its recirculation edges (parent → child, as the poller
// recorded them from recirc(0xN) actions and the keys that fit). Recirculation ids are reused
// (every connection through one conntrack zone gets the same one, and ids are recycled), so
// their numbers never order passes: a child's id may be smaller than its parent's.
export interface OrderedPass {
  traceId: number;
  /** The datapath flow lifetime the pass traced; null when none was recorded. */
  flowId: number | null;
  recircId: number;
}

export interface FlowEdge {
  parent: number;
  child: number;
}

/**
 * Roots first (a pass no edge among these passes leads to; recirc_id 0 before any other, as a
 * packet's first pass always has it), then each pass's children depth first; among passes on the
 * same footing, the one traced first (lower trace id). Passes left unreached (a cycle) follow in
 * trace order.
 */
export function edgeOrder<T extends OrderedPass>(passes: readonly T[], edges: readonly FlowEdge[]): T[] {
  const byTrace = [...passes].sort((a, b) => a.traceId - b.traceId);
  const byFlow = new Map<number, T[]>();
  for (const p of byTrace) if (p.flowId !== null) byFlow.set(p.flowId, [...(byFlow.get(p.flowId) ?? []), p]);
  const children = new Map<number, number[]>();
  const hasParent = new Set<number>();
  for (const e of edges) {
    if (e.parent === e.child || !byFlow.has(e.parent) || !byFlow.has(e.child)) continue;
    const kids = children.get(e.parent) ?? [];
    if (kids.includes(e.child)) continue;
    kids.push(e.child);
    children.set(e.parent, kids);
    hasParent.add(e.child);
  }
  const firstTrace = (flow: number) => byFlow.get(flow)![0].traceId;
  for (const kids of children.values()) kids.sort((a, b) => firstTrace(a) - firstTrace(b));
  const out: T[] = [];
  const seen = new Set<T>();
  const seenFlows = new Set<number>();
  const visit = (p: T) => {
    if (seen.has(p)) return;
    if (p.flowId === null) {
      seen.add(p);
      out.push(p);
      return;
    }
    if (seenFlows.has(p.flowId)) return;
    seenFlows.add(p.flowId);
    for (const same of byFlow.get(p.flowId)!) {
      seen.add(same);
      out.push(same);
    }
    for (const c of children.get(p.flowId) ?? []) visit(byFlow.get(c)![0]);
  };
  const isRoot = (p: T) => p.flowId === null || !hasParent.has(p.flowId);
  for (const p of byTrace) if (isRoot(p) && p.recircId === 0) visit(p);
  for (const p of byTrace) if (isRoot(p)) visit(p);
  for (const p of byTrace) visit(p);
  return out;
}
