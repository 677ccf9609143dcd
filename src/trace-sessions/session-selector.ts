// Which datapath flows a trace session wants. A logical port is selected in both directions:
// flows entering from its interface are its traffic for sure; flows whose destination (MAC or
// address) is the port's may reach it, so they are traced and kept only if the annotated trace
// names the port ("decide"); passes recirculated from a selected flow belong to the same packet.
import type { DumpedFlow } from '../ovs/dump-flows';
import type { CompiledFilter } from '../ovs/of-filter';
import { geneveOptions, keyValue } from '../ovs/odp-key';
import { OVN_GENEVE_CLASS, OVN_GENEVE_TYPE } from '../ovs/odp-tunnel';

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
}

export type Selection = 'store' | 'decide' | null;

/** What a session reads of a live datapath flow (the poller's LiveFlow is one). */
export interface SessionFlow {
  /** The lifetime's row id, once stored. */
  dbId?: number;
  inPort: string | null;
  flow: Pick<DumpedFlow, 'key'>;
}

/**
 * An address as one text whoever wrote it: IPv6 in one form (the WHATWG URL parser's RFC 5952 one),
 * so the northbound's `FD00:0::0001` and a key's `fd00::1` compare equal; IPv4 as given.
 */
function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
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
  opts: { filter?: CompiledFilter; port?: PortTarget; parentSelected: boolean; portNames?: ReadonlyMap<string, string> },
): Selection {
  if (opts.parentSelected) return 'store';
  const key = flow.flow.key;
  if (opts.filter && !opts.filter.matches(key, opts.portNames)) return null;
  if (!opts.port) return 'store';
  const inPort = flow.inPort ?? '';
  if (opts.port.interfaces.has(inPort) || opts.port.dpPorts.has(inPort)) return 'store';
  if (opts.port.keys && tunnelledFrom(key, opts.port.keys)) return 'store';
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
 * Whether a flow is a tunnelled arrival of the port's packets: the sender's chassis put the port's
 * logical switch key in the VNI and the port's key in the ingress half (bits 16..30) of OVN's Geneve
 * option. The receiver's megaflow keeps those bits (its table 0 moves them into reg14); a mask that
 * drops them cannot say whose packet it is, so it does not match.
 */
export function tunnelledFrom(key: SessionFlow['flow']['key'], keys: { datapath: number; port: number }): boolean {
  const tunId = keyValue(key, 'tunnel', 'tun_id');
  if (tunId === undefined || Number(tunId.split('/')[0]) !== keys.datapath) return false;
  for (const o of geneveOptions(key)) {
    const attr = (n: string) => o.attrs.find((a) => a.name === n)?.value;
    if (Number(attr('class')) !== OVN_GENEVE_CLASS || Number(attr('type')) !== OVN_GENEVE_TYPE || !o.data) continue;
    const ingress = 0x7fff0000n;
    const mask = o.dataMask === undefined ? 0xffffffffn : BigInt(o.dataMask);
    if ((mask & ingress) !== ingress) return false;
    return Number((BigInt(o.data) & ingress) >> 16n) === keys.port;
  }
  return false;
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
