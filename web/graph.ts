// The path picture: a packet's passes (one per datapath flow it went through), inside each the
// logical datapaths it crossed and the stages whose logical flows ran, the northbound rows behind
// them, recirculation and tunnel edges between passes and the verdict. The model is built here; dagre (a
// Sugiyama layered layout with compound clusters) places it; picture.ts draws it as SVG.
import { graphlib, layout } from '@dagrejs/dagre';
import { ctState, hopText, localnetHopText, outputPorts, short, type HopLike, type LocalnetHopLike } from './describe';
import { isolate as nm } from './safe-text';

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

/** One tunnel hop of a cross-chassis path (the path verdict's `tunnels`): what hopText words, and the passes it links. */
export interface TunnelHop extends HopLike {
  fromTraceId: number;
  toTraceId: number | null;
}

export type Role = 'pass' | 'head' | 'datapath' | 'stage' | 'northbound' | 'verdict';

export interface GNode {
  id: string;
  role: Role;
  label: string;
  sub?: string;
  /** A third line (the pass's datapath flow), with room kept for its lifetime added once fetched. */
  sub2?: string;
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
  kind: 'head' | 'next' | 'recirc' | 'tunnel' | 'northbound' | 'verdict';
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
const size = (label: string, sub?: string, sub2?: string) => ({ width: Math.max(visible(label), visible(sub ?? ""), sub2 ? LIFETIME_CHARS : 0) * CHAR + 18, height: sub2 ? 50 : sub ? 36 : 24 });
/** The head's third line: `dp flow 311bac1a · live, 12 packets, 02:31:39 - 02:31:41`. */
export const LIFETIME_CHARS = 64;
/**
 * Every label is clipped: its box is sized by its length, and names in it come from OVN, OVS and
 * ingested events (a 64 KB port name made a box half a million pixels wide). The detail pane shows them whole.
 */
const clip = (s: string, n = 44) => {
  // Counted as the loop below counts (code points): a name outside the basic plane is one, not two.
  if ([...s].filter((ch) => ch !== FSI && ch !== PDI).length <= n) return s;
  // Cut at n - 1 shown characters; an isolate (safe-text.ts isolate) cut open is closed after the
  // ellipsis, so the rest of the label is never inside a name's isolate (picture.ts draws isolates).
  let out = '';
  let shown = 0;
  let open = false;
  for (const ch of s) {
    if (ch === FSI || ch === PDI) open = ch === FSI;
    else if (shown++ >= n - 1) break;
    out += ch;
  }
  return `${out}…${open ? PDI : ''}`;
};
const [FSI, PDI] = ['\u2068', '\u2069'];
/** A label's length as shown: its isolates' marks take no room. */
const visible = (s: string) => s.replace(/[\u2068\u2069]/g, '').length;

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
    nodes.set(hid, { id: hid, role: 'head', pass, parent: pid, label: clip(`pass ${i + 1} · ${nm(pass.chassis)} · recirc ${pass.recircId ?? '0'}${ct ? ` · ct ${ct}` : ''}`, 52), sub: clip(`datapath actions: ${nm(pass.datapathActions)}`, 52), sub2: pass.ufid ? `dp flow ${short(pass.ufid)}` : 'no datapath flow' });
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
      const dp = lf.datapaths?.map((d) => (d.name === null ? '?' : nm(d.name))).join(', ') || '?';
      const key = `${dp}|${lf.pipeline}`;
      if (key !== segKey) {
        segKey = key;
        seg = `dp:${pass.id}:${k}`;
        nodes.set(seg, { id: seg, role: 'datapath', pass, parent: pid, label: clip(`${dp} ${lf.pipeline ?? ''}`, 52) });
      }
      const sid = `st:${pass.id}:${k++}`;
      const drop = pass.verdict.kinds.includes('drop') && pass.verdict.logicalFlow === lf.uuid;
      const ctl = pass.verdict.controller?.logicalFlow === lf.uuid;
      stage = { id: sid, role: 'stage', pass, parent: seg!, label: clip(`${lf.tableId} ${lf.stage ? nm(lf.stage) : '?'}`), sub: clip(`lflow ${short(lf.uuid)} · prio ${lf.priority}${lf.stale ? ' · stale' : ''}${step.northbound ? ` · ${step.northbound.table}` : ''}`), lflow: lf, northbound: step.northbound, steps: [step], mark: drop ? 'drop' : ctl ? 'controller' : undefined };
      nodes.set(sid, stage);
      stages++;
      const prev = lastStage.get(pass.id)!;
      edges.push({ from: prev, to: sid, kind: prev === hid ? 'head' : 'next' });
      lastStage.set(pass.id, sid);
      if (step.northbound) {
        const nid = `nb:${step.northbound.uuid}`;
        const nbDrop = drop && pass.verdict.northbound?.uuid === step.northbound.uuid;
        const existing = nodes.get(nid);
        if (!existing) nodes.set(nid, { id: nid, role: 'northbound', pass, parent: pid, label: clip(nm(step.northbound.summary), 48), northbound: step.northbound, mark: nbDrop ? 'drop' : undefined });
        else if (nbDrop) existing.mark = 'drop';
        edges.push({ from: sid, to: nid, kind: 'northbound' });
      }
    }
    const v = pass.verdict;
    const end = lastStage.get(pass.id)!;
    const vid = `v:${pass.id}`;
    if (v.kinds.includes('output')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: clip(`output → ${outputPorts(v, nm) || '?'}`, 52), mark: 'output' });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    } else if (v.kinds.includes('drop')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: 'drop', sub: v.northbound ? clip(`by ${nm(v.northbound.table)} ${nm(short(v.northbound.uuid))}`) : undefined, mark: 'drop' });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    } else if (v.kinds.includes('controller')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: `to ovn-controller: ${clip(nm(v.controller?.reason ?? v.reason ?? '?'), 36)}`, mark: 'controller' });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    } else if (v.kinds.includes('tunnel')) {
      nodes.set(vid, { id: vid, role: 'verdict', pass, parent: pid, label: clip(`tunnel → ${(v.tunnels ?? []).map((t: any) => nm(String(t.remoteChassis ?? t.chassis ?? t.remoteIp ?? '?'))).join(', ')}`, 52) });
      edges.push({ from: end, to: vid, kind: 'verdict' });
    }
  });
  // Recirculation (and tunnel) edges: from the last stage of the parent pass to the first of the child.
  const byFlow = new Map(path.passes.filter((p) => p.datapathFlowId !== null).map((p) => [p.datapathFlowId!, p]));
  for (const e of path.edges) {
    const a = byFlow.get(e.parentDatapathFlowId);
    const b = byFlow.get(e.childDatapathFlowId);
    if (!a || !b) continue;
    edges.push({ from: lastStage.get(a.id)!, to: `head:${b.id}`, kind: 'recirc', label: clip(`recirc ${e.recircId}`) });
  }
  // Tunnel edges between chassis: the sender's pass to the receiving chassis's first pass, as
  // GET /paths/:id linked them (src/paths/cross-chassis.ts: the path verdict's tunnel hops).
  const byTrace = new Map(path.passes.map((p) => [p.id, p]));
  for (const t of (path.verdict?.tunnels ?? []) as TunnelHop[]) {
    const a = byTrace.get(t.fromTraceId);
    const b = t.toTraceId === null ? undefined : byTrace.get(t.toTraceId);
    if (!a || !b || !lastStage.has(a.id)) continue;
    edges.push({ from: lastStage.get(a.id)!, to: `head:${b.id}`, kind: 'tunnel', label: clip(hopText(t, nm), 52) });
  }
  // Hops across the physical network by a localnet port (src/paths/localnet-hops.ts), drawn as a tunnel's.
  for (const h of (path.verdict?.localnetHops ?? []) as Array<LocalnetHopLike & { fromTraceId: number; toTraceId: number | null }>) {
    const a = byTrace.get(h.fromTraceId);
    const b = h.toTraceId === null ? undefined : byTrace.get(h.toTraceId);
    if (!a || !b || !lastStage.has(a.id)) continue;
    edges.push({ from: lastStage.get(a.id)!, to: `head:${b.id}`, kind: 'tunnel', label: clip(localnetHopText(h, nm), 52) });
  }
  return layoutPicture([...nodes.values()], edges, stages);
}

const PAD = 14;

/** Lays out one pass's boxes (dagre, top to bottom); returns its size. */
function layoutPass(boxes: Array<Omit<GNode, 'x' | 'y' | 'width' | 'height'>>, edges: Array<{ e: Omit<GEdge, 'points'>; i: number }>) {
  const g = new graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 22, edgesep: 8, marginx: PAD, marginy: PAD });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of boxes) g.setNode(n.id, size(n.label, n.sub, n.sub2));
  for (const { e, i } of edges) g.setEdge(e.from, e.to, { minlen: 1 }, String(i));
  layout(g);
  const gg = g.graph() as any;
  return { g, width: gg.width as number, height: gg.height as number };
}

/**
 * Each pass is laid out on its own by dagre, then the passes themselves (one box each, linked by
 * their recirculation edges) by dagre left to right. One compound layout of the whole path took
 * 1.4-2.3 s in Chromium for 5 passes of 30 stages (bench/ui); this takes a few tens of ms.
 */
function layoutPicture(nodes: Array<Omit<GNode, 'x' | 'y' | 'width' | 'height'>>, edges: Array<Omit<GEdge, 'points'>>, stages: number): Picture {
  const leaf = nodes.filter((n) => n.role !== 'pass' && n.role !== 'datapath');
  const passOf = new Map(leaf.map((n) => [n.id, n.pass.id]));
  const passIds = [...new Set(nodes.filter((n) => n.role === 'pass').map((n) => n.pass.id))];
  const within = new Map<number, Array<{ e: Omit<GEdge, 'points'>; i: number }>>();
  edges.forEach((e, i) => {
    const a = passOf.get(e.from);
    if (a !== undefined && a === passOf.get(e.to)) (within.get(a) ?? within.set(a, []).get(a)!).push({ e, i });
  });
  const laidPass = new Map(passIds.map((id) => [id, layoutPass(leaf.filter((n) => n.pass.id === id), within.get(id) ?? [])]));
  const meta = new graphlib.Graph({ multigraph: true });
  meta.setGraph({ rankdir: 'LR', nodesep: 30, ranksep: 110, marginx: 8, marginy: 8 });
  meta.setDefaultEdgeLabel(() => ({}));
  for (const [id, l] of laidPass) meta.setNode(String(id), { width: l.width, height: l.height });
  edges.forEach((e, i) => {
    const a = passOf.get(e.from);
    const b = passOf.get(e.to);
    if (a !== undefined && b !== undefined && a !== b) meta.setEdge(String(a), String(b), {}, String(i));
  });
  layout(meta);
  // Passes side by side, their heads on one line (dagre centres them on the rank). Passes of one
  // rank (a flood's receiving chassis, each one hop from the same sender) are stacked in dagre's
  // order: all at the top, they were drawn over one another.
  const ranks = new Map<number, Array<{ id: number; m: any }>>();
  for (const id of passIds) {
    const m = meta.node(String(id)) as any;
    const at = Math.round(m.x);
    (ranks.get(at) ?? ranks.set(at, []).get(at)!).push({ id, m });
  }
  const origin = new Map<number, { x: number; y: number; width: number; height: number }>();
  // An edge leaving a rank turns down or up past its widest pass, not through it.
  const rankRight = new Map<number, number>();
  for (const rank of ranks.values()) {
    let y = 8;
    const right = Math.max(...rank.map(({ m }) => m.x + m.width / 2));
    for (const { id } of rank) rankRight.set(id, right);
    for (const { id, m } of rank.sort((a, b) => a.m.y - b.m.y)) {
      origin.set(id, { x: m.x - m.width / 2, y, width: m.width, height: m.height });
      y += m.height + 30;
    }
  }
  const placed = new Map<string, GNode>();
  for (const n of leaf) {
    const o = origin.get(n.pass.id)!;
    const l = laidPass.get(n.pass.id)!.g.node(n.id) as any;
    placed.set(n.id, { ...n, x: o.x + l.x - l.width / 2, y: o.y + l.y - l.height / 2, width: l.width, height: l.height });
  }
  // Clusters: a pass is its laid-out box; a datapath, the bounds of its stages.
  for (const n of nodes) {
    if (n.role === 'pass') placed.set(n.id, { ...n, ...origin.get(n.pass.id)! });
    if (n.role !== 'datapath') continue;
    const kids = leaf.filter((k) => k.parent === n.id).map((k) => placed.get(k.id)!);
    if (!kids.length) continue;
    const x = Math.min(...kids.map((k) => k.x)) - 8;
    const y = Math.min(...kids.map((k) => k.y)) - 6;
    placed.set(n.id, { ...n, x, y, width: Math.max(...kids.map((k) => k.x + k.width)) + 8 - x, height: Math.max(...kids.map((k) => k.y + k.height)) + 6 - y });
  }
  const laid: GEdge[] = [];
  edges.forEach((e, i) => {
    const a = passOf.get(e.from);
    const b = passOf.get(e.to);
    if (a === undefined || b === undefined) return;
    if (a === b) {
      const o = origin.get(a)!;
      const l = laidPass.get(a)!.g.edge(e.from, e.to, String(i)) as any;
      if (l) laid.push({ ...e, points: l.points.map((p: { x: number; y: number }) => ({ x: p.x + o.x, y: p.y + o.y })) });
      return;
    }
    // Between passes: out of the last stage's right side, along the gap, into the next pass's head.
    const s = placed.get(e.from)!;
    const t = placed.get(e.to)!;
    const gap = rankRight.get(a)! + 24;
    const sy = s.y + s.height / 2;
    const ty = t.y + t.height / 2;
    laid.push({ ...e, points: [{ x: s.x + s.width, y: sy }, { x: gap, y: sy }, { x: gap, y: ty }, { x: t.x, y: ty }] });
  });
  const mg = meta.graph() as any;
  return { nodes: [...placed.values()], edges: laid, width: mg.width ?? 0, height: Math.max(0, ...[...origin.values()].map((o) => o.y + o.height + 8)), stages };
}
