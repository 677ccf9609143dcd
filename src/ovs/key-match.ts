// Does a packet's full datapath key fall under an installed flow's key and mask? This is how an
// upcall is tied to the flow it installed (facts §3): on the userspace datapath every pass of a
// packet is upcalled first and the flow_add lines follow innermost first, so log order links
// the wrong pairs; the key under the mask never does. Pure: keys in, boolean out.
import { keyField, OdpKey, OdpKeyAttr, OdpKeyField, parseCtState } from './odp-key';

/** True when every field the flow matches on has, in the packet's key, the flow's value under the flow's mask. */
export function keyUnderMask(flow: OdpKey, packet: OdpKey): boolean {
  return fieldsMatch(flow.fields, packet.fields);
}

function fieldsMatch(flowFields: readonly OdpKeyField[], packetFields: readonly OdpKeyField[]): boolean {
  for (const f of flowFields) {
    const p = packetFields.find((x) => x.name === f.name);
    if (!fieldMatches(f, p)) return false;
  }
  return true;
}

function fieldMatches(f: OdpKeyField, p: OdpKeyField | undefined): boolean {
  switch (f.kind) {
    case 'scalar': {
      // A field the packet's key leaves out is zero for the datapath (no ct_mark = ct_mark 0).
      const pv = p && p.kind === 'scalar' ? p.value : '0';
      if (f.name === 'ct_state') return ctStateMatches(f.value, f.mask, pv);
      return valueMatches(f.value, f.mask, pv);
    }
    case 'attrs': {
      if (!p || p.kind !== 'attrs') return f.attrs.every((a) => a.mask !== undefined && isZero(a.mask));
      return f.attrs.every((a) => attrMatches(a, p.attrs.find((x) => x.name === a.name)));
    }
    case 'encap':
      return !!p && p.kind === 'encap' && fieldsMatch(f.fields, p.fields);
    case 'unknown':
      // Not understood: compare text when the packet has it, else let it pass (never a false "no").
      return !p || p.kind !== 'unknown' || p.text === f.text;
  }
}

function attrMatches(a: OdpKeyAttr, p: OdpKeyAttr | undefined): boolean {
  if (a.mask !== undefined && isZero(a.mask)) return true;
  if (!p) return false;
  if (a.paren) return a.value === p.value;
  return valueMatches(a.value, a.mask, p.value);
}

function ctStateMatches(value: string, mask: string | undefined, packetValue: string): boolean {
  try {
    const flow = parseCtState(value, mask);
    const pkt = parseCtState(packetValue);
    return (flow.bits & flow.mask) === (pkt.bits & flow.mask);
  } catch {
    return value === packetValue;
  }
}

function valueMatches(value: string, mask: string | undefined, packetValue: string): boolean {
  const v = toBits(value);
  const pv = toBits(packetValue);
  if (v === null || pv === null) return value === packetValue;
  if (mask === undefined) return v === pv;
  const m = toBits(mask);
  if (m === null) return value === packetValue;
  return (v & m) === (pv & m);
}

function isZero(mask: string): boolean {
  return toBits(mask) === 0n;
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** MAC, IPv4, IPv6, hex or decimal as one integer; null for anything else (`frag=no`, names). */
export function toBits(text: string): bigint | null {
  if (/^0x[0-9a-f]+$/i.test(text)) return BigInt(text);
  if (/^\d+$/.test(text)) return BigInt(text);
  if (MAC.test(text)) return BigInt('0x' + text.replace(/:/g, ''));
  if (IPV4.test(text)) return text.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o) & 0xff), 0n);
  if (text.includes(':') && /^[0-9a-f:.]+$/i.test(text)) return ipv6(text);
  return null;
}

function ipv6(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): string[] | null => {
    if (s === '') return [];
    const out: string[] = [];
    for (const g of s.split(':')) {
      if (IPV4.test(g)) {
        const n = Number(toBits(g));
        out.push(((n >>> 16) & 0xffff).toString(16), (n & 0xffff).toString(16));
      } else if (/^[0-9a-f]{1,4}$/i.test(g)) out.push(g);
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return null;
  const all = [...head, ...Array<string>(fill).fill('0'), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt('0x' + g), 0n);
}

/**
 * Whether a key wildcards the IP protocol as the kernel writes it: the kernel returns a key ANDed with
 * its mask and writes the L4 attribute by the masked protocol (flow_netlink.c __ovs_nla_put_key), so
 * `proto=0/0` with no tcp()/udp()/icmp() is a megaflow for every protocol and port, not a packet
 * without them. One reading for the session filters (of-filter.ts) and the recirculation index.
 */
export function protoWildcarded(key: OdpKey): boolean {
  const ip = keyField(key, 'ipv4') ?? keyField(key, 'ipv6');
  const proto = ip?.kind === 'attrs' ? ip.attrs.find((a) => a.name === 'proto') : undefined;
  return proto?.mask !== undefined && toBits(proto.mask) === 0n && toBits(proto.value) === 0n;
}
