// A trace session's filter, in OpenFlow match syntax (what ovs-ofctl and the upstream
// upcall/trace proposal take): `ip,nw_src=10.0.0.1`, `tcp,tp_dst=22`, `nw_dst=10.0.0.0/24`,
// `in_port=vif1`. Parsed once into predicates over a datapath flow's ODP key. The key of a
// userspace-datapath dump keeps the packet's own values even where the mask is 0, so matching the
// values is matching the packet that created the flow; the kernel's key is masked, and is matched
// by the packets it carries (meets).
import type { OdpKey } from './odp-key';
import { keyField, keyValue } from './odp-key';
import { protoWildcarded } from './key-match';

export class FilterError extends Error {
  constructor(
    readonly term: string,
    reason: string,
  ) {
    super(`filter term "${term}": ${reason}`);
  }
}

type Pred = (k: OdpKey) => boolean;

const ETH = { ip: '0x0800', ipv6: '0x86dd', arp: '0x0806' };
const PROTO: Record<string, { eth: string; proto?: number; l4?: string }> = {
  eth: { eth: '' },
  ip: { eth: ETH.ip },
  ipv6: { eth: ETH.ipv6 },
  arp: { eth: ETH.arp },
  rarp: { eth: '0x8035' },
  icmp: { eth: ETH.ip, proto: 1, l4: 'icmp' },
  tcp: { eth: ETH.ip, proto: 6, l4: 'tcp' },
  udp: { eth: ETH.ip, proto: 17, l4: 'udp' },
  sctp: { eth: ETH.ip, proto: 132, l4: 'sctp' },
  icmp6: { eth: ETH.ipv6, proto: 58, l4: 'icmpv6' },
  tcp6: { eth: ETH.ipv6, proto: 6, l4: 'tcp' },
  udp6: { eth: ETH.ipv6, proto: 17, l4: 'udp' },
  sctp6: { eth: ETH.ipv6, proto: 132, l4: 'sctp' },
};

function ipv4ToInt(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function ipv6ToBig(s: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || (s.match(/::/g) ?? []).length > 1) return null;
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

// `value/mask`: one slash at most. A second part was ignored (`tp_dst=22/0xff/0` matched as 22/0xff).
function splitMask(term: string, v: string): [string, string | undefined] {
  const parts = v.split('/');
  if (parts.length > 2) throw new FilterError(term, `"${v}" has more than one "/"`);
  return [parts[0], parts[1]];
}

/** A key field as printed: its value and, where the dump printed one, its mask. */
interface Seen {
  value: string;
  mask?: string;
}

/**
 * The filter's value and mask against a key field's. A key whose value has no bit outside its mask
 * is in the kernel's masked form (the kernel datapath returns keys masked; a wildcarded field reads
 * 0/0): the flow carries every packet equal to it under that mask, so it is selected when those
 * packets and the filter's meet. A userspace key keeps the packet's own bits outside the mask: the
 * packet that made the flow is matched, as the header says.
 */
function meets(parse: (s: string) => bigint | null, want: bigint, mask: bigint): (x: Seen | undefined) => boolean {
  return (x) => {
    const got = x === undefined ? null : parse(x.value);
    if (got === null) return false;
    const km = x!.mask === undefined ? null : parse(x!.mask);
    const m = km !== null && (got & ~km) === 0n ? mask & km : mask;
    return (got & m) === (want & m);
  };
}

const ipv4Big = (s: string): bigint | null => {
  const n = ipv4ToInt(s);
  return n === null ? null : BigInt(n);
};

function cidr4(term: string, v: string): (x: Seen | undefined) => boolean {
  const [addr, len] = splitMask(term, v);
  const a = ipv4ToInt(addr);
  let mask = 0xffffffff;
  if (len !== undefined) {
    if (/^\d+$/.test(len) && Number(len) <= 32) mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
    else if (ipv4ToInt(len) !== null) mask = ipv4ToInt(len)!;
    else throw new FilterError(term, `bad prefix length or mask "${len}"`);
  }
  if (a === null) throw new FilterError(term, `"${addr}" is not an IPv4 address`);
  return meets(ipv4Big, BigInt(a), BigInt(mask));
}

function cidr6(term: string, v: string): (x: Seen | undefined) => boolean {
  const [addr, len] = splitMask(term, v);
  const a = ipv6ToBig(addr);
  if (a === null) throw new FilterError(term, `"${addr}" is not an IPv6 address`);
  const bits = len === undefined ? 128 : Number(len);
  if (!(bits >= 0 && bits <= 128) || (len !== undefined && !/^\d+$/.test(len))) throw new FilterError(term, `bad prefix length "${len}"`);
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
  return meets(ipv6ToBig, a, mask);
}

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;
const macBig = (s: string): bigint | null => (MAC.test(s.toLowerCase()) ? BigInt(`0x${s.toLowerCase().replace(/:/g, '')}`) : null);

function mac(term: string, v: string): (x: Seen | undefined) => boolean {
  const [addr, m] = splitMask(term, v.toLowerCase());
  if (!MAC.test(addr) || (m !== undefined && !MAC.test(m))) throw new FilterError(term, `"${v}" is not a MAC address[/mask]`);
  return meets(macBig, macBig(addr)!, m ? macBig(m)! : 0xffffffffffffn);
}

function num(term: string, v: string, max: number): (x: Seen | undefined) => boolean {
  const [val, m] = splitMask(term, v);
  const parse = (s: string) => (/^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : /^\d+$/.test(s) ? Number(s) : NaN);
  const want = parse(val);
  const mask = m === undefined ? max : parse(m);
  if (!Number.isFinite(want) || want > max || !Number.isFinite(mask)) throw new FilterError(term, `"${v}" is not a number[/mask] up to ${max}`);
  // A mask wider than the field is refused like a value: `&` worked on 32 bits, so 0x100000000 (or
  // any mask of 2^32 and up) became 0 there, and `tp_dst=22/0x100000000` matched every port.
  if (mask > max) throw new FilterError(term, `mask "${m}" is wider than the field: up to ${max}`);
  const big = (s: string): bigint | null => {
    const n = parse(s);
    return Number.isFinite(n) ? BigInt(n) : null;
  };
  return meets(big, BigInt(want), BigInt(mask));
}

/** A key field with its mask (keyValue gives the value alone). */
function fieldOf(k: OdpKey, name: string, attr?: string): Seen | undefined {
  const f = keyField(k, name);
  if (!f) return undefined;
  if (attr === undefined) return f.kind === 'scalar' ? { value: f.value, mask: f.mask } : undefined;
  if (f.kind !== 'attrs') return undefined;
  const a = f.attrs.find((x) => x.name === attr);
  return a && { value: a.value, mask: a.mask };
}

const ALIAS: Record<string, string> = {
  eth_src: 'dl_src', eth_dst: 'dl_dst', eth_type: 'dl_type', ip_src: 'nw_src', ip_dst: 'nw_dst', ip_proto: 'nw_proto',
  tcp_src: 'tp_src', udp_src: 'tp_src', tcp_dst: 'tp_dst', udp_dst: 'tp_dst',
};

/**
 * The packet's own ethertype: OpenFlow's dl_type, after any VLAN headers. A tagged packet's key
 * prints the outer 0x8100 (or 0x88a8) and the rest inside `encap(…)`; OVN's tables and ovs-ofctl
 * match the inner type, so `ip`, `tcp`… must see tagged packets (a localnet with a VLAN tag).
 */
function ethType(fields: OdpKey['fields']): string | undefined {
  const t = fields.find((f) => f.name === 'eth_type');
  const v = t?.kind === 'scalar' ? t.value : undefined;
  if (v !== undefined && /^0x(8100|88a8)$/i.test(v)) {
    const encap = fields.find((f) => f.kind === 'encap');
    if (encap?.kind === 'encap') return ethType(encap.fields);
  }
  return v;
}

const l4Field = (k: OdpKey): string | undefined => ['tcp', 'udp', 'sctp'].find((n) => keyField(k, n));

/**
 * A kernel key that wildcards nw_proto (protoWildcarded) carries every protocol, port and ICMP type,
 * except later fragments, which have none. A userspace key always prints its packet's own protocol.
 */
const anyL4 = (k: OdpKey): boolean => protoWildcarded(k) && (keyValue(k, 'ipv4', 'frag') ?? keyValue(k, 'ipv6', 'frag')) !== 'later';

const IP_ETH = [0x0800, 0x86dd];
/**
 * The ethertypes and IP protocols a field's predicate can match at all: nw_src reads IPv4 (or ARP)
 * addresses only, tp_dst TCP/UDP/SCTP ports only. ovs-ofctl takes `icmp,tp_dst=3` as icmp_code and
 * drops `ipv6,nw_src=…`'s nw_src; these predicates would match nothing there instead.
 */
const NEEDS: Record<string, { eth?: number[]; proto?: number[]; hint?: string }> = {
  nw_src: { eth: [0x0800, 0x0806, 0x8035] },
  nw_dst: { eth: [0x0800, 0x0806, 0x8035] },
  ipv6_src: { eth: [0x86dd] },
  ipv6_dst: { eth: [0x86dd] },
  nw_proto: { eth: IP_ETH },
  tp_src: { eth: IP_ETH, proto: [6, 17, 132], hint: 'of ICMP, give icmp_type' },
  tp_dst: { eth: IP_ETH, proto: [6, 17, 132], hint: 'of ICMP, give icmp_code' },
  icmp_type: { eth: IP_ETH, proto: [1, 58] },
  icmp_code: { eth: IP_ETH, proto: [1, 58] },
};

/**
 * Terms that no packet satisfies together (`ipv6,nw_src=10.0.0.1`, `icmp,tp_dst=22`,
 * `tcp,nw_proto=17`, `ip,dl_type=0x86dd`): refused naming both, not a session that never fires.
 */
class Prerequisites {
  private readonly allowed: Record<'eth' | 'proto', { values: number[]; by: string } | undefined> = { eth: undefined, proto: undefined };

  narrow(kind: 'eth' | 'proto', values: number[] | undefined, term: string, hint?: string): void {
    if (!values) return;
    const prev = this.allowed[kind];
    const left = prev ? prev.values.filter((v) => values.includes(v)) : values;
    if (!left.length) {
      const what = kind === 'eth' ? 'ethertype' : 'IP protocol';
      const list = (vs: number[]) => vs.map((v) => (kind === 'eth' ? `0x${v.toString(16).padStart(4, '0')}` : String(v))).join(' or ');
      throw new FilterError(term, `never matches with "${prev!.by}": it needs ${what} ${list(values)}, "${prev!.by}" ${list(prev!.values)}${hint ? ` (${hint})` : ''}`);
    }
    this.allowed[kind] = { values: left, by: prev && left.length === prev.values.length ? prev.by : term };
  }
}

export interface CompiledFilter {
  text: string;
  /** The in_port the filter names, if any (lets the poller narrow its dump). */
  inPort?: string;
  matches(key: OdpKey, portNames?: ReadonlyMap<string, string>): boolean;
}

/**
 * Compiles an OpenFlow match. Throws FilterError naming the term on anything unknown or malformed.
 * portNames maps datapath port numbers to names, for keys that name in_port by number.
 */
export function compileFilter(text: string): CompiledFilter {
  if (text.length > 1024) throw new FilterError(text.slice(0, 32) + '…', 'longer than 1024 characters');
  const preds: Pred[] = [];
  let inPortPred: Pred | undefined;
  let inPortName: string | undefined;
  const terms = text.split(',').map((t) => t.trim()).filter(Boolean);
  if (!terms.length) throw new FilterError(text, 'empty filter');
  // A field given twice (`tp_dst=22,tp_dst=80`, or under two aliases) or two protocol keywords
  // can match nothing or only one of them: an error, not a session that silently never fires.
  const seen = new Map<string, string>();
  const prereq = new Prerequisites();
  const once = (canon: string, term: string) => {
    const prev = seen.get(canon);
    if (prev !== undefined) throw new FilterError(term, `${canon === 'protocol' ? 'a second protocol keyword' : 'the same field again'} (already "${prev}")`);
    seen.set(canon, term);
  };
  for (const term of terms) {
    const eq = term.indexOf('=');
    if (eq < 0) {
      const p = PROTO[term];
      if (!p) throw new FilterError(term, `unknown protocol keyword (known: ${Object.keys(PROTO).join(', ')})`);
      once('protocol', term);
      prereq.narrow('eth', p.eth ? [Number(p.eth)] : undefined, term);
      prereq.narrow('proto', p.proto === undefined ? undefined : [p.proto], term);
      if (p.eth) preds.push((k) => ethType(k.fields) === p.eth);
      if (p.proto !== undefined) {
        const fam = p.eth === ETH.ip ? 'ipv4' : 'ipv6';
        const n = num(term, String(p.proto), 255);
        preds.push((k) => n(fieldOf(k, fam, 'proto')));
      }
      continue;
    }
    const name = term.slice(0, eq).trim();
    const v = term.slice(eq + 1).trim();
    if (!v) throw new FilterError(term, 'missing value');
    const canon = ALIAS[name] ?? name;
    once(canon, term);
    const needs = NEEDS[canon];
    prereq.narrow('eth', needs?.eth, term);
    prereq.narrow('proto', needs?.proto, term, needs?.hint);
    let p: Pred;
    switch (name) {
      case 'in_port':
        inPortName = v;
        p = (k) => keyValue(k, 'in_port') === v;
        inPortPred = p;
        break;
      case 'dl_src':
      case 'eth_src': {
        const m = mac(term, v);
        p = (k) => m(fieldOf(k, 'eth', 'src'));
        break;
      }
      case 'dl_dst':
      case 'eth_dst': {
        const m = mac(term, v);
        p = (k) => m(fieldOf(k, 'eth', 'dst'));
        break;
      }
      case 'dl_type':
      case 'eth_type': {
        const n = num(term, v, 0xffff);
        prereq.narrow('eth', v.includes('/') ? undefined : [Number(v)], term);
        p = (k) => {
          const t = ethType(k.fields);
          return n(t === undefined ? undefined : { value: t });
        };
        break;
      }
      case 'nw_src':
      case 'ip_src': {
        const c = cidr4(term, v);
        p = (k) => c(fieldOf(k, 'ipv4', 'src') ?? fieldOf(k, 'arp', 'sip'));
        break;
      }
      case 'nw_dst':
      case 'ip_dst': {
        const c = cidr4(term, v);
        p = (k) => c(fieldOf(k, 'ipv4', 'dst') ?? fieldOf(k, 'arp', 'tip'));
        break;
      }
      case 'ipv6_src': {
        const c = cidr6(term, v);
        p = (k) => c(fieldOf(k, 'ipv6', 'src'));
        break;
      }
      case 'ipv6_dst': {
        const c = cidr6(term, v);
        p = (k) => c(fieldOf(k, 'ipv6', 'dst'));
        break;
      }
      case 'nw_proto':
      case 'ip_proto': {
        const n = num(term, v, 255);
        prereq.narrow('proto', v.includes('/') ? undefined : [Number(v)], term);
        p = (k) => n(fieldOf(k, 'ipv4', 'proto') ?? fieldOf(k, 'ipv6', 'proto'));
        break;
      }
      case 'tp_src':
      case 'tcp_src':
      case 'udp_src': {
        const n = num(term, v, 0xffff);
        p = (k) => {
          const f = l4Field(k);
          return f ? n(fieldOf(k, f, 'src')) : anyL4(k);
        };
        break;
      }
      case 'tp_dst':
      case 'tcp_dst':
      case 'udp_dst': {
        const n = num(term, v, 0xffff);
        p = (k) => {
          const f = l4Field(k);
          return f ? n(fieldOf(k, f, 'dst')) : anyL4(k);
        };
        break;
      }
      case 'icmp_type': {
        const n = num(term, v, 255);
        p = (k) => {
          const f = fieldOf(k, 'icmp', 'type') ?? fieldOf(k, 'icmpv6', 'type');
          return f ? n(f) : anyL4(k);
        };
        break;
      }
      case 'icmp_code': {
        const n = num(term, v, 255);
        p = (k) => {
          const f = fieldOf(k, 'icmp', 'code') ?? fieldOf(k, 'icmpv6', 'code');
          return f ? n(f) : anyL4(k);
        };
        break;
      }
      default:
        throw new FilterError(term, `unknown field "${name}" (known: in_port, dl_src, dl_dst, dl_type, nw_src, nw_dst, ipv6_src, ipv6_dst, nw_proto, tp_src, tp_dst, icmp_type, icmp_code)`);
    }
    preds.push(p);
  }
  return {
    text,
    inPort: inPortName,
    matches(key, portNames) {
      // A key may name in_port by number (kernel datapath, or a dump without -m).
      const raw = keyValue(key, 'in_port');
      // Or the filter names it by datapath port number (as dpctl/dump-flows' filter= does) and a `-m` key by name.
      const byNumber =
        !!portNames &&
        inPortName !== undefined &&
        raw !== undefined &&
        (/^\d+$/.test(raw) ? portNames.get(raw) === inPortName : /^\d+$/.test(inPortName) && portNames.get(inPortName) === raw);
      return preds.every((p) => (byNumber && p === inPortPred) || p(key));
    },
  };
}
