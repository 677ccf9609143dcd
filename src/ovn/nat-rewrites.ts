// The header rewrites a bare conntrack `nat` can apply on this deployment (ovs/key-rewrite.ts),
// read from the northbound rows that create NAT bindings:
// - Load_Balancer `vips` ("VIP:port" → "backend:port,…", `protocol`, tcp when empty): a request's
//   dst VIP:port becomes a backend's address and port; a reply's src backend:port becomes VIP:port.
//   A VIP without a port rewrites addresses only, whatever the protocol.
// - LB hairpin (a backend reaching its own VIP): OVN SNATs the hairpinned request to the VIP, or to
//   options:hairpin_snat_ip, with an explicit ct(commit,nat(src=…)); the backend's reply
//   (src backend:port, dst that address) is un-SNATed by a bare ct(nat) to dst the backend.
// - A gateway router's options:lb_force_snat_ip (router_ip: the address of the router port on the
//   backend's network, each port's when none is; or addresses): the load-balanced request is SNATed to it (explicit nat(src=…)); the backend's reply
//   to it is un-SNATed by a bare ct(nat) to the client, who can be anyone (dst any address and port).
// - NAT rows: dnat (and dnat_and_snat) turn dst external_ip into logical_ip and a reply's src back;
//   snat (and dnat_and_snat) turn src logical_ip (a prefix for snat) into external_ip, and a reply's
//   dst back into the prefix. A SNAT may pick another source port (a port range, or a clash), so the
//   L4 source port it leaves is any. On one router the most specific logical_ip wins (OVN orders the
//   SNAT flows by prefix length), so a prefix's rewrites leave out the addresses of a longer prefix
//   SNATed to another external_ip.
// Seen on real daemons (scripts/capture-nat-fixtures, test/fixtures/captured-nat: OVN 23.03, 25.03,
// 26.03 alike). Every Load_Balancer row counts, attached or not (a switch, a router, a group): a
// spare candidate only widens what a child may be, never links a child that no rewrite explains.
// lb_force_snat_ip alone is the router's own: its load balancers are those of its load_balancer
// column and of its Load_Balancer_Groups (loadBalancersOf).
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
const all = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);
const option = (row: ReplicaRow, name: string): string => String(((row.options ?? {}) as Record<string, unknown>)[name] ?? '').trim();
const anyPort = (side: 'src' | 'dst') => new Map(Object.keys(PROTO).map((l4) => [`${l4}.${side}`, ANY]));
const familyOf = (ip: string) => (ip.includes(':') ? 'ipv6' : 'ipv4');

/** One VIP → backend pair of a load balancer, as key fields. */
interface LbPair {
  readonly lb: ReplicaRow;
  readonly ip: 'ipv4' | 'ipv6';
  readonly vip: MaskedValue;
  readonly backend: MaskedValue;
  /** `tcp`, `udp`, `sctp` with both ports, when the VIP has a port. */
  readonly l4: { name: string; proto: number; vipPort: number; backendPort: number } | null;
  readonly source: string;
}

function lbPairs(row: ReplicaRow): LbPair[] {
  const out: LbPair[] = [];
  const protoName = first(row.protocol) || 'tcp';
  const proto = PROTO[protoName];
  const vips = (row.vips ?? {}) as Record<string, unknown>;
  for (const [vipText, backends] of Object.entries(vips)) {
    const vip = endpoint(vipText);
    const vipAddr = vip && addressValue(vip.ip);
    if (!vip || !vipAddr) continue;
    for (const b of String(backends).split(',').filter((s) => s.trim())) {
      const be = endpoint(b);
      const beAddr = be && addressValue(be.ip);
      if (!be || !beAddr) continue;
      const ports = vip.port !== null && be.port !== null && proto !== undefined;
      out.push({
        lb: row,
        ip: familyOf(vip.ip),
        vip: vipAddr,
        backend: beAddr,
        l4: ports ? { name: protoName, proto: proto!, vipPort: vip.port!, backendPort: be.port! } : null,
        source: `${first(row.name)} ${vipText} -> ${b.trim()}`,
      });
    }
  }
  return out;
}

function lbRewrites(p: LbPair): HeaderRewrite[] {
  const { ip, l4 } = p;
  const req = { before: new Map([[`${ip}.dst`, p.vip]]), after: new Map([[`${ip}.dst`, p.backend]]), source: p.source };
  const rpl = { before: new Map([[`${ip}.src`, p.backend]]), after: new Map([[`${ip}.src`, p.vip]]), source: `${p.source} (reply)` };
  if (l4) {
    for (const r of [req, rpl]) r.before.set(`${ip}.proto`, exact(l4.proto));
    req.before.set(`${l4.name}.dst`, exact(l4.vipPort));
    req.after.set(`${l4.name}.dst`, exact(l4.backendPort));
    rpl.before.set(`${l4.name}.src`, exact(l4.backendPort));
    rpl.after.set(`${l4.name}.src`, exact(l4.vipPort));
  }
  return [req, rpl];
}

/**
 * The backend's reply to an address its request was SNATed to (the VIP or hairpin_snat_ip for a
 * hairpin, a router's lb_force_snat_ip), un-SNATed: dst becomes `to` (the backend itself; any
 * address for a client) and, as the SNAT may have picked another source port, any dst port.
 */
function unsnatReply(p: LbPair, snat: MaskedValue, to: MaskedValue, source: string): HeaderRewrite {
  const { ip, l4 } = p;
  const before = new Map([[`${ip}.src`, p.backend], [`${ip}.dst`, snat]]);
  const after = new Map([[`${ip}.dst`, to]]);
  if (l4) {
    before.set(`${ip}.proto`, exact(l4.proto));
    before.set(`${l4.name}.src`, exact(l4.backendPort));
    after.set(`${l4.name}.dst`, ANY);
  } else for (const [k, v] of anyPort('dst')) after.set(k, v);
  return { before, after, source };
}

/** The addresses of `text` (space or comma separated) of the family `ip`. */
function addressesOf(text: string, ip: string): MaskedValue[] {
  return text.split(/[\s,]+/).filter((t) => t && familyOf(t) === ip).flatMap((t) => addressValue(t.split('/')[0]) ?? []);
}

function hairpinRewrites(p: LbPair): HeaderRewrite[] {
  const configured = addressesOf(option(p.lb, 'hairpin_snat_ip'), p.ip);
  const snat = configured.length ? configured : [p.vip];
  return snat.map((a) => unsnatReply(p, a, p.backend, `${p.source} (hairpin reply)`));
}

/**
 * The UUIDs of a router's or a switch's load balancers: its load_balancer column and the members of
 * each Load_Balancer_Group of its load_balancer_group column (`groups` by UUID).
 */
export function loadBalancersOf(row: ReplicaRow, groups: ReadonlyMap<string, ReplicaRow>): Set<string> {
  return new Set([...all(row.load_balancer), ...all(row.load_balancer_group).flatMap((g) => all(groups.get(g)?.load_balancer))]);
}

/**
 * router_ip's SNAT addresses for a backend: OVN SNATs to the address of the port the request leaves
 * by, that of the port whose network holds the backend (captured: lr1-sw0's for a backend on sw0);
 * every port's when none does (a static route decides, which this does not follow).
 */
function routerIpFor(p: LbPair, networks: readonly string[]): MaskedValue[] {
  const on = networks.filter((n) => {
    const net = familyOf(n) === p.ip ? addressValue(n) : null;
    return net?.mask != null && ((p.backend.value ^ net.value) & net.mask) === 0n;
  });
  return addressesOf((on.length ? on : networks).join(' '), p.ip);
}

/** lb_force_snat_ip of a router: the router's load balancers' backends replying to its SNAT address. */
function forceSnatRewrites(router: ReplicaRow, pairs: readonly LbPair[], rows: { ports: ReadonlyMap<string, ReplicaRow>; groups: ReadonlyMap<string, ReplicaRow> }): HeaderRewrite[] {
  const opt = option(router, 'lb_force_snat_ip');
  if (!opt) return [];
  const networks = all(router.ports).flatMap((u) => all(rows.ports.get(u)?.networks));
  const own = loadBalancersOf(router, rows.groups);
  const mine = pairs.filter((p) => own.has(p.lb._uuid));
  const out: HeaderRewrite[] = [];
  for (const p of mine) {
    for (const a of opt === 'router_ip' ? routerIpFor(p, networks) : addressesOf(opt, p.ip)) {
      out.push({ ...unsnatReply(p, a, ANY, `${first(router.name)} lb_force_snat_ip=${opt} ${p.source} (reply)`), router: router._uuid });
    }
  }
  return out;
}

/** `inner` lies inside `outer` and is narrower (a longer prefix, or an address in a prefix). */
function narrower(inner: MaskedValue, outer: MaskedValue): boolean {
  const im = inner.mask ?? -1n;
  const om = outer.mask ?? -1n;
  return im !== om && (im & om) === om && ((inner.value ^ outer.value) & om) === 0n;
}

/**
 * A NAT row's rewrites. `siblings`: the other NAT rows of its router, whose longer logical_ip
 * prefixes SNATed to another external_ip are taken out of this row's prefix.
 */
function natRowRewrites(row: ReplicaRow, siblings: readonly ReplicaRow[]): HeaderRewrite[] {
  const type = first(row.type);
  const ext = addressValue(first(row.external_ip));
  const logical = addressValue(first(row.logical_ip));
  if (!ext || !logical) return [];
  const ip = familyOf(first(row.external_ip));
  const source = `${type} ${first(row.external_ip)} <-> ${first(row.logical_ip)}`;
  const out: HeaderRewrite[] = [];
  if (type === 'dnat' || type === 'dnat_and_snat') {
    out.push({ before: new Map([[`${ip}.dst`, ext]]), after: new Map([[`${ip}.dst`, logical]]), source });
    out.push({ before: new Map([[`${ip}.src`, logical]]), after: new Map([[`${ip}.src`, ext]]), source: `${source} (reply)` });
  }
  if (type === 'snat' || type === 'dnat_and_snat') {
    const except = siblings.flatMap((r) => {
      if (r === row || !['snat', 'dnat_and_snat'].includes(first(r.type))) return [];
      const l = addressValue(first(r.logical_ip));
      const e = addressValue(first(r.external_ip));
      return l && e && narrower(l, logical) && (e.value !== ext.value || e.mask !== ext.mask) ? [l] : [];
    });
    const inside: MaskedValue = except.length ? { ...logical, except } : logical;
    out.push({ before: new Map([[`${ip}.src`, inside]]), after: new Map([[`${ip}.src`, ext], ...anyPort('src')]), source });
    out.push({ before: new Map([[`${ip}.dst`, ext]]), after: new Map([[`${ip}.dst`, inside], ...anyPort('dst')]), source: `${source} (reply)` });
  }
  return out;
}

/**
 * Every rewrite the northbound Load_Balancer, NAT, Logical_Router, Logical_Router_Port and
 * Load_Balancer_Group rows allow (see the top of this file). Without routers, no router's options
 * count and NAT rows are taken one by one (no prefix is narrowed by another's).
 */
export function natRewritesOf(
  loadBalancers: Iterable<ReplicaRow>,
  nats: Iterable<ReplicaRow>,
  routers: Iterable<ReplicaRow> = [],
  routerPorts: Iterable<ReplicaRow> = [],
  loadBalancerGroups: Iterable<ReplicaRow> = [],
): HeaderRewrite[] {
  const out: HeaderRewrite[] = [];
  const pairs = [...loadBalancers].flatMap(lbPairs);
  for (const p of pairs) out.push(...lbRewrites(p), ...hairpinRewrites(p));
  const natRows = [...nats];
  const natByUuid = new Map(natRows.map((n) => [n._uuid, n]));
  const siblingsOf = new Map<ReplicaRow, ReplicaRow[]>();
  const routerOf = new Map<ReplicaRow, string>();
  const rows = { ports: new Map([...routerPorts].map((p) => [p._uuid, p])), groups: new Map([...loadBalancerGroups].map((g) => [g._uuid, g])) };
  for (const r of routers) {
    const mine = all(r.nat).flatMap((u) => natByUuid.get(u) ?? []);
    for (const n of mine) {
      siblingsOf.set(n, mine);
      routerOf.set(n, r._uuid);
    }
    out.push(...forceSnatRewrites(r, pairs, rows));
  }
  for (const n of natRows) {
    const router = routerOf.get(n);
    out.push(...natRowRewrites(n, siblingsOf.get(n) ?? []).map((rw) => (router ? { ...rw, router } : rw)));
  }
  return out;
}
