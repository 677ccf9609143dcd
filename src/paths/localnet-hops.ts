// A packet's path across the physical network (a provider network: docs/multi-chassis.md, "Across
// a localnet port"): a pass that left by a localnet port continues on the chassis that took the
// frame in by a localnet port of the same network and VLAN (localnet-link.ts decides), found at
// read time as a tunnel's hop is (cross-chassis.ts walks both). The network floods a MAC it has not
// learnt, so several chassis may take one frame in: the packet's continuation is each receiver
// whose own path delivered it to a logical port, else (none did) each whose path a logical flow
// dropped (an ACL on the VM's chassis); the others are listed as `copies` and not walked. Nobody
// taking it in is no hop at all: the physical network leads outside the chassis this store knows
// (an external router), where a localnet port's traffic usually goes.
import type { Replica } from '../ovsdb/replica/replica';
import { localnetPeersOf, localnetPort, type LocalnetPort } from '../ovn/localnet-ports';
import type { BuiltPath } from './path-builder';
import { linkFlowOf, type LinkFlowRow, type PathStore } from './path-store';
import { sure, type HopTimes } from './provisional';
import type { SegmentFlows } from './segment-flows';
import { localnetReceivers, localnetSenderOf } from './localnet-link';
import { nearer, type LinkFlow } from './tunnel-link';
import type { TraceRow } from '../traces/trace-store';

export interface LocalnetHop {
  fromChassis: string;
  /** The sender's pass (trace) that left by the localnet port. */
  fromTraceId: number;
  /** The localnet port it left by, its physical network (options:network_name) and VLAN tag (null: untagged). */
  port: string;
  network: string | null;
  vlan: number | null;
  /** The chassis and first pass that took the frame in and carried the packet on; null when every receiver sent it nowhere (all are copies). */
  toChassis: string | null;
  toTraceId: number | null;
  /** Other chassis's first passes that took the same frame in (flooded) and did not carry the packet on: listed, not walked. */
  copies?: Array<{ chassis: string; traceId: number }>;
  /** Present (true) when a look had more candidates than it reads (LINK_A_SIDE each side) and the receiver is not nearer than where it stopped: a nearer one may not have been read. */
  lookBounded?: true;
  /** Present (true) while the receiving chassis's agent may not have stored a nearer pass (provisional.ts). */
  provisional?: true;
  settledWithout?: string[];
}

/** A receiving first pass the path was asked for, known to the sender found from it: its chassis's pick. */
export interface AskedLocalnet {
  traceId: number;
  flow: LinkFlow & { row: LinkFlowRow };
  /** The localnet ports it came in by. */
  ports: string[];
}

type Receiver = LinkFlow & { row: LinkFlowRow };

export class LocalnetLinks {
  constructor(
    private readonly store: PathStore,
    private readonly sb: () => Replica,
    private readonly skewMs: number,
  ) {}

  /** The localnet ports of these logical port names (the others are none), each once. */
  private localnets(names: Iterable<string>): LocalnetPort[] {
    return [...new Set(names)].flatMap((n) => localnetPort(this.sb(), n) ?? []);
  }

  /** The localnet ports a pass's own trace names as its inport (its trace's port rows). */
  private async inPorts(traceId: number): Promise<LocalnetPort[]> {
    return this.localnets((await this.store.passPorts(traceId)).filter((p) => p.role === 'inport').map((p) => p.port_name));
  }

  /** The localnet ports a pass output to: its own verdict's logical ports, stored with it (no read). */
  private outPorts(pass: TraceRow): LocalnetPort[] {
    const v = JSON.parse(pass.verdict) as { kinds?: string[]; logicalPorts?: string[] };
    return v.kinds?.includes('output') ? this.localnets(v.logicalPorts ?? []) : [];
  }

  private window(f: LinkFlow) {
    return { from: new Date(f.from - this.skewMs).toISOString(), to: new Date(f.to + this.skewMs).toISOString(), near: new Date(f.from).toISOString() };
  }

  /**
   * The pass on another chassis that sent the frame this path's first pass took in from the physical
   * network, when it is such a pass (a first pass with a localnet inport and no tunnel) and one is found.
   */
  async senderOf(b: BuiltPath, flows: SegmentFlows): Promise<{ sender: number; receiver: AskedLocalnet } | undefined> {
    const root = b.passes[0];
    if (!root || root.datapath_flow_id === null) return undefined;
    await flows.load([root]);
    const row = flows.of(root);
    if (!row || Number(row.recirc_id) !== 0) return undefined;
    const receiver = linkFlowOf(row);
    let best: Receiver | undefined;
    const ins = await this.inPorts(root.id);
    for (const ln of ins) {
      const peers = localnetPeersOf(this.sb(), ln).map((p) => p.port);
      const look = await this.store.localnetPasses('out', peers, row.chassis, this.window(receiver));
      const s = localnetSenderOf(receiver, look.rows.map(linkFlowOf), this.skewMs);
      if (s && s.row.trace_id !== null && nearer(receiver, s, best)) best = s;
    }
    return best ? { sender: best.row.trace_id!, receiver: { traceId: root.id, flow: receiver, ports: ins.map((p) => p.port) } } : undefined;
  }

  /**
   * The hops of a pass that left by localnet ports, each with the receiver's built path (to walk)
   * and the times its marks are judged by. `asked`: the receiver the path was asked for, when this
   * pass is the sender found from it: its chassis's pick, whatever the look read.
   */
  async hopsOf(
    pass: TraceRow,
    row: LinkFlowRow | undefined,
    ofTrace: (traceId: number) => Promise<BuiltPath | undefined>,
    asked?: AskedLocalnet,
  ): Promise<Array<{ hop: LocalnetHop; times: HopTimes; built?: BuiltPath }>> {
    if (!row) return [];
    const outs = this.outPorts(pass);
    if (!outs.length) return [];
    const sender = linkFlowOf(row);
    const out: Array<{ hop: LocalnetHop; times: HopTimes; built?: BuiltPath }> = [];
    // Taken in from the network by one of the ports: OVN sends nothing back by them (inport == outport
    // is dropped); what such a pass output is the provider bridge's own flood to its LOCAL port
    // (verdict bridgeLocal; passes stored before it named it by the localnet port).
    const cameBy = new Set((await this.inPorts(pass.id)).map((p) => p.port));
    for (const ln of outs) {
      const peers = localnetPeersOf(this.sb(), ln).map((p) => p.port);
      if (peers.some((p) => cameBy.has(p))) continue;
      const look = await this.store.localnetPasses('in', peers, row.chassis, this.window(sender));
      let picks = localnetReceivers(sender, look.rows.map(linkFlowOf), this.skewMs).flatMap((r) => (r.row.trace_id === null ? [] : [{ r, traceId: r.row.trace_id }]));
      // Only when the asked pass came in by one of these ports (a pass may leave by several).
      if (asked && peers.some((p) => asked.ports.includes(p))) {
        picks = [...picks.filter((x) => x.r.chassis !== asked.flow.chassis), { r: asked.flow, traceId: asked.traceId }];
        picks.sort((a, b) => (a.r.chassis < b.r.chassis ? -1 : a.r.chassis > b.r.chassis ? 1 : 0));
      }
      if (!picks.length) continue;
      const built = await Promise.all(picks.map((x) => ofTrace(x.traceId)));
      const taken = picks.map((x, i) => ({ ...x, b: built[i] }));
      const on = carriedOn(taken, new Set(peers));
      const copies = taken.filter((x) => !on.includes(x)).map((x) => ({ chassis: x.r.chassis, traceId: x.traceId }));
      const base = { fromChassis: row.chassis, fromTraceId: pass.id, port: ln.port, network: ln.network, vlan: ln.vlan, ...(copies.length ? { copies } : {}) };
      // Unsure as a tunnel's pick is (provisional.ts `sure`): a bounded look whose pick is not nearer than where it stopped.
      const bounded = (pick: LinkFlow | undefined) => (sure(look, sender.from, pick) ? {} : { lookBounded: true as const });
      if (!on.length) out.push({ hop: { ...base, ...bounded(undefined), toChassis: null, toTraceId: null }, times: { near: sender } });
      for (const { r, traceId, b } of on) {
        out.push({ hop: { ...base, ...bounded(r), toChassis: r.chassis, toTraceId: traceId }, times: { near: sender, pick: r }, ...(b ? { built: b } : {}) });
      }
    }
    return out;
  }
}

/**
 * The receivers that carried the packet on: those whose path delivered it to a logical port other
 * than the network's localnet ports; when none did, those a logical flow dropped (a verdict of its
 * own: an ACL where the VM is); else none (every chassis took in a flooded frame and sent it nowhere).
 */
function carriedOn<T extends { b: BuiltPath | undefined }>(taken: readonly T[], localnets: ReadonlySet<string>): T[] {
  const delivered = taken.filter((x) => x.b?.verdict.kinds.includes('output') && x.b.verdict.logicalPorts.some((p) => !localnets.has(p)));
  if (delivered.length) return delivered;
  return taken.filter((x) => x.b?.verdict.kinds.includes('drop') && x.b.verdict.logicalFlow !== null);
}
