// The ovn-trace question for a live path: the same packet, entering by the same logical port,
// seeing the conntrack states the datapath really saw. Built only from what the path stored:
// the first pass's Flow: line (ofproto/trace, OpenFlow syntax), its logical inport, the ct_state
// of each pass that a ct() recirculation started, and a load balancer's NAT in the actions.
import type { LogicalPortJson, StepJson } from '../traces';

/** What a pass must carry for this module (a TraceJson has it). */
export interface LivePass {
  recircId: string;
  flow: string;
  datapathActions: string;
  logicalPorts: LogicalPortJson[];
  /** Its OpenFlow steps, when read with them: which port the packet entered by. */
  steps?: StepJson[];
}

export interface Microflow {
  datapath: string;
  inport: string;
  /** The OVN expression given to ovn-trace (names quoted and escaped). */
  expression: string;
  /** One `--ct` value per conntrack recirculation, in order (`new,trk`). */
  ctStates: string[];
  /**
   * `--lb-dst`: the load balancer backend the live packet was NATed to, for an established
   * connection (ct_state +dnat, the backend read from the NATed pass). ovn-trace 23.03 applies
   * --lb-dst at the first backend-less `ct_lb_mark;` (ls_in_pre_stateful), i.e. it models an
   * existing connection; for a first packet that would NAT one stage too early, so there it is
   * not passed and ovn-trace's ct_lb_mark(backends=…) picks the backend (see liveNat).
   */
  lbDst: string | null;
  /** The NAT the datapath committed for a new connection: ct(commit,…,nat(dst=…)). */
  liveNat: string | null;
}

/** The live path lacks what a microflow needs (no inport attribution, no Flow: line…). */
export class MicroflowError extends Error {
  override readonly name = 'MicroflowError';
}

/** An OVN string literal: OVN's lexer unescapes strings as JSON does. */
export function ovnString(s: string): string {
  return JSON.stringify(s);
}

/** `icmp,in_port=1,dl_src=…` → protocol words and field=value pairs. */
export function flowFields(flow: string): { words: Set<string>; fields: Map<string, string> } {
  const words = new Set<string>();
  const fields = new Map<string, string>();
  for (const part of flow.split(',')) {
    const t = part.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq < 0) words.add(t);
    else fields.set(t.slice(0, eq), t.slice(eq + 1));
  }
  return { words, fields };
}

const TCP_FLAGS: Record<string, number> = { fin: 0x1, syn: 0x2, rst: 0x4, psh: 0x8, ack: 0x10, urg: 0x20, ece: 0x40, cwr: 0x80, ns: 0x100 };

function tcpFlags(v: string): number {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v);
  let n = 0;
  for (const name of v.split('|')) {
    const bit = TCP_FLAGS[name.replace(/^\+/, '')];
    if (bit === undefined) throw new MicroflowError(`unknown TCP flag ${JSON.stringify(name)} in tcp_flags=${v}`);
    n |= bit;
  }
  return n;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IP4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IP6 = /^[0-9a-f:.]+$/i;
const NUM = /^(0x[0-9a-f]+|\d+)$/i;

/** The OVN microflow expression equivalent to an OpenFlow flow, for the given logical inport. */
export function flowToExpression(flow: string, inport: string): string {
  const { words, fields } = flowFields(flow);
  const parts: string[] = [`inport == ${ovnString(inport)}`];
  const take = (field: string, ovn: string, re: RegExp, always = true) => {
    const v = fields.get(field);
    if (v === undefined) return;
    if (!re.test(v)) throw new MicroflowError(`unexpected value ${JSON.stringify(v)} for ${field} in the flow`);
    if (always || !/^(0x0*|0+)$/i.test(v)) parts.push(`${ovn} == ${v}`);
  };
  take('dl_src', 'eth.src', MAC);
  take('dl_dst', 'eth.dst', MAC);
  take('vlan_tci', 'vlan.tci', NUM, false);
  const v6 = ['ipv6', 'tcp6', 'udp6', 'icmp6', 'sctp6'].some((w) => words.has(w));
  const v4 = ['ip', 'tcp', 'udp', 'icmp', 'sctp', 'igmp'].some((w) => words.has(w));
  if (v4 || v6) {
    parts.push(v4 ? 'ip4' : 'ip6');
    if (v4) {
      take('nw_src', 'ip4.src', IP4);
      take('nw_dst', 'ip4.dst', IP4);
    } else {
      take('ipv6_src', 'ip6.src', IP6);
      take('ipv6_dst', 'ip6.dst', IP6);
      take('ipv6_label', 'ip6.label', NUM, false);
    }
    take('nw_ttl', 'ip.ttl', NUM);
    const tos = fields.get('nw_tos');
    if (tos && NUM.test(tos) && Number(tos) >> 2) parts.push(`ip.dscp == ${Number(tos) >> 2}`);
    take('nw_ecn', 'ip.ecn', NUM, false);
    const l4 = ['tcp', 'udp', 'sctp'].find((p) => words.has(p) || words.has(p + '6'));
    if (l4) {
      parts.push(l4);
      take('tp_src', `${l4}.src`, NUM);
      take('tp_dst', `${l4}.dst`, NUM);
      const f = fields.get('tcp_flags');
      if (l4 === 'tcp' && f !== undefined && tcpFlags(f)) parts.push(`tcp.flags == 0x${tcpFlags(f).toString(16).padStart(3, '0')}`);
    } else if (words.has('icmp') || words.has('icmp6')) {
      const p = words.has('icmp') ? 'icmp4' : 'icmp6';
      parts.push(p);
      take('icmp_type', `${p}.type`, NUM);
      take('icmp_code', `${p}.code`, NUM);
      // OVS prints nd_target, nd_sll and nd_tll for both neighbor messages (the one the message
      // lacks as zero), but OVN's nd.sll needs a solicitation and nd.tll an advertisement:
      // naming both makes ovn-trace refuse the microflow ("Constraints are contradictory").
      const type = fields.get('icmp_type');
      if (p === 'icmp6' && (type === '135' || type === '136')) {
        take('nd_target', 'nd.target', IP6);
        if (type === '135') take('nd_sll', 'nd.sll', MAC);
        else take('nd_tll', 'nd.tll', MAC);
      }
    } else if (fields.has('nw_proto')) take('nw_proto', 'ip.proto', NUM);
  } else if (words.has('arp')) {
    parts.push('arp');
    take('arp_op', 'arp.op', NUM);
    take('arp_spa', 'arp.spa', IP4);
    take('arp_tpa', 'arp.tpa', IP4);
    take('arp_sha', 'arp.sha', MAC);
    take('arp_tha', 'arp.tha', MAC);
  } else if (fields.has('dl_type')) take('dl_type', 'eth.type', NUM);
  return parts.join(' && ');
}

/** `new|trk` (ofproto/trace) → `new,trk` (ovn-trace --ct). */
export function ctFlags(ctState: string): string {
  return ctState
    .split(/[|,]/)
    .map((f) => f.replace(/^\+/, ''))
    .filter(Boolean)
    .join(',');
}

/**
 * Where a pass's packet came from through a tunnel (its remote's address), or null: ofproto/trace's
 * Flow: line prints the tun_* fields only for a packet that arrived through one (flow_format skips
 * a zero tunnel). Such a pass is a receiving chassis's: the packet's ingress pipeline ran on the
 * sender's, so a path that starts with it misses its start (the microflow's inport is the remote
 * port, from the Geneve option).
 */
export function arrivedThrough(flow: string): string | null {
  const f = flowFields(flow).fields;
  const v6 = f.get('tun_ipv6_src');
  return f.get('tun_src') ?? (v6 && v6 !== '::' ? v6 : null) ?? (f.has('tun_id') ? 'a tunnel' : null);
}

/** A pass's datapath actions end in ct(…),recirc(…): the next pass starts with fresh conntrack state. */
export function endsInConntrack(actions: string): boolean {
  return /\bct\((?:[^()]|\([^()]*\))*\),recirc\(0x[0-9a-f]+\)\s*$/i.test(actions);
}

/**
 * The logical port the packet entered the first pass by. A pass that crosses a router names an
 * inport per datapath (lsp1 on sw0, lr0-sw0 on lr0, sw1-lr0 on sw1), and the store gives them in
 * name order, not packet order: the one asked for is the port of the physical-to-logical rule the
 * pass began with (its Port_Binding owner), else the one on the datapath of its first logical flow.
 */
function enteredBy(root: LivePass): LogicalPortJson | undefined {
  const all = root.logicalPorts.filter((p) => p.role === 'inport');
  const inports = all.some((p) => p.scope === 'pass') ? all.filter((p) => p.scope === 'pass') : all;
  if (new Set(inports.map((p) => p.name)).size <= 1) return inports[0];
  const steps = root.steps ?? [];
  const first = steps.find((s) => s.depth === 0);
  const bound = first?.owners.find((o) => o.table === 'Port_Binding' && o.name && inports.some((p) => p.name === o.name));
  if (bound) return inports.find((p) => p.name === bound.name);
  const lflow = steps.flatMap((s) => s.owners).find((o) => o.table === 'Logical_Flow' && o.datapaths?.length === 1);
  const onIt = inports.filter((p) => p.datapath === lflow?.datapaths?.[0].name);
  return onIt.length === 1 ? onIt[0] : inports[0];
}

/** passes: the path's passes in the order the packet went through them (edge order, paths/path-builder.ts). */
export function buildMicroflow(passes: readonly LivePass[]): Microflow {
  if (!passes.length) throw new MicroflowError('the path has no passes');
  const ordered = passes;
  const root = ordered[0];
  const port = enteredBy(root);
  if (!port) throw new MicroflowError(`no logical inport attributed to the first pass (recirc_id ${root.recircId})`);
  if (!port.datapath) throw new MicroflowError(`no logical datapath known for inport ${JSON.stringify(port.name)}`);
  if (!root.flow) throw new MicroflowError('the first pass has no flow');
  const ctStates: string[] = [];
  for (let i = 1; i < ordered.length; i++) {
    if (!endsInConntrack(ordered[i - 1].datapathActions)) continue;
    const st = flowFields(ordered[i].flow).fields.get('ct_state');
    ctStates.push(st ? ctFlags(st) : 'trk');
  }
  let liveNat: string | null = null;
  for (const p of ordered) {
    const m = /\bnat\(dst=([^),]+)/.exec(p.datapathActions);
    if (m) {
      liveNat = m[1];
      break;
    }
  }
  let lbDst: string | null = null;
  if (!liveNat) {
    const natted = ordered.find((p) => /(^|\|)dnat(\||$)/.test(flowFields(p.flow).fields.get('ct_state') ?? ''));
    if (natted) {
      const f = flowFields(natted.flow).fields;
      const ip = f.get('nw_dst') ?? (f.get('ipv6_dst') ? `[${f.get('ipv6_dst')}]` : undefined);
      if (ip) lbDst = f.get('tp_dst') && f.get('tp_dst') !== '0' ? `${ip}:${f.get('tp_dst')}` : ip;
    }
  }
  return { datapath: port.datapath, inport: port.name, expression: flowToExpression(root.flow, port.name), ctStates, lbDst, liveNat };
}
