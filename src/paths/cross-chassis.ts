// A packet's path across chassis (issue 19): a pass that leaves through a tunnel continues on the
// chassis that received it, found at read time (no shared packet id crosses a tunnel:
// tunnel-link.ts decides), whose own recirculation chain (path-builder.ts) follows. One verdict:
// the chassis that delivered or dropped the packet, or the tunnel whose arrival was not found.
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Counter } from 'prom-client';
import { LIVETRACE_CONFIG } from '../config/config.module';
import type { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { ReplicasService } from '../replicas/replicas.service';
import type { TraceRow } from '../traces/trace-store';
import type { BuiltPath } from './path-builder';
import { LINK_A_SIDE, LinkFlowRow, LinkLook, PathStore } from './path-store';
import { SegmentFlows } from './segment-flows';
import type { StoredPathVerdict } from './path-verdict';
import { tunnelIdForJson } from '../ovs/ids';
import { ovnTunnelKeys, type TunnelPush } from '../ovs/odp-tunnel';
import { pushSignaturesSought } from '../ovs/push-signature';
import { signaturesReaching, tunnelSignature } from '../ovs/tunnel-signature';
import { HopTimes, LinkMarks, sure } from './provisional';
import { arrivalOf, gapMs, innerFields, LinkFlow, linkTunnels, nearer, pushesOf, samePacket, senderOf } from './tunnel-link';

/** Chassis hops followed from one packet: a tunnel loop in the data stops here. */
const MAX_HOPS = 8;
/** Recirculations followed down from a shared arrival: a packet recirculates a handful of times. */
const MAX_DEPTH = 16;

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
}

export interface CrossChassisVerdict extends StoredPathVerdict {
  /** The chassis whose pass decided (delivered or dropped); the last one reached otherwise. */
  chassis: string;
  tunnels: TunnelHop[];
  /** Present (true) when a hop is: the answer may still change, `provisionalReason` says until when. */
  provisional?: true;
  provisionalReason?: string;
}

export interface ChassisSegment {
  chassis: string;
  built: BuiltPath;
}

const ms = (iso: string): number => Date.parse(iso);
const linkFlow = (r: LinkFlowRow): LinkFlow & { row: LinkFlowRow } => ({
  chassis: r.chassis, key: r.key, actions: r.actions, recircId: Number(r.recirc_id),
  from: ms(r.first_seen), to: ms(r.removed_at ?? r.last_seen), row: r,
});

@Injectable()
export class CrossChassisPaths {
  /** Picks a look's bound left unsure (see TunnelHop.lookBounded), counted each time a path is built. */
  private readonly bounded?: Counter<'direction' | 'linked'>;

  constructor(
    private readonly store: PathStore,
    private readonly replicas: ReplicasService,
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    @Optional() metrics?: MetricsService,
  ) {
    if (metrics)
      this.bounded = new Counter({
        name: 'livetrace_link_looks_bounded_total',
        help: `Cross-chassis links left unsure by the look's bound (more than ${LINK_A_SIDE} candidates on a side of the reference start, and no pick nearer than where it stopped), by direction (arrival: from a sender; sender: from an arrival) and whether a link was made; counted each time a path is built`,
        labelNames: ['direction', 'linked'],
        registers: [metrics.registry],
      });
  }

  /** The chassis named for an encap IP by the southbound Encap table. */
  chassisOfIp(ip: string): string | null {
    const row = this.replicas.sb.find('Encap', 'ip', ip)[0];
    return row ? String(row.chassis_name) : null;
  }

  /**
   * The segments after `first` on other chassis and the one verdict, or undefined when the path
   * stays on one chassis (its answer is then exactly the one-chassis path's). A tunnel to a chassis
   * this store knows nothing of, on a one-chassis service (role all), leaves the path as it was.
   */
  async extend(first: BuiltPath, ofTrace: (traceId: number) => Promise<BuiltPath | undefined>): Promise<{ segments: ChassisSegment[]; verdict: CrossChassisVerdict } | undefined> {
    const chassisOf = (b: BuiltPath): string => b.passes[0]?.chassis ?? b.path?.chassis ?? '';
    const segments: ChassisSegment[] = [{ chassis: chassisOf(first), built: first }];
    const tunnels: TunnelHop[] = [];
    const seenTraces = new Set(first.passes.map((p) => p.id));
    // A sender reached backwards already knows where this packet arrived: its megaflow may have
    // carried other packets to other arrivals that fit as well (an ICMP and a TCP packet through
    // the same hv1 flow), so its hop to that chassis is the receiver the path was asked for.
    // `unsure`: the sender look stopped at its bound and a nearer sender may be among those not read.
    const arrivedAt = new Map<number, AskedArrival>();
    // Why the path's start may not be where the packet started (a sender look past its bound).
    const startReasons: string[] = [];
    const flows = new SegmentFlows(this.store);
    const marks = new LinkMarks((chassis) => this.store.markOf(chassis), this.config.LIVETRACE_TUNNEL_SKEW_MS);
    // Asked for by a receiving chassis's path: the chassis that sent it come first.
    while (segments.length <= MAX_HOPS) {
      const look = await this.senderTraceOf(segments[0].built, flows);
      if (!look) break;
      const receiver = segments[0].built.passes[0];
      if (look.sender === undefined) {
        if (look.unsure && receiver) startReasons.push(unsentReason(receiver.id, segments[0].chassis, look));
        break;
      }
      const sender = look.sender;
      if (seenTraces.has(sender)) break;
      const back = await ofTrace(sender);
      if (!back) break;
      if (receiver) {
        // Read from the arrival: the sending chassis may not have stored this packet's own sender yet.
        const provisional = await marks.judge('sender', look.senderFlow!.chassis, receiver.id, { near: look.receiver, pick: look.senderFlow });
        arrivedAt.set(sender, { traceId: receiver.id, flow: look.receiver, unsure: look.unsure, provisional });
      }
      back.passes.forEach((p) => seenTraces.add(p.id));
      segments.unshift({ chassis: chassisOf(back), built: back });
    }
    for (let i = 0; i < segments.length && segments.length <= MAX_HOPS; i++) {
      await flows.load(segments[i].built.passes);
      for (const pass of segments[i].built.passes) {
        for (const { hop, asked, times, buildFrom } of await this.hopsOf(pass, flows.of(pass), arrivedAt.get(pass.id))) {
          // A one-chassis service sees its tunnels' far ends only when an agent there shares its store.
          if (hop.toTraceId === null && this.config.LIVETRACE_ROLE === 'all' && (hop.remoteChassis === null || !(await this.store.hasChassis(hop.remoteChassis)))) continue;
          if ((await marks.judge('receiver', hop.remoteChassis, hop.fromTraceId, times)) || (asked && arrivedAt.get(pass.id)?.provisional)) hop.provisional = true;
          tunnels.push(hop);
          // The sender direction was counted where it was looked (senderTraceOf).
          if (!asked && hop.lookBounded) this.bounded?.inc({ direction: 'arrival', linked: hop.toTraceId === null ? 'no' : 'yes' });
          // A receiver already in the path (the path asked for, reached backwards) is not walked again.
          if (hop.toTraceId === null || seenTraces.has(hop.toTraceId) || (buildFrom !== undefined && seenTraces.has(buildFrom))) continue;
          const next = await ofTrace(buildFrom ?? hop.toTraceId);
          if (!next) continue;
          next.passes.forEach((p) => seenTraces.add(p.id));
          segments.push({ chassis: chassisOf(next), built: next });
        }
      }
    }
    if (tunnels.length) {
      const ordered = fromTheStart(segments, tunnels);
      return { segments: ordered.segments, verdict: combine(ordered.segments, ordered.tunnels, startReasons, marks.reason()) };
    }
    if (!startReasons.length) return undefined;
    // No hop: the one-chassis answer (its verdict as it was, a tunnel to a chassis this store does
    // not know included), with why its start may be later than the packet's.
    const own = segments.find((s) => s.built === first)!;
    const v = own.built.verdict;
    const reasons = [...startReasons, ...(v.incomplete ? [v.incompleteReason ?? 'a pass is missing'] : [])];
    return { segments: [own], verdict: { ...v, incomplete: true, incompleteReason: reasons.join('; '), chassis: own.chassis, tunnels: [] } };
  }

  /**
   * The trace of the pass that sent this path's first pass through a tunnel, when it is an arrival
   * (undefined when it is not one); `unsure` when the look stopped at its bound and the pick (or
   * the absence of one) may not stand.
   */
  private async senderTraceOf(b: BuiltPath, flows: SegmentFlows): Promise<SenderLook | undefined> {
    const root = b.passes[0];
    if (!root || root.datapath_flow_id === null) return undefined;
    await flows.load(b.passes);
    const row = flows.of(root);
    if (!row) return undefined;
    const receiver = packetTime(linkFlow(row), b, flows);
    const arrival = arrivalOf(receiver);
    if (!arrival?.src) return undefined;
    // No dst, no signature: no push can be told to reach it (the search by `dst=` text found none either).
    const sought = pushSignaturesSought(tunnelSignature(row.key, receiver.recircId));
    if (!sought) return undefined;
    const skew = this.config.LIVETRACE_TUNNEL_SKEW_MS;
    const side = { chassis: this.chassisOfIp(arrival.src), notChassis: row.chassis };
    const window = { from: new Date(receiver.from - skew).toISOString(), to: new Date(receiver.to + skew).toISOString(), near: new Date(receiver.from).toISOString() };
    const senders = await this.store.senders(side, sought, window);
    const found = senderOf(receiver, senders.rows.map(linkFlow), skew);
    const unsure = !sure(senders, receiver.from, found);
    if (unsure) this.bounded?.inc({ direction: 'sender', linked: found ? 'yes' : 'no' });
    return { sender: found?.row.trace_id ?? undefined, ...(found ? { senderFlow: found } : {}), unsure, srcIp: arrival.src, srcChassis: side.chassis, receiver };
  }

  /**
   * The pass to build a receiver's segment from, when not the arrival's own (undefined): the arrival
   * started before the sender (past the skew) so an earlier packet set it up, and among its
   * recirculations (then theirs) one that fits the sent packet started nearest the sender: this
   * packet's pass after conntrack, whose path walks up to the arrival. The arrival's own path is
   * the earlier packet's.
   */
  private async ownPassAfter(arrival: LinkFlow & { row: LinkFlowRow }, sender: LinkFlow, sent: ReturnType<typeof innerFields>): Promise<number | undefined> {
    const skew = this.config.LIVETRACE_TUNNEL_SKEW_MS;
    const window = { from: new Date(sender.from - skew).toISOString(), to: new Date(sender.to + skew).toISOString() };
    let node = arrival;
    for (let depth = 0; depth < MAX_DEPTH && node.from < sender.from - skew; depth++) {
      let best: (LinkFlow & { row: LinkFlowRow }) | undefined;
      for (const c of (await this.store.childFlows(node.row.id, window)).map(linkFlow)) {
        if (c.row.trace_id === null || gapMs(sender, c) > skew || !samePacket(sent, innerFields(c.key))) continue;
        if (nearer(sender, c, best)) best = c;
      }
      if (!best) break;
      node = best;
    }
    return node === arrival ? undefined : (node.row.trace_id ?? undefined);
  }

  /**
   * The hops of a pass's pushes. `asked`: the arrival the path was asked for, when this pass is
   * the sender found from it: the push that reaches it is its hop, whatever the arrival look read;
   * the other pushes (a multicast sends several to one chassis) keep their own arrivals.
   */
  private async hopsOf(pass: TraceRow, row: LinkFlowRow | undefined, asked?: AskedArrival): Promise<Array<{ hop: TunnelHop; asked: boolean; times: HopTimes; buildFrom?: number }>> {
    if (!row || !pushesOf(row.actions).length) return [];
    const sender = linkFlow(row);
    const skew = this.config.LIVETRACE_TUNNEL_SKEW_MS;
    const from = new Date(sender.from - skew).toISOString();
    const to = new Date(sender.to + skew).toISOString();
    // One look a distinct set of signatures (a flood pushes to several chassis); a candidate two looks found counts once.
    const looks = new Map<string, LinkLook>();
    // By the push's place in the actions: linkTunnels reads the same pushes in the same order.
    const lookOf: LinkLook[] = [];
    for (const push of pushesOf(row.actions)) {
      const signatures = signaturesReaching(push);
      const side = { chassis: this.chassisOfIp(push.remoteIp), notChassis: row.chassis };
      const k = `${side.chassis}\n${signatures.join('\n')}`;
      let look = looks.get(k);
      if (!look) looks.set(k, (look = await this.store.arrivals(side, signatures, { from, to, near: new Date(sender.from).toISOString() })));
      lookOf.push(look);
    }
    const byId = new Map([...looks.values()].flatMap((l) => l.rows).map((r) => [r.id, r]));
    const candidates = [...byId.values()].map(linkFlow);
    const links = linkTunnels(sender, candidates, skew);
    // The push that sent the asked arrival: the one whose own pick it is, else the first that reaches it.
    const reaching = asked ? linkTunnels(sender, [asked.flow], skew).flatMap((l, i) => (l.receiver ? [i] : [])) : [];
    const askedAt = reaching.find((i) => links[i].receiver?.row.trace_id === asked!.traceId) ?? reaching[0];
    const own = await Promise.all(links.map(({ receiver, sent }, i) => (receiver && i !== askedAt && sent ? this.ownPassAfter(receiver, sender, sent) : undefined)));
    return links.map(({ push, receiver }, i) => {
      const mine = i === askedAt;
      // The asked hop is unsure only when the look that found this sender from it was.
      const unsure = mine ? asked!.unsure : !sure(lookOf[i], sender.from, receiver);
      const keys = ovnTunnelKeys(push);
      const hop: TunnelHop = {
        fromChassis: row.chassis,
        fromTraceId: pass.id,
        remoteIp: push.remoteIp,
        remoteChassis: this.chassisOfIp(push.remoteIp) ?? (mine ? asked!.flow.chassis : receiver?.chassis) ?? null,
        encap: push.kind,
        vni: tunnelIdForJson(push.vni),
        ingressKey: keys?.ingress ?? null,
        egressKey: keys?.egress ?? null,
        toTraceId: mine ? asked!.traceId : (receiver?.row.trace_id ?? null),
        ...(unsure ? { lookBounded: true as const } : {}),
      };
      return { hop, asked: mine, times: { near: sender, pick: mine ? asked!.flow : receiver }, ...(own[i] !== undefined ? { buildFrom: own[i] } : {}) };
    });
  }
}

/**
 * The arrival as this packet's: an arrival megaflow an earlier packet set up and this one rode
 * (through conntrack, its passes after it are new: ct_state=est) started with that earlier packet,
 * and its nearest sender would be that packet's. The packet arrived when the latest pass of its
 * segment on this chassis started: the sender is looked for near that. `flows` holds the segment's.
 */
function packetTime(arrival: LinkFlow & { row: LinkFlowRow }, b: BuiltPath, flows: SegmentFlows): LinkFlow & { row: LinkFlowRow } {
  let latest = arrival.from;
  for (const p of b.passes.slice(1)) {
    if (p.datapath_flow_id === null || p.chassis !== arrival.chassis) continue;
    const f = flows.of(p);
    if (f) latest = Math.max(latest, ms(f.first_seen));
  }
  return latest === arrival.from ? arrival : { ...arrival, from: latest, to: Math.max(arrival.to, latest) };
}

interface SenderLook {
  sender: number | undefined;
  /** The sender's flow, when one was found. */
  senderFlow?: LinkFlow;
  /** The arrival looked from (the path's first pass's flow). */
  receiver: LinkFlow;
  unsure: boolean;
  /** The outer source IP the packet arrived from, and the chassis whose encap IP it is. */
  srcIp: string;
  srcChassis: string | null;
}

/** The arrival a path was asked for, known to the sender found from it. */
interface AskedArrival {
  traceId: number;
  flow: LinkFlow;
  unsure: boolean;
  /** The sending chassis's mark has not passed where a sender stored later could be picked instead. */
  provisional: boolean;
}

/** Why a path asked for by an arrival may start later than its packet did. */
function unsentReason(traceId: number, chassis: string, look: SenderLook): string {
  return (
    `the first pass of trace ${traceId} on ${chassis} arrived through a tunnel from ${look.srcIp} (chassis ${look.srcChassis ?? 'unknown'})` +
    ` and no pass there that sent it is among the ${LINK_A_SIDE} that started nearest its start on each side (more were alive then and were not read)`
  );
}

/**
 * The segments and hops as the walk from the packet's first segment finds them: each segment's
 * passes in order, each pass's hops in push order, a receiver after its sender. A path asked for by
 * an arrival reaches the others in another order (its own first), and the verdict's first drop and
 * deciding chassis must not depend on which pass of the packet was asked for.
 */
function fromTheStart(segments: ChassisSegment[], tunnels: TunnelHop[]): { segments: ChassisSegment[]; tunnels: TunnelHop[] } {
  const segmentOf = new Map(segments.flatMap((s) => s.built.passes.map((p) => [p.id, s] as const)));
  const hopsFrom = new Map<number, TunnelHop[]>();
  for (const t of tunnels) hopsFrom.set(t.fromTraceId, [...(hopsFrom.get(t.fromTraceId) ?? []), t]);
  const out = [segments[0]];
  const reached = new Set(out);
  const hops: TunnelHop[] = [];
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
  return { segments: [...out, ...segments.filter((s) => !reached.has(s))], tunnels: [...hops, ...tunnels.filter((t) => !placed.has(t))] };
}

/**
 * One verdict over the chassis's segments: the first drop decides, else every chassis's outputs.
 * `startReasons` say why the first segment may not be where the packet started; `provisionalReason`
 * why a hop may still change (provisional.ts).
 */
function combine(segments: ChassisSegment[], tunnels: TunnelHop[], startReasons: string[] = [], provisionalReason?: string): CrossChassisVerdict {
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
    ...(provisionalReason ? { provisional: true as const, provisionalReason } : {}),
  };
}
