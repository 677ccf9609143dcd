// A userspace `dpctl/dump-flows -m` key as a kernel datapath would dump the same megaflow
// (test/fixtures/documented/kernel-datapath/README.md, flow_netlink.c): the key is stored ANDed with
// its mask, so a wildcarded field reads 0/0 rather than the packet's value; the L4 attribute is
// written by the masked protocol, so proto=…/0 leaves no tcp()/udp()/icmp()/sctp(); ct_tuple4/6
// go with a wildcarded protocol; a tunnel's tp_src/tp_dst only when non-zero. Lets a spec read a
// captured key (real daemons, userspace datapath) in the form a kernel agent stores.
import { splitTopLevel } from '../../src/ovs/odp-scan';
import { toBits } from '../../src/ovs/key-match';

const L4 = ['tcp', 'udp', 'sctp', 'icmp', 'icmpv6', 'tcp_flags', 'nd', 'ct_tuple4', 'ct_tuple6'];
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** `v` ANDed with `m`, printed in v's own form (IPv4, MAC, hex, decimal); IPv6 only when all-zero. */
function masked(v: string, m: string): string {
  const a = toBits(v);
  const b = toBits(m);
  if (a === null || b === null) return v;
  const x = a & b;
  if (IPV4.test(v)) return [24n, 16n, 8n, 0n].map((s) => String((x >> s) & 0xffn)).join('.');
  if (MAC.test(v)) return x.toString(16).padStart(12, '0').replace(/(..)(?!$)/g, '$1:');
  if (v.startsWith('0x')) return '0x' + x.toString(16);
  if (/^\d+$/.test(v)) return String(x);
  return x === 0n ? '::' : v;
}

function attrs(inner: string, tunnel: boolean): string {
  const out: string[] = [];
  for (const part of splitTopLevel(inner).map((s) => s.trim())) {
    const eq = part.indexOf('=');
    const open = part.indexOf('(');
    if (eq < 0 || (open >= 0 && open < eq)) {
      out.push(part);
      continue;
    }
    const name = part.slice(0, eq);
    const [v, m] = part.slice(eq + 1).split('/');
    const value = m === undefined ? v : masked(v, m);
    if (tunnel && (name === 'tp_src' || name === 'tp_dst') && toBits(value) === 0n) continue;
    out.push(`${name}=${m === undefined ? v : `${value}/${m}`}`);
  }
  return out.join(',');
}

/** The kernel's dump of the megaflow a userspace `-m` key describes (see the top of this file). */
export function kernelForm(key: string): string {
  const items = splitTopLevel(key).map((s) => s.trim());
  const proto = /(?:ipv4|ipv6)\([^)]*proto=(\w+)(?:\/(\w+))?/.exec(key);
  const wildProto = proto !== null && proto[2] !== undefined && toBits(proto[2]) === 0n;
  const out: string[] = [];
  for (const item of items) {
    const open = item.indexOf('(');
    if (open < 0 || !item.endsWith(')')) {
      out.push(item);
      continue;
    }
    const name = item.slice(0, open);
    if (wildProto && L4.includes(name)) continue;
    const inner = item.slice(open + 1, -1);
    if (name.startsWith('ct_tuple') && /proto=\w+\/0(,|$)/.test(inner)) continue;
    if (name === 'encap') out.push(`encap(${kernelForm(inner)})`);
    else if (inner.includes('=')) out.push(`${name}(${attrs(inner, name === 'tunnel')})`);
    else if (inner.includes('/')) {
      const [v, m] = inner.split('/');
      out.push(`${name}(${masked(v, m)}/${m})`);
    } else out.push(item);
  }
  return out.join(',');
}
