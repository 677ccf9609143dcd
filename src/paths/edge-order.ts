// The order of a packet's passes: along its recirculation edges (parent → child, as the poller
// recorded them from recirc(0xN) actions and the keys that fit). Recirculation ids are reused
// (every connection through one conntrack zone gets the same one, and ids are recycled), so
// their numbers never order passes: a child's id may be smaller than its parent's.
import { replayQueue } from '../ovs/trace-passes';

export interface OrderedPass {
  traceId: number;
  /** The datapath flow lifetime the pass traced; null when none was recorded. */
  flowId: number | null;
  recircId: number;
  /**
   * Set on the passes of a hand-typed flow only (ofproto/trace simulated them, stored in its order, so
   * in trace id order): the recirc ids the pass's Datapath actions queued. No recirc_edge links them:
   * each is linked to the pass whose queue entry it took (replayQueue), a live pass never by this.
   */
  queued?: readonly number[];
}

export interface FlowEdge {
  parent: number;
  child: number;
}

/** A pass's node: its datapath flow (the passes of one flow stay together), else the pass itself. */
const nodeOf = (p: OrderedPass): string => (p.flowId !== null ? `f${p.flowId}` : `t${p.traceId}`);

/** The recirculation edges of a hand-typed flow's passes, ofproto/trace's queue replayed in trace id order. */
function queuedEdges(byTrace: readonly OrderedPass[]): Array<[string, string]> {
  const simulated = byTrace.filter((p) => p.flowId === null && p.queued !== undefined);
  const { parents } = replayQueue(simulated.map((p) => ({ recircId: p.recircId, queued: p.queued! })));
  return simulated.flatMap((p, i) => (parents[i] === null ? [] : [[nodeOf(simulated[parents[i]!]), nodeOf(p)] as [string, string]]));
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
  const byNode = new Map<string, T[]>();
  for (const p of byTrace) byNode.set(nodeOf(p), [...(byNode.get(nodeOf(p)) ?? []), p]);
  const children = new Map<string, string[]>();
  const waiting = new Map<string, number>();
  const links: Array<[string, string]> = [...edges.map((e): [string, string] => [`f${e.parent}`, `f${e.child}`]), ...queuedEdges(byTrace)];
  for (const [parent, child] of links) {
    if (parent === child || !byNode.has(parent) || !byNode.has(child)) continue;
    const kids = children.get(parent) ?? [];
    if (kids.includes(child)) continue;
    kids.push(child);
    children.set(parent, kids);
    waiting.set(child, (waiting.get(child) ?? 0) + 1);
  }
  const firstTrace = (node: string) => byNode.get(node)![0].traceId;
  for (const kids of children.values()) kids.sort((a, b) => firstTrace(a) - firstTrace(b));
  const out: T[] = [];
  const seen = new Set<T>();
  const place = (p: T) => {
    if (seen.has(p)) return;
    const node = nodeOf(p);
    for (const same of byNode.get(node)!) {
      seen.add(same);
      out.push(same);
    }
    for (const c of children.get(node) ?? []) {
      const left = waiting.get(c)! - 1;
      waiting.set(c, left);
      if (left === 0) place(byNode.get(c)![0]);
    }
  };
  const isRoot = (p: T) => !waiting.has(nodeOf(p));
  for (const p of byTrace) if (isRoot(p) && p.recircId === 0) place(p);
  for (const p of byTrace) if (isRoot(p)) place(p);
  for (const p of byTrace) place(p);
  return out;
}
