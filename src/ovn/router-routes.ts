// Which of a logical router's ports it sends a packet for an address out of, read from the northbound
// as northd builds lr_in_ip_routing: the longest prefix among the router's connected networks
// (Logical_Router_Port.networks) and its dst-ip static routes (Logical_Router_Static_Route); at the
// same length a connected network wins over a static route (northd's ROUTE_PRIO_OFFSET_CONNECTED
// over STATIC), and routes of the same length and kind are ECMP: every one of their ports. A
// static route leaves by its output_port, or by the port whose network holds its nexthop; one with
// neither is no route (northd warns "No path for static route" and installs no flow); a `discard`
// route leaves by none. Each route says its next hop, where a walk needs to know who gets the packet
// on a switch several routers share.
//
// Route tables: the lookup depends on the port the packet entered by. lr_in_ip_routing_pre sets
// reg7 to the id of the ingress port's options:route_table (0 without one), and every static route's
// flow matches `reg7 == <its route_table's id>` while a connected network's matches no reg7
// (build_route_match): a packet sees the connected networks and the static routes of its ingress
// port's table only; a port with no table sees the global routes (route_table ''), a port with a
// table does not. The same in OVN 23.03, 25.03 and 26.03 (northd sources, and ovn-trace on each pair:
// test/fixtures/captured-route-tables); 23.03's ovn-nb(5) said global routes were looked up first,
// which northd never did (fixed in the docs by OVN commit 072b8ec5). A static route with
// options:origin=connected (ovn-ic) ranks and matches as a connected network.
//
// Not followed: src-ip routes, Logical_Router_Policy reroutes, BFD state, learned (ovn-ic, dynamic
// routing) routes beyond their rows.
import type { ReplicaRow } from '../ovsdb/replica/replica';
import { canonicalIp } from '../ovs/ids';
import { addressValue, type MaskedValue } from '../ovs/key-rewrite';

/** The northbound rows this reads (a Replica is one). */
export interface NorthboundRows {
  get(table: string, uuid: string): ReplicaRow | undefined;
}

interface Route {
  readonly net: MaskedValue;
  readonly v6: boolean;
  readonly len: number;
  readonly connected: boolean;
  /** Logical_Router_Static_Route.route_table ('' the global table; a connected network's is ''). */
  readonly table: string;
  /** The router port it leaves by; null for a discard route. */
  readonly port: string | null;
  /** The static route's nexthop (canonical); null for a connected network (the address itself is on the link). */
  readonly nexthop: string | null;
}

/** A way out of a router for an address: the port, and the next hop on its link (null: the address itself). */
export interface RouteHop {
  port: string;
  nexthop: string | null;
}

const all = (v: unknown): string[] => ([] as unknown[]).concat(v ?? []).map(String);
const first = (v: unknown): string => all(v)[0] ?? '';
const isV6 = (text: string): boolean => text.includes(':');

/** `10.0.0.254/24` → the network 10.0.0.0/24 with its length; a bare address is a host route; null when not an address. */
function prefixOf(text: string): { net: MaskedValue; v6: boolean; len: number } | null {
  const net = addressValue(text);
  if (!net) return null;
  const v6 = isV6(text);
  const len = net.mask === null ? (v6 ? 128 : 32) : [...net.mask.toString(2)].filter((b) => b === '1').length;
  return { net, v6, len };
}

function holds(r: { net: MaskedValue; v6: boolean }, ip: { value: bigint; v6: boolean }): boolean {
  return r.v6 === ip.v6 && (r.net.mask === null ? ip.value === r.net.value : (ip.value & r.net.mask) === r.net.value);
}

/** The router's routes: one per network of each port, one per dst-ip static route. */
function routesOf(nb: NorthboundRows, router: ReplicaRow): Route[] {
  const ports = all(router.ports).flatMap((u) => nb.get('Logical_Router_Port', u) ?? []);
  const connected = ports.flatMap((p) =>
    all(p.networks).flatMap((n) => {
      const pre = prefixOf(n);
      return pre ? [{ ...pre, connected: true, table: '', port: first(p.name), nexthop: null }] : [];
    }),
  );
  const portFor = (nexthop: string): string | null => {
    const hop = addressValue(nexthop);
    if (!hop || hop.mask !== null) return null;
    return connected.find((c) => holds(c, { value: hop.value, v6: isV6(nexthop) }))?.port ?? null;
  };
  const statics = all(router.static_routes).flatMap((u) => {
    const row = nb.get('Logical_Router_Static_Route', u);
    const pre = row && first(row.policy) !== 'src-ip' ? prefixOf(first(row.ip_prefix)) : null;
    if (!row || !pre) return [];
    const nexthop = first(row.nexthop);
    const port = nexthop === 'discard' ? null : first(row.output_port) || portFor(nexthop);
    if (nexthop !== 'discard' && port === null) return [];
    const connected = ((row.options ?? {}) as Record<string, string>).origin === 'connected';
    return [{ ...pre, connected, table: first(row.route_table), port, nexthop: nexthop && nexthop !== 'discard' ? canonicalIp(nexthop) : null }];
  });
  return [...connected, ...statics];
}

/** Whether a lookup in `table` sees the route: its own table's, and a connected one of none (no reg7 match) in every table. */
const seenIn = (r: Route, table: string): boolean => r.table === table || (r.connected && r.table === '');

/** The ways out the best routes for one address in one route table take. */
function bestHops(routes: readonly Route[], ip: { value: bigint; v6: boolean }, table: string): RouteHop[] {
  const fit = routes.filter((r) => seenIn(r, table) && holds(r, ip));
  const rank = (r: Route) => r.len * 3 + (r.connected ? 2 : 1);
  const top = Math.max(-1, ...fit.map(rank));
  return fit.filter((r) => rank(r) === top).flatMap((r) => (r.port === null ? [] : [{ port: r.port, nexthop: r.nexthop }]));
}

/** The route table a packet entering by the port is looked up in (options:route_table; '' the global one). */
const ingressTable = (port: ReplicaRow): string => ((port.options ?? {}) as Record<string, string>).route_table ?? '';

/**
 * Per port of the router (by name), the ways out a packet to any of `ips` entering by that port
 * takes: the lookup in the port's route table. What a walk outward from a port asks to know from
 * which sides of a router a packet to it comes.
 */
export function routeHopsByIngress(nb: NorthboundRows, router: ReplicaRow, ips: Iterable<string>): Map<string, RouteHop[]> {
  const routes = routesOf(nb, router);
  const addrs = [...ips].flatMap((ip) => {
    const value = addressValue(ip);
    return value && value.mask === null ? [{ value: value.value, v6: isV6(ip) }] : [];
  });
  const byTable = new Map<string, RouteHop[]>();
  const hopsIn = (table: string): RouteHop[] => {
    if (!byTable.has(table)) byTable.set(table, addrs.flatMap((ip) => bestHops(routes, ip, table)));
    return byTable.get(table)!;
  };
  const out = new Map<string, RouteHop[]>();
  for (const p of all(router.ports).flatMap((u) => nb.get('Logical_Router_Port', u) ?? [])) out.set(first(p.name), hopsIn(ingressTable(p)));
  return out;
}
