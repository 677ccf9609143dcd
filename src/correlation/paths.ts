// Recirculation edges and paths. A pass ending in `recirc(0xN)` continues as the datapath flow
// with `recirc_id(0xN)` on the same in_port whose key fits the packet the parent sent on: same
// eth_type, same ip proto, and the Ethernet addresses the parent's set(eth(…)) left (conntrack NAT
// may change IP addresses and ports between passes, so those are not compared). A child can have
// several parents (flows sharing a frozen state); a select group gives a parent several children.
// A path is one root-to-leaf chain: the passes one packet took.
import { parseActions, OdpAction } from '../ovs/odp-actions';
import { keyValue, parseKey, OdpKey } from '../ovs/odp-key';
import type { AnnotatedTrace, PathVerdict, RecircEdge, TracePath, TracePort, TunnelTarget } from './types';

export interface PassNode {
  readonly trace: AnnotatedTrace;
  /** The datapath flow's key (ODP text, masks allowed); without it only recirc_id and in_port link. */
  readonly key?: string;
}

interface Packet {
  inPort: string | null;
  ethType?: string;
  proto?: string;
  ethSrc?: string;
  ethDst?: string;
}

function tryKey(text: string | undefined): OdpKey | null {
  if (!text) return null;
  try {
    return parseKey(text);
  } catch {
    return null;
  }
}

const bare = (v: string | undefined): string | undefined => (v === undefined ? undefined : v.split('/')[0]);

function packetOf(node: PassNode): Packet {
  const key = tryKey(node.key);
  if (!key) return { inPort: node.trace.inPort };
  return {
    inPort: keyValue(key, 'in_port') ?? node.trace.inPort,
    ethType: bare(keyValue(key, 'eth_type')),
    proto: bare(keyValue(key, 'ipv4', 'proto') ?? keyValue(key, 'ipv6', 'proto')),
    ethSrc: bare(keyValue(key, 'eth', 'src')),
    ethDst: bare(keyValue(key, 'eth', 'dst')),
  };
}

/** The packet as the parent hands it to recirculation: its key with set(eth(…)) applied. */
function sentPacket(p: Packet, trace: AnnotatedTrace): Packet {
  let actions: OdpAction[] = [];
  try {
    actions = parseActions(trace.datapathActions);
  } catch {
    return p;
  }
  const out = { ...p };
  for (const a of actions) {
    if (a.type === 'set' && a.field.kind === 'attrs' && a.field.name === 'eth') {
      for (const at of a.field.attrs) {
        if (at.name === 'src') out.ethSrc = at.value;
        if (at.name === 'dst') out.ethDst = at.value;
      }
    }
  }
  return out;
}

const same = (a: string | undefined, b: string | undefined): boolean => a === undefined || b === undefined || a === b;

function fits(parent: Packet, child: Packet): boolean {
  return (
    parent.inPort === child.inPort &&
    same(parent.ethType, child.ethType) &&
    same(parent.proto, child.proto) &&
    same(parent.ethSrc, child.ethSrc) &&
    same(parent.ethDst, child.ethDst)
  );
}

const normId = (id: string): string => '0x' + Number(id).toString(16);

export function recircEdges(nodes: readonly PassNode[]): RecircEdge[] {
  const packets = nodes.map(packetOf);
  const byRecirc = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    const id = normId(n.trace.recircId);
    if (id === '0x0') return;
    const list = byRecirc.get(id) ?? [];
    list.push(i);
    byRecirc.set(id, list);
  });
  const edges: RecircEdge[] = [];
  nodes.forEach((n, parent) => {
    const sent = sentPacket(packets[parent], n.trace);
    for (const raw of n.trace.verdict.recircIds) {
      const id = normId(raw);
      for (const child of byRecirc.get(id) ?? []) {
        if (child !== parent && fits(sent, packets[child])) edges.push({ parent, child, recircId: id });
      }
    }
  });
  return edges;
}

/** Every root-to-leaf chain over the edges (a root: a pass no edge leads to). */
export function buildPaths(nodes: readonly PassNode[], edges = recircEdges(nodes)): TracePath[] {
  const children = new Map<number, RecircEdge[]>();
  const hasParent = new Set<number>();
  for (const e of edges) {
    children.set(e.parent, [...(children.get(e.parent) ?? []), e]);
    hasParent.add(e.child);
  }
  const paths: TracePath[] = [];
  const walk = (chain: number[], used: RecircEdge[]) => {
    const last = chain[chain.length - 1];
    const next = (children.get(last) ?? []).filter((e) => !chain.includes(e.child)); // never loop
    if (!next.length) {
      const passes = chain.map((i) => nodes[i].trace);
      const local = used.map((e) => ({ parent: chain.indexOf(e.parent), child: chain.indexOf(e.child), recircId: e.recircId }));
      paths.push({ passes, edges: local, verdict: pathVerdict(passes), ports: pathPorts(passes) });
      return;
    }
    for (const e of next) walk([...chain, e.child], [...used, e]);
  };
  nodes.forEach((_, i) => {
    if (!hasParent.has(i)) walk([i], []);
  });
  return paths;
}

/** The packet's fate: the last pass decides; outputs and tunnels of every pass are kept. */
export function pathVerdict(passes: readonly AnnotatedTrace[]): PathVerdict {
  if (!passes.length) return { kind: 'error', outputs: [], tunnels: [], reason: 'empty path' };
  const outputs: string[] = [];
  const tunnels: TunnelTarget[] = [];
  for (const p of passes) {
    for (const o of p.verdict.outputs) if (!outputs.includes(o)) outputs.push(o);
    tunnels.push(...p.verdict.tunnels);
  }
  const lastIndex = passes.length - 1;
  const last = passes[lastIndex].verdict;
  const incomplete = last.kind === 'recirculate' || (last.kind === 'mixed' && last.recircIds.length > 0);
  const kind = last.kind === 'drop' && outputs.length ? 'mixed' : last.kind;
  const controller = passes.find((p) => p.verdict.controller)?.verdict.controller;
  return {
    kind,
    outputs,
    tunnels,
    ...(last.dropBy ? { dropBy: { ...last.dropBy, passIndex: lastIndex } } : {}),
    ...(last.reason ? { reason: last.reason } : {}),
    ...(controller ? { controller } : {}),
    ...(incomplete
      ? {
          incomplete: true,
          incompleteReason: `pass ${lastIndex} (recirc_id ${passes[lastIndex].recircId}) queued ${last.recircIds.map((r) => `recirc(${r})`).join(', ')} and no pass of the packet follows it`,
        }
      : {}),
  };
}

/** The logical ports of every pass of the path, once per (role, port), marked scope 'path'. */
export function pathPorts(passes: readonly AnnotatedTrace[]): TracePort[] {
  const seen = new Set<string>();
  const out: TracePort[] = [];
  for (const p of passes) {
    for (const port of p.ports) {
      const id = `${port.role}\0${port.logicalPort}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ ...port, scope: 'path' });
    }
  }
  return out;
}
