// A captured packet's paths as the service builds them: the recirculation edges of the poller's
// index (collectors/recirc-index.ts) between its datapath flows, and for each root-to-leaf chain
// the one path owner's state (paths/path-state.ts): passes in edge order and the path verdict.
import type { AnnotatedTrace, TracePort } from '../../src/correlation/types';
import { IndexedFlow, RecircIndex } from '../../src/collectors/recirc-index';
import { DumpedFlow } from '../../src/ovs/dump-flows';
import { recircTargets } from '../../src/ovs/odp-actions';
import { inPort, recircId } from '../../src/ovs/odp-key';
import { PathState } from '../../src/paths/path-state';
import type { StoredPathVerdict } from '../../src/paths/path-verdict';

/** One datapath flow of a captured packet and the annotated trace of its key. */
export interface PassNode {
  ufid: string;
  trace: AnnotatedTrace;
  flow: IndexedFlow;
}

export interface PacketPath {
  /** The passes in edge order. */
  passes: AnnotatedTrace[];
  /** Trace ids given to the passes: the node's index + 1. */
  traceIds: number[];
  verdict: StoredPathVerdict;
  ports: TracePort[];
}

/** The flow as the poller's table indexes it. */
export function indexedFlow(d: DumpedFlow): IndexedFlow {
  return { inPort: inPort(d.key) ?? null, recircId: recircId(d.key), recircTargets: recircTargets(d.actions), flow: { key: d.key, actions: d.actions } };
}

/** The recirculation edges between the nodes (by index), as the poller records them. */
export function nodeEdges(nodes: readonly PassNode[]): Array<{ parent: number; child: number }> {
  const idx = new RecircIndex<IndexedFlow>();
  for (const n of nodes) idx.add(n.flow);
  const at = new Map(nodes.map((n, i) => [n.flow, i]));
  return nodes.flatMap((n, child) => idx.parentsOf(n.flow).map((p) => ({ parent: at.get(p)!, child })));
}

/** Every root-to-leaf chain over the edges (a root: a pass no edge leads to), each as a path. */
export function packetPaths(nodes: readonly PassNode[]): PacketPath[] {
  const edges = nodeEdges(nodes);
  const parents = nodes.map((_, i) => edges.filter((e) => e.child === i).map((e) => e.parent));
  const children = nodes.map((_, i) => edges.filter((e) => e.parent === i).map((e) => e.child));
  const out: PacketPath[] = [];
  const walk = (chain: number[]) => {
    const next = children[chain[chain.length - 1]].filter((c) => !chain.includes(c));
    if (next.length) {
      for (const c of next) walk([...chain, c]);
      return;
    }
    const state = new PathState();
    // Added leaf first: the order is the edges', not the order passes arrive in.
    for (const i of [...chain].reverse()) state.add({ traceId: i + 1, flowId: i, recircId: Number(nodes[i].trace.recircId), pass: nodes[i].trace, parents: parents[i] });
    const ordered = state.ordered();
    out.push({ passes: ordered.map((p) => nodes[p.flowId!].trace), traceIds: ordered.map((p) => p.traceId), verdict: state.verdict(), ports: state.ports() });
  };
  nodes.forEach((_, i) => {
    if (!parents[i].length) walk([i]);
  });
  return out;
}
