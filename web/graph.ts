// The path picture: a packet's passes (one per datapath flow it went through), inside each the
// logical datapaths it crossed and the stages whose logical flows ran, the northbound rows behind
// them, recirculation edges between passes and the verdict. The model is built here; dagre (a
// Sugiyama layered layout with compound clusters) places it; picture.ts draws it as SVG.
import { graphlib, layout } from '@dagrejs/dagre';
import { ctState, short } from './describe';

export interface Step {
  seq: number;
  table: number;
  priority: number | null;
  cookie: string | null;
  match: string;
  actions: string;
  owners: Array<{ table: string; uuid: string; stale: boolean; pipeline?: string; tableId?: number; stage?: string | null; priority?: number; match?: string; actions?: string; datapaths?: Array<{ name: string | null }>; summary?: string }>;
  northbound: { table: string; uuid: string; summary: string } | null;
}

export interface Pass {
  id: number;
  chassis: string;
  recircId: string | null;
  flow: string;
  datapathActions: string;
  datapathFlowId: number | null;
  ufid: string | null;
  verdict: any;
  steps?: Step[];
}

export interface PathJson {
  id: number;
  verdict: any;
  passes: Pass[];
  edges: Array<{ parentDatapathFlowId: number; childDatapathFlowId: number; recircId: string }>;
}

export type Role = 'pass' | 'head' | 'datapath' | 'stage' | 'northbound' | 'verdict';

export interface GNode {
  id: string;
  role: Role;
  label: string;
  sub?: string;
  parent?: string;
  /** 'drop' (the deciding flow or ACL), 'output' (the output port) or none. */
  mark?: 'drop' | 'output' | 'controller';
  pass: Pass;
  steps?: Step[];
  lflow?: Step['owners'][number];
  northbound?: Step['northbound'];
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GEdge {
  from: string;
  to: string;
  kind: 'head' | 'next' | 'recirc' | 'northbound' | 'verdict';
  label?: string;
  points: Array<{ x: number; y: number }>;
}

export interface Picture {
  nodes: GNode[];
  edges: GEdge[];
  width: number;
  height: number;
  stages: number;
}

const CHAR = 7.2;
const size = (label: string, sub?: string) => ({ width: Math.max(label.length, sub?.length ?? 0) * CHAR + 18, height: sub ? 36 : 24 });
const clip = (s: string, n = 44) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** Builds the graph of a path (passes with steps) and lays it out. */
export function buildPicture(path: PathJson): Picture {
  const nodes = new Map<string, Omit<GNode, 'x' | 'y' | 'width' | 'height'>>();
  const edges: Array<Omit<GEdge, 'points'>> = [];
  const lastStage = new Map<number, string>();
  let stages = 0;
  path.passes.forEach((pass, i) => {
    const pid = `pass:${pass.id}`;
    const ct = ctState(pass.flow);
    nodes.set(pid, { id: pid, role: 'pass', pass, label: `pass ${i + 1}` });
    // The pass's own box heads its cluster (dagre leaves no room for a cluster's label).
    const hid = `head:${pass.id}`;
    nodes.set(hid, { id: hid, role: 'head', pass, parent: pid, label: clip(`pass ${i + 1} · ${pass.chassis} · recirc ${pass.recircId ?? '0'}${ct ? ` · ct ${ct}` : ''}`, 52), sub: clip(`datapath actions: ${pass.datapathActions}`, 52) });
    lastStage.set(pass.id, hid);
    // Consecutive OpenFlow steps of one logical flow make one stage; glue rules (cookie 0) join the stage before them.
    let seg: string | null = null;
    let segKey = '';
    let stage: (Omit<GNode, 'x' | 'y' | 'width' | 'height'> & { steps: Step[] }) | null = null;
    let k = 0;
    for (const step of pass.steps ?? []) {
      const lf = step.owners.find((o) => o.table === 'Logical_Flow');
      if (!lf) {
        if (stage) stage.steps.push(step);
        continue;
      }
      if (stage && stage.lflow?.uuid === lf.uuid) {
        stage.steps.push(step);
        continue;
      }
      const dp = lf.datapaths?.map((d) => d.name ?? '?').join(', ') || '?';
      const key = `${dp}|${lf.pipeline}`;
      if (key !== segKey) {
        segKey = key;
        seg = `dp:${pass.id}:${k}`;
        nodes.set(seg, { id: seg, role: 'datapath', pass, parent: pid, label: `${dp} ${lf.pipeline ?? ''}` });
      }
      const sid = `st:${pass.id}:${k++}`;
      const drop = pass.verdict.kinds.includes('drop') && pass.verdict.logicalFlow === lf.uuid;
      const ctl = pass.verdict.controller?.logicalFlow === lf.uuid;
      stage = { id: sid, role: 'stage', pass, parent: seg!, label: clip(`${lf.tableId} ${lf.stage ?? '?'}`), sub: clip(`lflow ${short(lf.uuid)} · prio ${lf.priority}${lf.stale ? ' · stale' : ''}${step.northbound ? ` · ${step.northbound.table}` : ''}`), lflow: lf, northbound: step.northbound, steps: [step], mark: drop ? 'drop' : ctl ? 'controller' : undefined };
      nodes.set(sid, stage);
      stages++;
      const prev = lastStage.get(pass.id)!;
      edges.push({ from: prev, to: sid, kind: prev === hid ? 'head' : 'next' });
      lastStage.set(pass.id, sid);
      if (step.northbound) {
        const nid = `nb:${step.northbound.uuid}`;
        const nbDrop = drop && pass.verdict.northbound?.uuid === step.northbound.uuid;
        const existing = nodes.get(nid);
        if (!existing) nodes.set(nid, { id: nid, role: 'northbound', pass, parent: pid, label: clip(step.northbound.summary, 48), northbound: step.northbound, mark: nbDrop ? 'drop' : undefined });
        else if (nbDrop) existing.mark = 'drop';
        edges.push({ from: sid, to: nid, kind: 'northbound' });
      }
    }
    const v = pass.verdict;
    const end = lastStage.get(pass.id)!;
    const vid = `v:${pass.id}`;
    if (v.kinds.includes('output')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: `output → ${v.logicalPorts.join(', ') || '?'}`, mark: 'output' });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    } else if (v.kinds.includes('drop')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: 'drop', sub: v.northbound ? clip(`by ${v.northbound.table} ${short(v.northbound.uuid)}`) : undefined, mark: 'drop' });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    } else if (v.kinds.includes('controller')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: `to ovn-controller: ${clip(v.controller?.reason ?? v.reason ?? '?', 36)}`, mark: 'controller' });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    } else if (v.kinds.includes('tunnel')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: `tunnel → ${(v.tunnels ?? []).map((t: any) => t.chassis ?? t.remoteIp ?? '?').join(', ')}` });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    }
  });
  // Recirculation (and tunnel) edges: from the last stage of the parent pass to the first of the child.
  const byFlow = new Map(path.passes.filter((p) => p.datapathFlowId !== null).map((p) => [p.datapathFlowId!, p]));
  for (const e of path.edges) {
    const a = byFlow.get(e.parentDatapathFlowId);
    const b = byFlow.get(e.childDatapathFlowId);
    if (!a || !b) continue;
    edges.push({ from: lastStage.get(a.id)!, to: `head:${b.id}`, kind: 'recirc', label: `recirc ${e.recircId}` });
  }
  return layoutPicture([...nodes.values()], edges, stages);
}

function layoutPicture(nodes: Array<Omit<GNode, 'x' | 'y' | 'width' | 'height'>>, edges: Array<Omit<GEdge, 'points'>>, stages: number): Picture {
  const g = new graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 22, edgesep: 8, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const leaf = new Set(nodes.filter((n) => n.role !== 'pass' && n.role !== 'datapath').map((n) => n.id));
  for (const n of nodes) {
    // Clusters are sized by dagre around their children; their own label needs room at the top.
    g.setNode(n.id, leaf.has(n.id) ? size(n.label, n.sub) : { label: n.label });
    if (n.parent) g.setParent(n.id, n.parent);
  }
  // A cluster with no children would be laid out as a node of zero size.
  for (const n of nodes) if (!leaf.has(n.id) && !(g.children(n.id) ?? []).length) g.setNode(n.id, size(n.label, n.sub));
  edges.forEach((e, i) => {
    if (g.hasNode(e.from) && g.hasNode(e.to) && leaf.has(e.from) && leaf.has(e.to)) g.setEdge(e.from, e.to, e.label ? { label: e.label, width: e.label.length * CHAR, height: 14, minlen: e.kind === 'recirc' ? 2 : 1 } : { minlen: 1 }, String(i));
  });
  layout(g);
  const placed: GNode[] = nodes.map((n) => {
    const l = g.node(n.id) as any;
    return { ...n, x: l.x - l.width / 2, y: l.y - l.height / 2, width: l.width, height: l.height };
  });
  const laid: GEdge[] = [];
  edges.forEach((e, i) => {
    const l = g.hasEdge(e.from, e.to, String(i)) ? (g.edge(e.from, e.to, String(i)) as any) : null;
    if (l) laid.push({ ...e, points: l.points });
  });
  const gg = g.graph() as any;
  return { nodes: placed, edges: laid, width: gg.width ?? 0, height: gg.height ?? 0, stages };
}
