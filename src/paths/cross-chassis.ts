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
import { LINK_A_SIDE, LinkFlowRow, LinkLook, linkFlowOf, PathStore } from './path-store';
import { SegmentFlows } from './segment-flows';
import { combine, fromTheStart, isTunnelHop, type ChassisSegment, type CrossChassisVerdict, type TunnelHop } from './cross-verdict';
import { tunnelIdForJson } from '../ovs/ids';
import { pushSignaturesSought } from '../ovs/push-signature';
import { signaturesReaching, tunnelSignature } from '../ovs/tunnel-signature';
import { bothSides, HopMarks, HopTimes, LinkMarks, sure } from './provisional';
import { LocalnetLinks, type AskedLocalnet, type LocalnetHop } from './localnet-hops';
import { arrivalOf, gapMs, innerFields, LinkFlow, linkTunnels, nearer, pushesOf, samePacket, senderOf } from './tunnel-link';

/** Chassis hops followed from one packet: a tunnel loop in the data stops here. */
const MAX_HOPS = 8;
/** Recirculations followed down from a shared arrival: a packet recirculates a handful of times. */
const MAX_DEPTH = 16;

export type { ChassisSegment, CrossChassisVerdict, TunnelHop } from './cross-verdict';

const ms = (iso: string): number => Date.parse(iso);

@Injectable()
export class CrossChassisPaths {
  /** Picks a look's bound left unsure (see TunnelHop.lookBounded), counted each time a path is built. */
  private readonly bounded?: Counter<'direction' | 'linked'>;
  /** Hops across the physical network, by localnet ports (localnet-hops.ts). */
  private readonly localnet: LocalnetLinks;

  constructor(
    private readonly store: PathStore,
    private readonly replicas: ReplicasService,
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    @Optional() metrics?: MetricsService,
  ) {
    this.localnet = new LocalnetLinks(store, () => this.replicas.sb, config.LIVETRACE_TUNNEL_SKEW_MS);
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
    const marks = new LinkMarks((chassis) => this.store.markOf(chassis), this.config.LIVETRACE_TUNNEL_SKEW_MS, (this.config.LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS ?? 0) * 3_600_000);
    // A receiver taken in from the physical network, asked for: its sender's localnet hop picks it.
    const askedLocalnet = new Map<number, AskedLocalnet>();
    const localnetHops: LocalnetHop[] = [];
    // Asked for by a receiving chassis's path: the chassis that sent it come first.
    while (segments.length <= MAX_HOPS) {
      const look = await this.senderTraceOf(segments[0].built, flows);
      if (!look) {
        // Not a tunnel's arrival: maybe a frame taken in from the physical network by a localnet port.
        const ln = await this.localnet.senderOf(segments[0].built, flows);
        if (!ln || seenTraces.has(ln.sender)) break;
        const back = await ofTrace(ln.sender);
        if (!back) break;
        askedLocalnet.set(ln.sender, ln.receiver);
        back.passes.forEach((p) => seenTraces.add(p.id));
        segments.unshift({ chassis: chassisOf(back), built: back });
        continue;
      }
      const receiver = segments[0].built.passes[0];
      if (look.sender === undefined) {
        if (look.unsure && receiver) startReasons.push(unsentReason(receiver.id, segments[0].chassis, look));
        // The sending chassis may not have stored this packet's sender yet; a one-chassis service
        // skips a far end its store knows nothing of, as it does a tunnel's.
        if (receiver && !(await this.oneChassisSkips(look.srcChassis))) await marks.judgeUnsent(look.srcChassis, receiver.id, look.srcIp, look.receiver);
        break;
      }
      const sender = look.sender;
      if (seenTraces.has(sender)) break;
      const back = await ofTrace(sender);
      if (!back) break;
      if (receiver) {
        // Read from the arrival: the sending chassis may not have stored this packet's own sender yet.
        const senderSide = await marks.judge('sender', look.senderFlow!.chassis, receiver.id, { near: look.receiver, pick: look.senderFlow });
        arrivedAt.set(sender, { traceId: receiver.id, flow: look.receiver, unsure: look.unsure, senderSide });
      }
      back.passes.forEach((p) => seenTraces.add(p.id));
      segments.unshift({ chassis: chassisOf(back), built: back });
    }
    for (let i = 0; i < segments.length && segments.length <= MAX_HOPS; i++) {
      await flows.load(segments[i].built.passes);
      for (const pass of segments[i].built.passes) {
        for (const { hop, asked, times, buildFrom } of await this.hopsOf(pass, flows.of(pass), arrivedAt.get(pass.id))) {
          // A one-chassis service sees its tunnels' far ends only when an agent there shares its store.
          if (hop.toTraceId === null && (await this.oneChassisSkips(hop.remoteChassis))) continue;
          Object.assign(hop, bothSides(await marks.judge('receiver', hop.remoteChassis, hop.fromTraceId, times, hop.remoteIp), asked ? arrivedAt.get(pass.id)?.senderSide : undefined));
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
        for (const { hop, times, built } of await this.localnet.hopsOf(pass, flows.of(pass), ofTrace, askedLocalnet.get(pass.id))) {
          if (hop.toChassis !== null) Object.assign(hop, await marks.judge('receiver', hop.toChassis, hop.fromTraceId, times));
          localnetHops.push(hop);
          if (hop.toTraceId === null || !built || seenTraces.has(hop.toTraceId)) continue;
          built.passes.forEach((p) => seenTraces.add(p.id));
          segments.push({ chassis: chassisOf(built), built });
        }
      }
    }
    if (tunnels.length || localnetHops.length) {
      const ordered = fromTheStart(segments, [...tunnels, ...localnetHops]);
      const verdict = combine(ordered.segments, ordered.hops.filter(isTunnelHop), startReasons, marks.verdictFields());
      const lnOrdered = ordered.hops.filter((h): h is LocalnetHop => !isTunnelHop(h));
      return { segments: ordered.segments, verdict: { ...verdict, ...(lnOrdered.length ? { localnetHops: lnOrdered } : {}) } };
    }
    const fromMarks = marks.verdictFields();
    if (!startReasons.length && !Object.keys(fromMarks).length) return undefined;
    // No hop: the one-chassis answer (its verdict as it was, a tunnel to a chassis this store does
    // not know included), with why its start may be later than the packet's, or may still change.
    const own = segments.find((s) => s.built === first)!;
    const v = own.built.verdict;
    const reasons = [...startReasons, ...(v.incomplete ? [v.incompleteReason ?? 'a pass is missing'] : [])];
    return {
      segments: [own],
      verdict: {
        ...v,
        ...(startReasons.length ? { incomplete: true, incompleteReason: reasons.join('; ') } : {}),
        chassis: own.chassis,
        tunnels: [],
        ...fromMarks,
      },
    };
  }

  /** A one-chassis service (role all) sees a far end only when an agent there shares its store. */
  private async oneChassisSkips(chassis: string | null): Promise<boolean> {
    return this.config.LIVETRACE_ROLE === 'all' && (chassis === null || !(await this.store.hasChassis(chassis)));
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
    const receiver = packetTime(linkFlowOf(row), b, flows);
    const arrival = arrivalOf(receiver);
    if (!arrival?.src) return undefined;
    // No dst, no signature: no push can be told to reach it (the search by `dst=` text found none either).
    const sought = pushSignaturesSought(tunnelSignature(row.key, receiver.recircId));
    if (!sought) return undefined;
    const skew = this.config.LIVETRACE_TUNNEL_SKEW_MS;
    const side = { chassis: this.chassisOfIp(arrival.src), notChassis: row.chassis };
    const window = { from: new Date(receiver.from - skew).toISOString(), to: new Date(receiver.to + skew).toISOString(), near: new Date(receiver.from).toISOString() };
    const senders = await this.store.senders(side, sought, window);
    const found = senderOf(receiver, senders.rows.map(linkFlowOf), skew);
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
      for (const c of (await this.store.childFlows(node.row.id, window)).map(linkFlowOf)) {
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
    const sender = linkFlowOf(row);
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
    const candidates = [...byId.values()].map(linkFlowOf);
    const links = linkTunnels(sender, candidates, skew);
    // The push that sent the asked arrival: the one whose own pick it is, else the first that reaches it.
    const reaching = asked ? linkTunnels(sender, [asked.flow], skew).flatMap((l, i) => (l.receiver ? [i] : [])) : [];
    const askedAt = reaching.find((i) => links[i].receiver?.row.trace_id === asked!.traceId) ?? reaching[0];
    const own = await Promise.all(links.map(({ receiver, sent }, i) => (receiver && i !== askedAt && sent ? this.ownPassAfter(receiver, sender, sent) : undefined)));
    return links.map(({ push, receiver }, i) => {
      const mine = i === askedAt;
      // The asked hop is unsure only when the look that found this sender from it was.
      const unsure = mine ? asked!.unsure : !sure(lookOf[i], sender.from, receiver);
      // Through the model: a VXLAN flood to another availability zone carries the ingress, not the egress.
      const keys = this.replicas.model.tunnelKeys(push, row.chassis);
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
  /** The hop into it judged against the sending chassis's mark: provisional while a sender stored later could be picked instead, or settled without that chassis. */
  senderSide: HopMarks;
}

/** Why a path asked for by an arrival may start later than its packet did. */
function unsentReason(traceId: number, chassis: string, look: SenderLook): string {
  return (
    `the first pass of trace ${traceId} on ${chassis} arrived through a tunnel from ${look.srcIp} (chassis ${look.srcChassis ?? 'unknown'})` +
    ` and no pass there that sent it is among the ${LINK_A_SIDE} that started nearest its start on each side (more were alive then and were not read)`
  );
}
