// Where one chassis's live path and ovn-trace's simulation cannot line up pipeline by pipeline,
// because ovn-trace has no chassis:
//  - a flood (`multicast(dp=…, mcgroup=…)`): ovn-trace prints one egress pipeline per member of the
//    group, in the group's order, each followed by what that copy went on to (a router port's copy
//    runs the router, and the next switch, which may flood again: a relayed multicast, an unknown
//    unicast). The datapath runs the egress of the members bound here, in its own order, and
//    sends one tunnel copy per remote chassis under the group's key (their egress runs there), or,
//    on a switch with a localnet port, reaches remote members through the localnet port's copy.
//  - a unicast to a port bound on another chassis of a switch with a localnet port: the datapath
//    runs the switch's egress for the localnet port (OVN's physical flows set outport to it) and the
//    packet crosses the physical network (with push_vlan when the port has a tag); ovn-trace runs the
//    egress for the destination port, which the receiving chassis runs after its own ingress.
import type { StepJson } from '../traces';
import type { OvnTraceResult, Pipeline, SimPipeline } from './ovn-trace-parse';

/** What the alignment needs of a live segment (one pipeline of one datapath, as live-segments.ts cuts them). */
export interface SegmentShape {
  pipeline: Pipeline;
  datapath: string | null;
  /** An egress segment's logical outport: the Port_Binding its packet was handed to after it. */
  outport: string | null;
}

/** The chassis a logical port's Port_Binding names (null: none, e.g. a patch or localnet port; undefined: unknown). */
export type BoundOn = (port: string) => string | null | undefined;

/**
 * Which chassis binds a port: as the path's own steps saw it when traced, else as the southbound says now.
 * A flood copy the datapath never ran has no step naming its port (its Port_Binding's physical flows did
 * not run: that is the difference to find), so the path alone cannot tell it is bound here.
 */
export function boundChassis(passes: ReadonlyArray<{ steps?: StepJson[] }>, southbound?: (port: string) => { chassis: string | null } | null): BoundOn {
  const seen = new Map<string, string | null>();
  for (const step of passes.flatMap((p) => p.steps ?? [])) {
    for (const o of step.owners) {
      if (o.table !== 'Port_Binding' || !o.name) continue;
      seen.set(o.name, /chassis-name "([^"]*)"/.exec(o.summary ?? '')?.[1] ?? null);
    }
  }
  return (port) => (seen.has(port) ? seen.get(port) : southbound?.(port)?.chassis);
}

/** One copy of a flood: its egress pipeline and the pipelines it went on to. */
export interface SimCopy {
  outport: string;
  pipelines: SimPipeline[];
  /** Its index in ovn-trace's output. */
  firstIndex: number;
}

export interface AlignedSimulation {
  /** ovn-trace's pipelines in the live path's order. */
  pipelines: SimPipeline[];
  /** Copies of the flood the live path ran no egress for (not the ones ovn-trace skipped as the inport). */
  unmatched: SimCopy[];
  /** Ports of the copies the live path ran, with the type ovn-trace printed for their output. */
  matchedOutputs: Array<{ port: string; type: string }>;
}

/** ovn-trace's pipelines as the tree it prints: a run of pipelines, ending in a flood whose copies are trees again. */
interface SimTree {
  pipelines: SimPipeline[];
  flood?: { datapath: string; copies: Array<SimCopy & { tree: SimTree }> };
}

/**
 * The tree of sim.pipelines[from, to). A flood is the end of its branch: whatever follows its
 * `multicast(` title up to `to` is its copies, each an egress of the flood's datapath from the flood's
 * inport and what that copy went on to (a router port's copy: the router, the next switch, its own
 * flood…), up to the next such egress. An ingress that floods twice (a clone to the mrouter ports,
 * then the IGMP group) prints the second flood's copies after the first's, with the same datapath
 * and inport: here they are one set of copies, which the datapath runs in its own order anyway.
 */
function simTree(sim: OvnTraceResult, from: number, to: number): SimTree {
  const all = sim.pipelines;
  const mc = sim.sections.find((s) => s.title.startsWith('multicast(') && s.pipelineIndex >= from && s.pipelineIndex < to);
  const start = mc ? mc.pipelineIndex + 1 : to;
  const head = all[start];
  if (start >= to || !head || head.pipeline !== 'egress' || !head.outport) return { pipelines: all.slice(from, to) };
  const heads: number[] = [];
  for (let k = start; k < to; k++) {
    const p = all[k];
    if (p.pipeline === 'egress' && p.datapath === head.datapath && p.inport === head.inport && p.outport) heads.push(k);
  }
  const copies = heads.map((k, j) => {
    const end = heads[j + 1] ?? to;
    return { outport: all[k].outport!, pipelines: all.slice(k, end), firstIndex: k, tree: simTree(sim, k, end) };
  });
  return { pipelines: all.slice(from, start), flood: { datapath: head.datapath, copies } };
}

/**
 * ovn-trace's pipelines reordered so that each egress copy of each of its floods stands at the place of
 * the live egress segment with the same outport, followed by what that copy went on to (its own floods
 * reordered likewise). Copies ovn-trace skipped (`omitting output because inport == outport`: no stage,
 * no output) are left out; copies with no live segment are returned apart, in ovn-trace's order.
 */
export function alignFloodCopies(sim: OvnTraceResult, live: readonly SegmentShape[]): AlignedSimulation {
  const ran = (c: SimCopy) => c.pipelines.length > 1 || c.pipelines[0].stages.length > 0 || sim.outputs.some((o) => o.pipelineIndex === c.firstIndex);
  const ordered: SimPipeline[] = [];
  const unmatched: SimCopy[] = [];
  const place = (t: SimTree) => {
    ordered.push(...t.pipelines);
    if (!t.flood) return;
    const left = t.flood.copies.filter(ran);
    // The live path runs a flood's copies here one after the other, each with all it went on to: the
    // segment where the next copy's egress would stand names which copy it is.
    for (let seg = live[ordered.length]; seg?.pipeline === 'egress' && (!seg.datapath || seg.datapath === t.flood.datapath); seg = live[ordered.length]) {
      const i = left.findIndex((c) => c.outport === seg!.outport);
      if (i < 0) break;
      place(left.splice(i, 1)[0].tree);
    }
    unmatched.push(...left.map(({ tree: _, ...c }) => c));
  };
  place(simTree(sim, 0, sim.pipelines.length));
  const index = new Map(sim.pipelines.map((p, i) => [p, i]));
  const matchedOutputs = ordered.flatMap((p) => sim.outputs.filter((o) => o.pipelineIndex === index.get(p)).map((o) => ({ port: o.port, type: o.type })));
  return { pipelines: ordered, unmatched: unmatched.sort((a, b) => a.firstIndex - b.firstIndex), matchedOutputs };
}

/** Where one of the pass's tunnel copies went: the chassis whose Encap names its remote IP, null when none does. */
export interface TunnelEnd {
  chassis: string | null;
  remoteIp?: string;
}

interface LiveEnds {
  chassis: string | null;
  bound: BoundOn;
  kinds: readonly string[];
  liveOutputs: readonly string[];
  tunnelsTo?: readonly TunnelEnd[];
}

/**
 * Whether the pass's tunnels could carry a packet to a port bound on `at`: OVN sends one tunnel copy per
 * chassis the port (a flood: a member) is bound on, so a port bound on a chassis no tunnel went to was not
 * carried - as when the datapath still tunnels by a chassis the port left, or to an IP no Encap names any
 * more (the remote chassis changed its encap IP, or was deleted, and this chassis's flows were not
 * recomputed): that IP is not `at`'s encap. Taken as carried when it cannot be told: the port bound
 * nowhere (a patch port), or a pass that names no tunnel.
 */
export function tunnelCarries(at: string | null | undefined, tunnelsTo: readonly TunnelEnd[] | undefined): boolean {
  return !at || !tunnelsTo?.length || tunnelsTo.some((t) => t.chassis === at);
}

/** Where the tunnels went, for a message: each chassis, or the remote IP when no Encap names it. */
export function tunnelsText(tunnelsTo: readonly TunnelEnd[]): string {
  const ends = [...new Set(tunnelsTo.map((t) => t.chassis ?? `${t.remoteIp ?? 'an IP'} (no southbound Encap names it)`))];
  return ends.join(', ');
}

/** Why the pass's tunnels missed `at`: the flows follow a binding or an encap IP the southbound no longer has. */
export function missedWhy(at: string, tunnelsTo: readonly TunnelEnd[]): string {
  return tunnelsTo.some((t) => t.chassis === null)
    ? `this chassis's flows still tunnel to an encap IP the southbound no longer names, not to ${at}'s (a chassis changed its encap IP or was deleted, and this chassis has not caught up)`
    : `this chassis's flows still follow a binding the southbound no longer has, or lack ${at}'s tunnel`;
}

/**
 * The flood copies the live path ran no egress for: handed off (their ports, why), or the first
 * that is a difference (bound here, or no tunnel and no localnet copy that would carry it).
 */
export function floodCopiesLeft(
  a: AlignedSimulation,
  o: LiveEnds,
): { handedOff: string[]; reason: string | null } | { missing: SimCopy; explanation: string } {
  const reasons: string[] = [];
  for (const c of a.unmatched) {
    const why = copyHandedOff(c, { ...o, matchedOutputs: a.matchedOutputs });
    if (why) {
      reasons.push(why);
      continue;
    }
    const first = c.pipelines[0];
    const at = o.bound(c.outport);
    return {
      missing: c,
      explanation:
        `ovn-trace's flood sent a copy to "${c.outport}"${at ? ` (bound on ${at})` : ''} (${first.pipeline}(dp=${JSON.stringify(first.datapath)}, outport=${JSON.stringify(c.outport)})); ` +
        `the live path ran no egress for it${at && at === o.chassis ? ' although the port is bound here' : `, sent no tunnel copy${at && o.kinds.includes('tunnel') ? ` to ${at}` : ''} and no localnet copy that would carry it${tunnelled(at, o)}`}.`,
    };
  }
  return { handedOff: a.unmatched.map((c) => c.outport), reason: reasons.length ? reasons.join('; ') : null };
}

/** Where the tunnels went instead of `at`, and why, for the missing copy's message ('' when none went). */
function tunnelled(at: string | null | undefined, o: LiveEnds): string {
  if (!at || !o.kinds.includes('tunnel') || !o.tunnelsTo?.length) return '';
  return `; its tunnels went to ${tunnelsText(o.tunnelsTo)}: ${missedWhy(at, o.tunnelsTo)}`;
}

/**
 * Why a flood copy the live path did not run is no difference, or null when it is one: its port is
 * not bound here and the packet left by a tunnel, or by a localnet port's copy.
 */
function copyHandedOff(c: SimCopy, o: LiveEnds & { matchedOutputs: AlignedSimulation['matchedOutputs'] }): string | null {
  const at = o.bound(c.outport);
  if (o.chassis && at === o.chassis) return null;
  const where = at ? ` (bound on ${at})` : '';
  if (o.kinds.includes('tunnel') && tunnelCarries(at, o.tunnelsTo)) return `the copy to "${c.outport}"${where} left this chassis through a tunnel: its egress runs on the receiving chassis`;
  const ln = o.matchedOutputs.find((m) => m.type === 'localnet' && o.liveOutputs.includes(m.port));
  if (ln) return `the copy to "${c.outport}"${where} is the copy the localnet port "${ln.port}" sent to the physical network: its egress runs on the chassis that receives it`;
  return null;
}

/**
 * Why a live egress for another port than ovn-trace's is no difference, or null: ovn-trace's outport is
 * bound on another chassis and the packet left here by the live egress's port (a localnet port: the
 * only way OVN reaches a remote port without a tunnel).
 */
export function handedToLocalnet(
  sp: SimPipeline,
  seg: SegmentShape,
  o: { chassis: string | null; bound: BoundOn; liveOutputs: readonly string[]; southbound?: (port: string) => { type: string } | null },
): string | null {
  if (sp.pipeline !== 'egress' || seg.pipeline !== 'egress' || !sp.outport || !seg.outport || sp.outport === seg.outport) return null;
  // A VIF here is where the datapath delivered the packet (a stale FDB or L2 rule), not a hand-off.
  if (o.southbound && o.southbound(seg.outport)?.type !== 'localnet') return null;
  const at = o.bound(sp.outport);
  if (!at || at === o.chassis || !o.liveOutputs.includes(seg.outport)) return null;
  return `"${sp.outport}" is bound on ${at}: this chassis ran ${sp.pipeline}(dp="${sp.datapath}") for "${seg.outport}" and the packet left by it to the physical network; the egress to "${sp.outport}" runs on ${at}`;
}
