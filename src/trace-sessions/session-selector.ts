// Which datapath flows a trace session wants. A logical port is selected in both directions:
// flows entering from its interface are its traffic for sure; flows whose destination (MAC or
// address) is the port's may reach it, so they are traced and kept only if the annotated trace
// names the port ("decide"); passes recirculated from a selected flow belong to the same packet.
import type { DumpedFlow } from '../ovs/dump-flows';
import type { CompiledFilter } from '../ovs/of-filter';
import { canonicalIp } from '../ovs/ids';
import { keyField, keyValue } from '../ovs/odp-key';
import { arrivalKind, tunnelFieldMatch, type TunnelMatch } from '../ovs/odp-tunnel';
import type { OvnModel } from '../ovn/ovn-model';

export interface PortTarget {
  name: string;
  /** OVS interface names bound to the port (iface-id), i.e. datapath port names with `-m`. */
  interfaces: Set<string>;
  /** Datapath port numbers of those interfaces, for keys that name in_port by number. */
  dpPorts: Set<string>;
  macs: Set<string>;
  ips: Set<string>;
  /** Southbound tunnel keys of the port and of its logical switch: how another chassis sees its packets. */
  keys?: { datapath: number; port: number };
  /**
   * Where a packet to it runs its first pipeline: its logical switch and the routers (with the switches
   * beyond them) whose routes send its addresses toward it (port-target.ts), by name as a trace's ports
   * name theirs (ovn/datapaths.ts).
   */
  datapaths?: ReadonlySet<string>;
}

export type Selection = 'store' | 'decide' | null;

/** What a session reads of a live datapath flow (the poller's LiveFlow is one). */
export interface SessionFlow {
  /** The lifetime's row id, once stored. */
  dbId?: number;
  inPort: string | null;
  flow: Pick<DumpedFlow, 'key'>;
}

/** `50:54:00:00:00:01 10.0.0.1 fd00::1` (LSP addresses) → MACs and IPs. */
export function parseAddresses(addresses: readonly string[]): { macs: Set<string>; ips: Set<string> } {
  const macs = new Set<string>();
  const ips = new Set<string>();
  for (const a of addresses) {
    for (const tok of a.split(/\s+/)) {
      if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(tok)) macs.add(tok.toLowerCase());
      else if (/^[0-9.]+$/.test(tok) || tok.includes(':')) ips.add(canonicalIp(tok.replace(/\/\d+$/, '')));
    }
  }
  return { macs, ips };
}

export function selectFlow(
  flow: SessionFlow,
  opts: { filter?: CompiledFilter; port?: PortTarget; parentSelected: boolean; parentDeciding?: boolean; portNames?: ReadonlyMap<string, string>; model: TunnelKeysOf },
): Selection {
  if (opts.parentSelected) return 'store';
  // The recirculation of a pass selected to decide, not traced yet: the same packet, whose fate is
  // decided with its first pass (the tracer keeps it when its parent was kept, or it names the port).
  if (opts.parentDeciding) return 'decide';
  const key = flow.flow.key;
  if (opts.filter && !opts.filter.matches(key, opts.portNames)) return null;
  if (!opts.port) return 'store';
  const inPort = flow.inPort ?? '';
  if (opts.port.interfaces.has(inPort) || opts.port.dpPorts.has(inPort)) return 'store';
  if (opts.port.keys && tunnelledFrom(key, opts.port.keys, opts.model, opts.portNames?.get(inPort) ?? inPort)) return 'store';
  const dstMac = keyValue(key, 'eth', 'dst')?.toLowerCase();
  const dst = keyValue(key, 'ipv4', 'dst') ?? keyValue(key, 'ipv6', 'dst') ?? keyValue(key, 'arp', 'tip');
  const dstIp = dst === undefined ? undefined : canonicalIp(dst);
  if ((dstMac && opts.port.macs.has(dstMac)) || (dstIp && opts.port.ips.has(dstIp))) return 'decide';
  // A neighbour solicitation (or advertisement) about the port's address: sent to a multicast
  // group, it names the address as its target, as a broadcast ARP request names it as its tip.
  const ndTarget = keyValue(key, 'nd', 'target');
  if (ndTarget !== undefined && opts.port.ips.has(canonicalIp(ndTarget))) return 'decide';
  return null;
}

/**
 * Whether a pass traced to decide (selectFlow's 'decide': addressed to the port) is the port's. It is
 * when it names the port. A pass that recirculates has not decided its packet yet (a reply into the
 * port stops at conntrack before the outport is known) and heads its recirculations, which are
 * selected with it: it is kept when it ran where a packet to the port starts (its switch, or one from
 * which the routers on the way route the port's addresses to it: PortTarget.datapaths). Its address alone says nothing: another tenant's
 * switch may hold the same IP, and every conntracked packet to it there (and every pass after it)
 * would be stored.
 */
export function decidedFor(
  pass: { ports: ReadonlyArray<{ logicalPort: string; datapath: string | null }>; verdict: { recircIds: readonly string[] } },
  port: Pick<PortTarget, 'name' | 'datapaths'>,
): boolean {
  if (pass.ports.some((p) => p.logicalPort === port.name)) return true;
  return pass.verdict.recircIds.length > 0 && pass.ports.some((p) => p.datapath !== null && !!port.datapaths?.has(p.datapath));
}

/** OVN's keys in a tunnel push, read through the southbound (OvnModel.tunnelKeys): the one reading of both ends of a hop. */
export type TunnelKeysOf = Pick<OvnModel, 'tunnelKeys'>;

/**
 * Whether a flow is a tunnelled arrival of the port's packets: the push that brought it, read as the
 * model reads every push (the path's hop says the same ingressKey), names the port's logical datapath
 * and the port as the ingress: OVN's Geneve option (bits 16..30), an STT tun_id, and a VXLAN flood to
 * another availability zone (its VNI carries the ingress; a plain VXLAN VNI carries only the egress,
 * so nothing selects by it). The receiver's megaflow keeps the bits its table 0 reads; a mask that
 * drops any the reading takes cannot say whose packet it is, so it does not match.
 */
export function tunnelledFrom(
  key: SessionFlow['flow']['key'],
  keys: { datapath: number; port: number },
  model: TunnelKeysOf,
  inPortName?: string,
): boolean {
  const field = keyField(key, 'tunnel');
  if (field === undefined) return false;
  let m: TunnelMatch | undefined;
  try {
    m = tunnelFieldMatch(field);
  } catch {
    return false; // an option the tunnel parser refuses (class or type wildcarded) names no port
  }
  if (m?.dst === undefined) return false;
  // The push at its other end: from tun_src to this chassis's encap IP, each end's zone read in the model's southbound.
  const push = { kind: arrivalKind(m, inPortName), vni: m.vni, geneve: m.geneve, remoteIp: m.dst, ...(m.src !== undefined ? { localIp: m.src } : {}) };
  const read = model.tunnelKeys(push);
  if (read?.ingress !== keys.port || read.datapath !== keys.datapath) return false;
  // An exact key (no mask, no option data left out as all wildcarded) is read whole: the reading stands.
  if (m.vniMask === undefined && m.geneve.every((o) => o.mask === undefined && o.data !== '')) return true;
  // The same reading with every wildcarded bit set: the same port only when the mask kept all it read
  // (an egress the megaflow wildcards is no matter; a flood's VNI whose port bits it drops is).
  const wild = model.tunnelKeys({ ...push, vni: withWildcardsSet(m.vni, m.vniMask, 64), geneve: m.geneve.map((o) => ({ ...o, data: withWildcardsSet(o.data || '0', o.mask, o.len * 8) })) });
  return wild?.ingress === read.ingress && wild.datapath === read.datapath;
}

/** A value (hex text) with the bits its mask leaves out set, within `width` bits; as given when exact. */
function withWildcardsSet(value: string, mask: string | undefined, width: number): string {
  if (mask === undefined) return value;
  const all = (1n << BigInt(width)) - 1n;
  return `0x${(BigInt(value) | (~BigInt(mask) & all)).toString(16)}`;
}

/** ovs-vswitchd's datapath port of each tunnel type (netdev-vport.c: dpif_port, `_<dst_port>` where it has one) and its default port. */
const TUNNEL_DPIF: Record<string, { prefix: string; port?: number }> = {
  geneve: { prefix: 'genev_sys', port: 6081 },
  vxlan: { prefix: 'vxlan_sys', port: 4789 },
  stt: { prefix: 'stt_sys', port: 7471 },
  gre: { prefix: 'gre_sys' },
  ip6gre: { prefix: 'ip6gre_sys' },
  erspan: { prefix: 'erspan_sys' },
  ip6erspan: { prefix: 'ip6erspan_sys' },
};

/**
 * The datapath port a tunnel interface's packets arrive on (`genev_sys_6081`), shared by every
 * interface of its type and port; undefined for an interface that is its own datapath port.
 */
export function tunnelDatapathPort(type: string, options: Readonly<Record<string, string>> | undefined): string | undefined {
  const t = TUNNEL_DPIF[type];
  if (!t) return undefined;
  return t.port === undefined ? t.prefix : `${t.prefix}_${options?.dst_port ?? t.port}`;
}

/**
 * A `chassis` entry that is no chassis's name (its system-id) but some chassis's hostname, and no
 * agent's name (`agent`: LIVETRACE_CHASSIS may name an agent by its host): no agent would take the
 * session up. The reason, naming the system-id, or undefined. A name the southbound does not know
 * at all is let be (LIVETRACE_CHASSIS may name an agent differently).
 */
export async function chassisByHostname(
  requested: readonly string[],
  chassis: Iterable<Record<string, unknown>>,
  agent: (name: string) => Promise<boolean>,
): Promise<string | undefined> {
  const rows = [...chassis].map((c) => ({ name: String(c.name), hostname: String(c.hostname ?? '') }));
  for (const r of requested) {
    if (rows.some((c) => c.name === r)) continue;
    const host = rows.find((c) => c.hostname === r);
    if (host && !(await agent(r))) return `${JSON.stringify(r)} is the hostname of chassis ${JSON.stringify(host.name)}: give its name (the system-id agents carry sessions out under)`;
  }
  return undefined;
}
