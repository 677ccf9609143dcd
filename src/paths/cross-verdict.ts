// The one verdict of a packet's path across chassis (cross-chassis.ts walks it): its segments and
// hops in the order the packet took them, the chassis that decided, why it may be incomplete or
// may still change (provisional.ts).
import type { BuiltPath } from './path-builder';
import { LINK_A_SIDE } from './path-store';
import type { StoredPathVerdict } from './path-verdict';
import type { MarkFields } from './provisional';
import type { TunnelPush } from '../ovs/odp-tunnel';
import type { LocalnetHop } from './localnet-hops';

export interface TunnelHop {
  fromChassis: string;
  /** The sender's pass (trace) that pushed the tunnel. */
  fromTraceId: number;
  remoteIp: string;
  /** The chassis whose encap IP is remoteIp (southbound Encap), else the receiver's, else null. */
  remoteChassis: string | null;
  /** The encapsulation, as the push shows it (Geneve options or header, VXLAN header, the kernel form's tp_dst or port name). */
  encap: TunnelPush['kind'];
  /**
   * The tunnel id as sent: a number while exact, else its hex text (an STT tun_id past 2^53: ids.ts
   * tunnelIdForJson). With VXLAN it is the datapath key | the egress key << 12, not the datapath key.
   */
  vni: number | string;
  /** OVN's logical ingress port key (odp-tunnel.ts ovnTunnelKeys); null where not carried (VXLAN). */
  ingressKey: number | null;
  /** The logical egress port key, a Multicast_Group's (≥ 32768) for a flood; null where not carried. */
  egressKey: number | null;
  /** The receiver's first pass, null when none was found within the window. */
  toTraceId: number | null;
  /**
   * Present (true) only when the look had more candidates than it reads (LINK_A_SIDE each side of
   * the sender's start) and the pick cannot be sure: no arrival found (it may be among those not
   * read), or the one found is not nearer than where a bounded side stopped (a nearer one may be).
   * For the hop into the arrival a path was asked for, the look is the one that found its sender.
   */
  lookBounded?: true;
  /** Present (true) while the receiver's agent may not have stored this packet's arrival yet (provisional.ts). */
  provisional?: true;
  /**
   * Present when the hop was settled without a chassis unknown or silent past the bound (provisional.ts):
   * whom, as the verdict's settledWithout names it (the receiver's, or for the hop into an arrival a
   * path was asked for, the sender's).
   */
  settledWithout?: string[];
}

/**
 * `provisional` (true) when a hop is: the answer may still change, `provisionalReason` says until when.
 * `settledReason`, `settledWithout`: hops settled without the other chassis, unknown or silent past
 * the bound (provisional.ts): why, and whom (a chassis name, or the tunnel IP of one unknown).
 */
export interface CrossChassisVerdict extends StoredPathVerdict, MarkFields {
  /** The chassis whose pass decided (delivered or dropped); the last one reached otherwise. */
  chassis: string;
  tunnels: TunnelHop[];
  /** Hops across the physical network by localnet ports (localnet-hops.ts); present only when there is one. */
  localnetHops?: LocalnetHop[];
}

/** A hop between chassis, by tunnel or by the physical network: from a sender's pass to a receiver's first pass. */
export type Hop = Pick<TunnelHop, 'fromTraceId' | 'toTraceId'>;

/** A tunnel's hop (a localnet hop has no tunnel IP). */
export function isTunnelHop(h: TunnelHop | LocalnetHop): h is TunnelHop {
  return 'remoteIp' in h;
}

export interface ChassisSegment {
  chassis: string;
  built: BuiltPath;
}

/**
 * The segments and hops (tunnels and localnet hops alike) as the walk from the packet's first segment finds them: each segment's
 * passes in order, each pass's hops in push order, a receiver after its sender. A path asked for by
 * an arrival reaches the others in another order (its own first), and the verdict's first drop and
 * deciding chassis must not depend on which pass of the packet was asked for.
 */
export function fromTheStart<H extends Hop>(segments: ChassisSegment[], tunnels: H[]): { segments: ChassisSegment[]; hops: H[] } {
  const segmentOf = new Map(segments.flatMap((s) => s.built.passes.map((p) => [p.id, s] as const)));
  const hopsFrom = new Map<number, H[]>();
  for (const t of tunnels) hopsFrom.set(t.fromTraceId, [...(hopsFrom.get(t.fromTraceId) ?? []), t]);
  const out = [segments[0]];
  const reached = new Set(out);
  const hops: H[] = [];
  for (let k = 0; k < out.length; k++) {
    for (const pass of out[k].built.passes) {
      for (const hop of hopsFrom.get(pass.id) ?? []) {
        hops.push(hop);
        const next = hop.toTraceId === null ? undefined : segmentOf.get(hop.toTraceId);
        if (next && !reached.has(next)) {
          reached.add(next);
          out.push(next);
        }
      }
    }
  }
  // Nothing is lost should the data hold a segment or hop no walk from the start reaches.
  const placed = new Set(hops);
  return { segments: [...out, ...segments.filter((s) => !reached.has(s))], hops: [...hops, ...tunnels.filter((t) => !placed.has(t))] };
}

/**
 * One verdict over the chassis's segments: the first drop decides, else every chassis's outputs.
 * `startReasons` say why the first segment may not be where the packet started; `fromMarks` whether
 * a hop may still change or was settled without its chassis (provisional.ts).
 */
export function combine(segments: ChassisSegment[], tunnels: TunnelHop[], startReasons: string[] = [], fromMarks: MarkFields = {}): CrossChassisVerdict {
  const v = segments.map((s) => ({ chassis: s.chassis, v: s.built.verdict }));
  const drop = v.find((x) => x.v.kinds.includes('drop'));
  const ctl = v.find((x) => x.v.controller);
  const unlinked = tunnels.filter((t) => t.toTraceId === null);
  const kinds = new Set(v.flatMap((x) => x.v.kinds));
  // A tunnel whose arrival was found is a hop, not where the packet went.
  if (!unlinked.length) kinds.delete('tunnel');
  if (kinds.size > 1) kinds.delete('recirculate');
  const outputs = v.filter((x) => x.v.kinds.includes('output') && x.v.logicalPorts.length);
  const decided = drop ?? outputs[outputs.length - 1] ?? ctl ?? v[v.length - 1];
  const reasons = [
    ...startReasons,
    ...v.filter((x) => x.v.incomplete).map((x) => `on ${x.chassis}: ${x.v.incompleteReason ?? 'a pass is missing'}`),
    ...unlinked.map(
      (t) =>
        `the pass of trace ${t.fromTraceId} on ${t.fromChassis} sent the packet through a tunnel to ${t.remoteIp}` +
        ` (chassis ${t.remoteChassis ?? 'unknown'}) and no first pass there with that tunnel and packet lies within the time window` +
        (t.lookBounded ? ` among the ${LINK_A_SIDE} that started nearest the sender's start on each side (more were alive then and were not read)` : ''),
    ),
  ];
  return {
    kinds: [...kinds],
    logicalPorts: [...new Set(v.flatMap((x) => x.v.logicalPorts))],
    ...(v.some((x) => x.v.unmappedOutputs?.length) ? { unmappedOutputs: [...new Set(v.flatMap((x) => x.v.unmappedOutputs ?? []))] } : {}),
    ...(v.some((x) => x.v.bridgeLocal?.length) ? { bridgeLocal: [...new Set(v.flatMap((x) => x.v.bridgeLocal ?? []))] } : {}),
    logicalFlow: drop?.v.logicalFlow ?? null,
    ...(drop ? { stage: drop.v.stage ?? null } : {}),
    northbound: drop?.v.northbound ?? null,
    ...(drop?.v.executedBy ? { executedBy: drop.v.executedBy } : {}),
    ...(drop?.v.dropReason ? { dropReason: drop.v.dropReason } : {}),
    ...(ctl?.v.controller ? { controller: ctl.v.controller } : {}),
    passes: v.reduce((n, x) => n + x.v.passes, 0),
    incomplete: reasons.length > 0,
    ...(reasons.length ? { incompleteReason: reasons.join('; ') } : {}),
    dropTraceId: drop?.v.dropTraceId ?? null,
    chassis: decided.chassis,
    tunnels,
    ...fromMarks,
  };
}
