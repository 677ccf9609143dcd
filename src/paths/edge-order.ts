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
 * Topological and chain by chain: roots first (a pass no edge among these passes leads to;
 * recirc_id 0 before any other, as a packet's first pass always has it), each pass followed depth
 * first by its children, a child only once all its parents among the passes are placed (a pass
 * two parents recirculate into comes after both). Among passes on the same footing, the one traced
 * first (lower trace id). Passes left unplaced (a cycle) follow in trace order.
 */
export function edgeOrder<T extends OrderedPass>(passes: readonly T[], edges: readonly FlowEdge[]): T[] {
  const byTrace = [...passes].sort((a, b) => a.traceId - b.traceId);
  const byFlow = new Map<number, T[]>();
  for (const p of byTrace) if (p.flowId !== null) byFlow.set(p.flowId, [...(byFlow.get(p.flowId) ?? []), p]);
  const children = new Map<number, number[]>();
  const waiting = new Map<number, number>();
  for (const e of edges) {
    if (e.parent === e.child || !byFlow.has(e.parent) || !byFlow.has(e.child)) continue;
    const kids = children.get(e.parent) ?? [];
    if (kids.includes(e.child)) continue;
    kids.push(e.child);
    children.set(e.parent, kids);
    waiting.set(e.child, (waiting.get(e.child) ?? 0) + 1);
  }
  const firstTrace = (flow: number) => byFlow.get(flow)![0].traceId;
  for (const kids of children.values()) kids.sort((a, b) => firstTrace(a) - firstTrace(b));
  const out: T[] = [];
  const seen = new Set<T>();
  const place = (p: T) => {
    if (seen.has(p)) return;
    if (p.flowId === null) {
      seen.add(p);
      out.push(p);
      return;
    }
    for (const same of byFlow.get(p.flowId)!) {
      seen.add(same);
      out.push(same);
    }
    for (const c of children.get(p.flowId) ?? []) {
      const left = waiting.get(c)! - 1;
      waiting.set(c, left);
      if (left === 0) place(byFlow.get(c)![0]);
    }
  };
  const isRoot = (p: T) => p.flowId === null || !waiting.has(p.flowId);
  for (const p of byTrace) if (isRoot(p) && p.recircId === 0) place(p);
  for (const p of byTrace) if (isRoot(p)) place(p);
  for (const p of byTrace) place(p);
  return out;
}
