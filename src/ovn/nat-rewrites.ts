// The header rewrites a bare conntrack `nat` can apply on this deployment (ovs/key-rewrite.ts),
// read from the northbound rows that create NAT bindings:
// - Load_Balancer `vips` ("VIP:port" → "backend:port,…", `protocol`, tcp when empty): a request's
//   dst VIP:port becomes a backend's address and port; a reply's src backend:port becomes VIP:port.
//   A VIP without a port rewrites addresses only, whatever the protocol.
// - NAT rows: dnat (and dnat_and_snat) turn dst external_ip into logical_ip and a reply's src back;
//   snat (and dnat_and_snat) turn src logical_ip (a prefix for snat) into external_ip, and a reply's
//   dst back into the prefix. A SNAT may pick another source port (a port range, or a clash), so the
//   L4 source port it leaves is any.
// Every Load_Balancer row counts, attached or not (a switch, a router, a group): a spare candidate
// only widens what a child may be, never links a child that no rewrite explains.
import type { ReplicaRow } from '../ovsdb/replica/replica';
import { addressValue, type HeaderRewrite, type MaskedValue } from '../ovs/key-rewrite';

const PROTO: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };
const ANY: MaskedValue = { value: 0n, mask: 0n };
const exact = (n: number): MaskedValue => ({ value: BigInt(n), mask: null });

/** `10.0.0.100:80`, `[fd00::1]:80`, `10.0.0.100`, `fd00::1` → address text and port. */
function endpoint(text: string): { ip: string; port: number | null } | null {
  const t = text.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) return { ip: v6[1], port: v6[2] === undefined ? null : Number(v6[2]) };
  const v4 = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(t);
  if (v4) return { ip: v4[1], port: v4[2] === undefined ? null : Number(v4[2]) };
  return t.includes(':') ? { ip: t, port: null } : null;
}

const first = (v: unknown): string => String(([] as unknown[]).concat(v ?? [])[0] ?? '');

function lbRewrites(row: ReplicaRow): HeaderRewrite[] {
  const out: HeaderRewrite[] = [];
  const protoName = first(row.protocol) || 'tcp';
  const proto = PROTO[protoName];
  const vips = (row.vips ?? {}) as Record<string, unknown>;
  for (const [vipText, backends] of Object.entries(vips)) {
    const vip = endpoint(vipText);
    const vipAddr = vip && addressValue(vip.ip);
    if (!vip || !vipAddr) continue;
    const ip = vip.ip.includes(':') ? 'ipv6' : 'ipv4';
    for (const b of String(backends).split(',').filter((s) => s.trim())) {
      const be = endpoint(b);
      const beAddr = be && addressValue(be.ip);
      if (!be || !beAddr) continue;
      const source = `${first(row.name)} ${vipText} -> ${b.trim()}`;
      const ports = vip.port !== null && be.port !== null && proto !== undefined;
      const req = { before: new Map([[`${ip}.dst`, vipAddr]]), after: new Map([[`${ip}.dst`, beAddr]]), source };
      const rpl = { before: new Map([[`${ip}.src`, beAddr]]), after: new Map([[`${ip}.src`, vipAddr]]), source: `${source} (reply)` };
      if (ports) {
        for (const r of [req, rpl]) r.before.set(`${ip}.proto`, exact(proto));
        req.before.set(`${protoName}.dst`, exact(vip.port!));
        req.after.set(`${protoName}.dst`, exact(be.port!));
        rpl.before.set(`${protoName}.src`, exact(be.port!));
        rpl.after.set(`${protoName}.src`, exact(vip.port!));
      }
      out.push(req, rpl);
    }
  }
  return out;
}

function natRowRewrites(row: ReplicaRow): HeaderRewrite[] {
  const type = first(row.type);
  const ext = addressValue(first(row.external_ip));
  const logical = addressValue(first(row.logical_ip));
  if (!ext || !logical) return [];
  const ip = first(row.external_ip).includes(':') ? 'ipv6' : 'ipv4';
  const source = `${type} ${first(row.external_ip)} <-> ${first(row.logical_ip)}`;
  const out: HeaderRewrite[] = [];
  const anyPort = (side: 'src' | 'dst') => new Map(Object.keys(PROTO).map((l4) => [`${l4}.${side}`, ANY]));
  if (type === 'dnat' || type === 'dnat_and_snat') {
    out.push({ before: new Map([[`${ip}.dst`, ext]]), after: new Map([[`${ip}.dst`, logical]]), source });
    out.push({ before: new Map([[`${ip}.src`, logical]]), after: new Map([[`${ip}.src`, ext]]), source: `${source} (reply)` });
  }
  if (type === 'snat' || type === 'dnat_and_snat') {
    out.push({ before: new Map([[`${ip}.src`, logical]]), after: new Map([[`${ip}.src`, ext], ...anyPort('src')]), source });
    out.push({ before: new Map([[`${ip}.dst`, ext]]), after: new Map([[`${ip}.dst`, logical], ...anyPort('dst')]), source: `${source} (reply)` });
  }
  return out;
}

/** Every rewrite the northbound Load_Balancer and NAT rows allow (see the top of this file). */
export function natRewritesOf(loadBalancers: Iterable<ReplicaRow>, nats: Iterable<ReplicaRow>): HeaderRewrite[] {
  const out: HeaderRewrite[] = [];
  for (const lb of loadBalancers) out.push(...lbRewrites(lb));
  for (const n of nats) out.push(...natRowRewrites(n));
  return out;
}
