import { parseGeneveOptions } from './odp-geneve';
import { tunnelIdHex } from './ids';
import { findClose, splitTopLevel } from './odp-scan';
import { OvsParseError } from './parse-error';
import type { OdpKeyField } from './odp-types';

/**
 * The tunnel parts of datapath flows, for linking a pass that leaves one chassis through a tunnel to
 * the pass that receives it on another (issue 19, docs/multi-chassis.md).
 *
 * Sending side, in the flow's actions:
 *  - userspace datapath: `tnl_push(tnl_port(P),header(size=58,type=5,eth(…),ipv4(src=…,dst=…,…),
 *    udp(…),geneve(crit,vni=0x1,options({class=0x102,type=0x80,len=4,0x10002}))),out_port(br-phys))`
 *  - kernel datapath: `set(tunnel(tun_id=0x1,dst=…,ttl=64,tp_dst=6081,geneve({…}),flags(df|csum|key))),P`
 * Receiving side, in the flow's key: `tunnel(tun_id=0x1,src=…,dst=…,[ttl=64/0,tp_src=…/0,tp_dst=…/0,]
 * geneve({class=0x102,type=0x80,len=4,0x10002/0x7fffffff}),flags(-df+csum+key))` (the masks only with -m
 * or where the megaflow wildcards them).
 *
 * OVN's Geneve option (class 0x102, type 0x80, 4 bytes) carries the logical ingress port key in bits 16..30
 * and the egress port key in bits 0..15; the VNI is the logical datapath's tunnel key. With VXLAN the VNI
 * holds both the datapath and the egress port key, and with STT the tun_id all three: ovnTunnelKeys reads them.
 */

export const OVN_GENEVE_CLASS = 0x102;
export const OVN_GENEVE_TYPE = 0x80;

export interface GeneveOption {
  optClass: number;
  type: number;
  /** Data length in bytes. */
  len: number;
  /** The data as printed (`0x10002`), empty when the option has none. */
  data: string;
  /** The data's mask as printed, when the key carries one (`0x7fffffff`). */
  mask?: string;
}

/** Logical port keys from OVN's Geneve option. */
export interface OvnPortKeys {
  ingress: number;
  egress: number;
}

export interface TunnelPush {
  /** `tnl_push` (userspace datapath encapsulates itself) or `set_tunnel` (kernel: the port encapsulates). */
  form: 'tnl_push' | 'set_tunnel';
  kind: 'geneve' | 'vxlan' | 'stt' | 'gre' | 'other';
  /**
   * Tunnel id as sent (Geneve VNI = OVN's logical datapath tunnel key; VXLAN's and STT's also carry port
   * keys: ovnTunnelKeys) as hex text in one spelling (ids.ts tunnelIdHex): past 2^53 a number is not exact.
   */
  vni: string;
  /** The remote chassis's encap IP. */
  remoteIp: string;
  /** Our encap IP (tnl_push header; absent in the kernel form, chosen by the route). */
  localIp?: string;
  geneve: GeneveOption[];
  /** OVN's logical ingress/egress port keys from its Geneve option, when there (ovnTunnelKeys reads every kind). */
  ovn?: OvnPortKeys;
  /** The tunnel port (`genev_sys_6081` with -m, its number without). */
  tunnelPort: string;
  /** Userspace: the bridge the outer packet is sent from (`out_port(br-phys)`). */
  outPort?: string;
  /** The text of the action, as dumped. */
  text: string;
}

export interface TunnelMatch {
  /** tun_id as hex text (ids.ts tunnelIdHex), as TunnelPush.vni. */
  vni: string;
  /** The mask of tun_id when the key has one (absent = exact), hex text too. */
  vniMask?: string;
  /** Sender's encap IP. */
  src?: string;
  /** Our encap IP. */
  dst?: string;
  geneve: GeneveOption[];
  ovn?: OvnPortKeys;
  flags?: string;
  /** The outer UDP/TCP destination port (the receiver's tunnel port's dst_port), mask dropped; GRE has none. */
  tpDst?: string;
  /** The flow's in_port, when the text given holds it (the tunnel port on the receiver). */
  inPort?: string;
}

const WHAT_PUSH = 'tunnel push action';
const WHAT_MATCH = 'tunnel key';

/**
 * The type of a datapath port as dpif/show lists it (`vxlan`, `geneve`, `stt`), by the name or number an
 * action gives it; undefined when not known.
 */
export type PortTypeOf = (port: string) => string | undefined;

/**
 * Every tunnel push in a datapath action list, nested ones (clone, sample, check_pkt_len) included.
 * `portType`: the datapath's own ports, for a kernel push whose port and tp_dst alone do not name the
 * encapsulation (a tunnel on a non-default dst_port, printed by number).
 */
export function tunnelPushes(actions: string, portType?: PortTypeOf): TunnelPush[] {
  const out: TunnelPush[] = [];
  walk(actions, out, 0, portType);
  return out;
}

function walk(list: string, out: TunnelPush[], depth: number, portType: PortTypeOf | undefined): void {
  if (depth > 16) throw new OvsParseError(WHAT_PUSH, list, 0, 'actions nested too deep');
  const items = splitTopLevel(list).map((s) => s.trim());
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const open = item.indexOf('(');
    if (open < 0) continue;
    // Validates the nesting (throws on an unbalanced item) before reading it.
    const close = findClose(WHAT_PUSH, item, open, item.length);
    const name = item.slice(0, open);
    const inner = item.slice(open + 1, close);
    if (name === 'tnl_push') out.push(parseTnlPush(item, inner));
    else if (name === 'set' && inner.startsWith('tunnel(') && inner.endsWith(')')) {
      // The kernel form outputs to the tunnel port afterwards; other set()s may come in between.
      const port = items.slice(i + 1).find((a) => !a.includes('('));
      if (port === undefined) throw new OvsParseError(WHAT_PUSH, item, 0, 'set(tunnel(…)) with no output after it');
      out.push(parseSetTunnel(item, inner.slice('tunnel('.length, -1), port, portType));
    } else if (inner.includes('(')) walk(inner, out, depth + 1, portType);
  }
}

function parseTnlPush(text: string, inner: string): TunnelPush {
  const parts = fields(WHAT_PUSH, text, inner);
  const tunnelPort = parts.get('tnl_port');
  const header = parts.get('header');
  if (tunnelPort === undefined || header === undefined) throw new OvsParseError(WHAT_PUSH, text, 0, 'tnl_push without tnl_port or header');
  const h = fields(WHAT_PUSH, text, header);
  const ip = h.has('ipv4') ? fields(WHAT_PUSH, text, h.get('ipv4')!) : h.has('ipv6') ? fields(WHAT_PUSH, text, h.get('ipv6')!) : undefined;
  const remoteIp = ip?.get('dst');
  if (remoteIp === undefined) throw new OvsParseError(WHAT_PUSH, text, 0, 'tnl_push header without an outer IP destination');
  let kind: TunnelPush['kind'] = 'other';
  let vni = '0x0';
  let geneve: GeneveOption[] = [];
  if (h.has('geneve')) {
    kind = 'geneve';
    const g = fields(WHAT_PUSH, text, h.get('geneve')!);
    vni = tunnelId(WHAT_PUSH, text, g.get('vni'), 'geneve vni');
    const opts = g.get('options');
    if (opts !== undefined) geneve = geneveOptions(WHAT_PUSH, text, opts);
  } else if (h.has('vxlan')) {
    kind = 'vxlan';
    vni = tunnelId(WHAT_PUSH, text, fields(WHAT_PUSH, text, h.get('vxlan')!).get('vni'), 'vxlan vni');
  } else if (h.has('gre')) {
    kind = 'gre';
    const key = fields(WHAT_PUSH, text, h.get('gre')!).get('key');
    vni = key === undefined ? '0x0' : tunnelId(WHAT_PUSH, text, key, 'gre key');
  }
  return {
    form: 'tnl_push', kind, vni, remoteIp, localIp: ip?.get('src'), geneve, ovn: ovnKeys(geneve),
    tunnelPort, outPort: parts.get('out_port'), text,
  };
}

function parseSetTunnel(text: string, inner: string, port: string, portType: PortTypeOf | undefined): TunnelPush {
  const t = fields(WHAT_PUSH, text, inner);
  const remoteIp = t.get('dst') ?? t.get('ipv6_dst');
  if (remoteIp === undefined) throw new OvsParseError(WHAT_PUSH, text, 0, 'set(tunnel(…)) without dst');
  const geneve = t.has('geneve') ? geneveOptions(WHAT_PUSH, text, t.get('geneve')!) : [];
  const vni = tunnelId(WHAT_PUSH, text, t.get('tun_id') ?? '0', 'tun_id');
  return {
    form: 'set_tunnel', kind: setTunnelKind(t, port, vni, portType?.(port)),
    vni, remoteIp, localIp: t.get('src') ?? t.get('ipv6_src'),
    geneve, ovn: ovnKeys(geneve), tunnelPort: port, text,
  };
}

const VXLAN_VNI_LIMIT = 1n << 24n;

/**
 * The kind of a kernel push. Its `set(tunnel(…))` names a Geneve tunnel by its options but a VXLAN or STT
 * one only by the UDP/TCP destination port (`tp_dst=4789`, `flags(df|csum|key)`, no `vxlan(` field
 * unless VXLAN-GBP) and, with -m, by the tunnel port's name (`vxlan_sys_4789`, a non-default dst_port too).
 * Without -m (and always in ofproto/trace) the port is a number and a non-default dst_port
 * (`tp_dst=4790`) is no default either: the datapath's port type decides when the caller knows it (dpif/show)
 * and the push has no field of its own (a `geneve(…)` or `vxlan(…)` field decides first).
 * Else OVN's own encodings do: ovs-vswitchd puts the port's dst_port in every UDP/TCP tunnel's tp_dst
 * (ofproto/tunnel.c tnl_port_send; GRE has none), OVN's Geneve always carries its option (put_encapsulation),
 * a VXLAN VNI has 24 bits and an STT tun_id holds the ingress key at bit 40.
 */
function setTunnelKind(t: Map<string, string>, port: string, vni: string, portType: string | undefined): TunnelPush['kind'] {
  // The push's own encapsulation field is the packet's: a dpif/show of another moment cannot overrule it.
  const byField = t.has('geneve') ? 'geneve' : t.has('vxlan') ? 'vxlan' : undefined;
  if (byField !== undefined) return byField;
  if (portType === 'geneve' || portType === 'vxlan' || portType === 'stt') return portType;
  const dst = t.get('tp_dst');
  const named = kindNamed(port, dst);
  if (named !== undefined) return named;
  if (dst !== undefined && /^\d+$/.test(port)) return BigInt(vni) < VXLAN_VNI_LIMIT ? 'vxlan' : 'stt';
  return 'other';
}

/**
 * The encapsulation its datapath port's name (ovs-vswitchd's `genev_sys_6081`, `vxlan_sys_4790`) or its
 * default UDP/TCP port names; else undefined. Callers ask the tunnel's own fields first.
 */
function kindNamed(port: string | undefined, tpDst: string | undefined): TunnelPush['kind'] | undefined {
  if (tpDst === '6081' || port?.startsWith('genev_sys')) return 'geneve';
  if (tpDst === '4789' || port?.startsWith('vxlan_sys')) return 'vxlan';
  if (tpDst === '7471' || port?.startsWith('stt_sys')) return 'stt';
  return undefined;
}

/**
 * The encapsulation of a receiver's tunnel match, as setTunnelKind names a push's: its Geneve options, the
 * datapath port it came in by (`inPort`: the key's in_port, by name; a number means nothing here) or its
 * tp_dst. 'other' when none tells (a megaflow without -m on a non-default dst_port).
 */
export function arrivalKind(match: TunnelMatch, inPort: string | undefined = match.inPort): TunnelPush['kind'] {
  return match.geneve.length > 0 ? 'geneve' : (kindNamed(inPort, match.tpDst) ?? 'other');
}

/** The logical keys OVN put in a tunnel (ovn-controller physical.c put_encapsulation). */
export interface OvnTunnelKeys {
  /** The logical datapath's tunnel_key. */
  datapath: number;
  /** The logical ingress port's key; null where the encapsulation does not carry it (VXLAN). */
  ingress: number | null;
  /**
   * The logical egress port's key, a Multicast_Group's (≥ 32768) for a flood; null where none is carried
   * (a VXLAN ramp switch / VTEP port: the VNI is the datapath key alone).
   */
  egress: number | null;
}

// VXLAN's 24-bit VNI: datapath key in bits 0..11, egress port key in bits 12..23, a multicast group's
// (OVN_MIN_MULTICAST 32768 and up) sent as 2048 | key & 2047 (get_vxlan_port_key).
export const OVN_MIN_MULTICAST = 32768;
const OVN_VXLAN_MIN_MULTICAST = 2048;

/**
 * OVN's logical keys from a push, by its kind: Geneve VNI = datapath, option = ingress << 16 | egress;
 * VXLAN VNI = datapath | egress << 12; STT tun_id = datapath | egress << 24 | ingress << 40. Null for a
 * tunnel OVN does not encode (GRE, an unknown kind).
 */
export function ovnTunnelKeys(push: Pick<TunnelPush, 'kind' | 'vni' | 'geneve'>): OvnTunnelKeys | null {
  const id = BigInt(push.vni);
  const bits = (from: number, width: number) => Number((id >> BigInt(from)) & ((1n << BigInt(width)) - 1n));
  const orNull = (k: number) => (k === 0 ? null : k);
  if (push.kind === 'geneve') {
    const ports = ovnKeys(push.geneve);
    return { datapath: bits(0, 24), ingress: ports?.ingress ?? null, egress: ports?.egress ?? null };
  }
  if (push.kind === 'vxlan') {
    const p = bits(12, 12);
    const egress = p >= OVN_VXLAN_MIN_MULTICAST ? OVN_MIN_MULTICAST | (p & (OVN_VXLAN_MIN_MULTICAST - 1)) : p;
    return { datapath: bits(0, 12), ingress: null, egress: orNull(egress) };
  }
  if (push.kind === 'stt') return { datapath: bits(0, 24), ingress: orNull(bits(40, 15)), egress: orNull(bits(24, 16)) };
  return null;
}

/**
 * The tunnel a flow key matches, or undefined when it has none (a flow from a VM's port). Takes the key
 * or the whole `dpctl/dump-flows` line.
 */
export function tunnelMatch(keyOrLine: string): TunnelMatch | undefined {
  const items = splitTopLevel(keyOrLine).map((s) => s.trim());
  const item = items.find((s) => s.startsWith('tunnel('));
  if (item === undefined) return undefined;
  const close = findClose(WHAT_MATCH, item, 'tunnel'.length, item.length);
  if (close !== item.length - 1) throw new OvsParseError(WHAT_MATCH, item, close + 1, 'text after tunnel(…)');
  const inPort = items.find((s) => s.startsWith('in_port('));
  return readTunnel(fields(WHAT_MATCH, item, item.slice('tunnel('.length, close)), item, inPort?.slice('in_port('.length, -1));
}

/**
 * tunnelMatch of a key parsed already (odp-key.ts, as the poller holds it): its `tunnel(…)` field's
 * attributes read as tunnelMatch reads their text, not printed and split again. Undefined for another
 * field; no inPort (the caller has the key's). Errors quote the attribute at fault.
 */
export function tunnelFieldMatch(field: OdpKeyField): TunnelMatch | undefined {
  if (field.kind !== 'attrs' || field.name !== 'tunnel') return undefined;
  const t = new Map<string, string>();
  for (const a of field.attrs) t.set(a.name, a.mask === undefined ? a.value : `${a.value}/${a.mask}`);
  return readTunnel(t, undefined, undefined);
}

/** A tunnel's fields (`name` → `value[/mask]`, a parenthesised one's inside) as TunnelMatch; `item` the text, for errors. */
function readTunnel(t: ReadonlyMap<string, string>, item: string | undefined, inPort: string | undefined): TunnelMatch {
  const tunId = t.get('tun_id');
  if (tunId === undefined) throw new OvsParseError(WHAT_MATCH, item ?? 'tunnel(…)', 0, 'tunnel(…) without tun_id');
  const [v, m] = tunId.split('/');
  const list = t.get('geneve');
  const geneve = list !== undefined ? geneveOptions(WHAT_MATCH, item ?? list, list) : [];
  return {
    vni: tunnelId(WHAT_MATCH, item ?? tunId, v, 'tun_id'),
    vniMask: m === undefined ? undefined : tunnelId(WHAT_MATCH, item ?? tunId, m, 'tun_id mask'),
    src: unmasked(t.get('src') ?? t.get('ipv6_src')),
    dst: unmasked(t.get('dst') ?? t.get('ipv6_dst')),
    geneve, ovn: ovnKeys(geneve), flags: t.get('flags'), tpDst: unmasked(t.get('tp_dst')),
    inPort,
  };
}

/**
 * Whether a receiver's tunnel match can be the arrival of this push: same VNI, the push's remote IP is the
 * receiver's dst (and its local IP the receiver's src when both are known), the OVN option equal under the
 * receiver's mask. Only the tunnel: the caller still compares the inner packet and the time window.
 */
export function pushReaches(push: TunnelPush, match: TunnelMatch): boolean {
  const vniMask = match.vniMask === undefined ? -1n : BigInt(match.vniMask);
  if (((BigInt(push.vni) ^ BigInt(match.vni)) & vniMask) !== 0n) return false;
  if (match.dst !== undefined && match.dst !== push.remoteIp) return false;
  if (match.src !== undefined && push.localIp !== undefined && match.src !== push.localIp) return false;
  for (const want of match.geneve) {
    const mask = want.mask === undefined ? undefined : BigInt(want.mask);
    const have = push.geneve.find((o) => o.optClass === want.optClass && o.type === want.type);
    if (have === undefined) return false;
    const a = BigInt(have.data || '0');
    const b = BigInt(want.data || '0');
    if (mask === undefined ? a !== b : ((a ^ b) & mask) !== 0n) return false;
  }
  return true;
}

/** OVN's logical port keys from its Geneve option (class 0x102, type 0x80). */
export function ovnKeys(options: GeneveOption[]): OvnPortKeys | undefined {
  const o = options.find((x) => x.optClass === OVN_GENEVE_CLASS && x.type === OVN_GENEVE_TYPE && x.data !== '');
  if (o === undefined) return undefined;
  const v = Number(BigInt(o.data) & 0xffffffffn);
  return { ingress: (v >>> 16) & 0x7fff, egress: v & 0xffff };
}

/**
 * The options of a Geneve list (odp-geneve.ts parses it, for the key views too), each with the class,
 * type and len this module compares: an option that leaves one out (a megaflow that wildcards it)
 * is refused here.
 */
function geneveOptions(what: string, text: string, list: string): GeneveOption[] {
  const offset = Math.max(0, text.indexOf(list));
  return parseGeneveOptions(list, { what, input: text, offset }).map((o) => {
    const field = (name: string) => o.attrs.find((a) => a.name === name)?.value;
    const [optClass, type, len] = [field('class'), field('type'), field('len')];
    if (optClass === undefined || type === undefined || len === undefined) {
      throw new OvsParseError(what, text, offset, `Geneve option without class, type or len: '${list}'`);
    }
    // The parser checked each is a number within its field's width.
    return { optClass: Number(optClass), type: Number(type), len: Number(len), data: o.data ?? '', mask: o.dataMask };
  });
}

/** `a=1,b(…),c` → {a: '1', b: '…', c: ''}: the top-level fields of a parenthesised list. */
function fields(what: string, text: string, inner: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of splitTopLevel(inner)) {
    const item = raw.trim();
    const eq = item.indexOf('=');
    const open = item.indexOf('(');
    if (open >= 0 && (eq < 0 || open < eq)) {
      if (!item.endsWith(')')) throw new OvsParseError(what, text, Math.max(0, text.indexOf(item)), `'${item}' does not end with ')'`);
      out.set(item.slice(0, open), item.slice(open + 1, -1));
    } else if (eq >= 0) out.set(item.slice(0, eq), item.slice(eq + 1));
    else out.set(item, '');
  }
  return out;
}

/** A tunnel id (64 bits at most) as ids.ts spells it, or a parse error naming it. */
function tunnelId(what: string, text: string, s: string | undefined, name: string): string {
  if (s === undefined || s === '') throw new OvsParseError(what, text, 0, `missing ${name}`);
  const hex = tunnelIdHex(s);
  if (hex === null) throw new OvsParseError(what, text, Math.max(0, text.indexOf(s)), `${name} '${s}' is not a number of 64 bits at most`);
  return hex;
}

function unmasked(s: string | undefined): string | undefined {
  return s?.split('/')[0];
}
