// Where a logical port is, as the live replicas say: the OVS interfaces bound to it (iface-id) and
// their datapath port numbers on this chassis, its MACs and addresses (southbound binding and
// northbound port), and the tunnel keys another chassis sees its packets by. A session on a
// logical port selects flows by these (session-selector.ts).
import type { ReplicaRow } from '../ovsdb/replica/replica';
import type { ReplicasService } from '../replicas/replicas.service';
import { datapathRef, firstRef } from '../ovn/datapaths';
import { routeHopsByIngress, type RouteHop } from '../ovn/router-routes';
import { parseAddresses, type PortTarget } from './session-selector';

/**
 * The route walks made since the routing rows last changed (OvnModel.routingGeneration), by the
 * port's datapath and addresses: what the walk's answer depends on besides those rows. A VM port
 * bound or gone anywhere in the cluster recomputes a session's port target (its interfaces and
 * addresses may have changed) but finds its walk here: a walk takes ~100 ms on 300 nodes.
 */
export class ReachWalks {
  private generation: number | undefined;
  private readonly walks = new Map<string, ReadonlySet<string>>();

  constructor(private readonly routingGeneration: () => number) {}

  reach(dp: ReplicaRow, ips: ReadonlySet<string>, walk: () => ReadonlySet<string>): ReadonlySet<string> {
    const generation = this.routingGeneration();
    // Ports whose addresses change within one generation leave old keys: a bound, not a leak.
    if (generation !== this.generation || this.walks.size >= 1000) this.walks.clear();
    this.generation = generation;
    const key = `${dp._uuid} ${[...ips].sort().join(' ')}`;
    let out = this.walks.get(key);
    if (!out) this.walks.set(key, (out = walk()));
    return out;
  }
}

/** The port's southbound binding: a port without one has no target (a session's create answers 404 by it). */
export function portBinding(sb: ReplicasService['sb'], name: string): ReplicaRow | undefined {
  return sb.find('Port_Binding', 'logical_port', name)[0];
}

/** The port's interfaces, datapath ports and addresses, from the live replicas; the walk from `walks` when it holds it. */
export function portTarget(replicas: Pick<ReplicasService, 'sb' | 'nb' | 'ovs'>, name: string, portNames?: ReadonlyMap<string, string>, walks?: ReachWalks): PortTarget | undefined {
  const pb = portBinding(replicas.sb, name);
  if (!pb) return undefined;
  const interfaces = new Set<string>();
  for (const i of replicas.ovs.rows('Interface')) {
    if ((i.external_ids as Record<string, string>)['iface-id'] === name) interfaces.add(String(i.name));
  }
  const dpPorts = new Set<string>();
  if (portNames) for (const [num, n] of portNames) if (interfaces.has(n)) dpPorts.add(num);
  const lsp = replicas.nb.find('Logical_Switch_Port', 'name', name)[0];
  const addrs = parseAddresses([...((pb.mac as string[]) ?? []), ...(((lsp?.addresses as string[]) ?? []) as string[])]);
  // Another chassis sees the port's packets by these keys in the tunnel (VNI, Geneve ingress).
  const dpRef = firstRef(pb.datapath);
  const dp = dpRef ? replicas.sb.get('Datapath_Binding', dpRef) : undefined;
  const keys = dp && pb.tunnel_key !== undefined ? { datapath: Number(dp.tunnel_key), port: Number(pb.tunnel_key) } : undefined;
  const walk = (d: ReplicaRow) => () => routedDatapaths(replicas, d, addrs.ips);
  const datapaths = !dp ? new Set<string>() : (walks?.reach(dp, addrs.ips, walk(dp)) ?? walk(dp)());
  return { name, interfaces, dpPorts, ...addrs, keys, datapaths };
}

type Rows = Pick<ReplicasService, 'sb' | 'nb'>;

/** A datapath's patch and l3gateway bindings (near) with the binding and datapath at the other end (options:peer). */
function peersOf(sb: Rows['sb'], d: ReplicaRow): Array<{ near: ReplicaRow; far: ReplicaRow; dp: ReplicaRow }> {
  return sb.find('Port_Binding', 'datapath', d._uuid).flatMap((near) => {
    const peer = ((near.options ?? {}) as Record<string, string>).peer;
    const far = peer ? sb.find('Port_Binding', 'logical_port', peer)[0] : undefined;
    const ref = far && firstRef(far.datapath);
    const dp = ref ? sb.get('Datapath_Binding', ref) : undefined;
    return far && dp ? [{ near, far, dp }] : [];
  });
}

/** A router port binding's own addresses (Port_Binding.mac `MAC 172.16.0.254/24 …`). */
const routerPortIps = (pb: ReplicaRow): string[] => [...parseAddresses(([] as unknown[]).concat(pb.mac ?? []).map((m) => String(m).replace(/\/\d+/g, ''))).ips];

/**
 * The names of the datapaths where a packet to the port's addresses runs its first pipeline: its
 * logical switch, and, walking outward, every router that forwards those addresses toward it for a
 * packet entering by some port, with the switch or router beyond each such port, however many
 * routers away (a reply from the external switch of an ovn-kubernetes gateway router, or from
 * another network's router under OpenStack). A router looks a packet up in the route table of the
 * port it entered by (ovn/router-routes.ts): an ingress port counts when that lookup's longest-prefix
 * route leaves by a port where someone takes the packet on to the port: on the port's own switch the
 * address itself (a connected network); on a switch further out, a router port that counts (its
 * address there is the route's next hop); on a router patched straight to this one, the port at the
 * other end, if it counts. The sides of a router whose table routes the address elsewhere are not
 * where a packet to the port starts. Another tenant's switch holding the same address lies behind a
 * router that routes it into its own network, and a third router whose route for the address goes
 * to that tenant's router over a shared switch hands it there: the walk stops at both. A router is
 * asked when a switch it is on is first reached, when the port at the other end of its direct link
 * starts to count, and again when a router port it hands the packet to on a switch starts to count
 * there (by that next hop), not the whole walk again. A port with no address is reached by no
 * router: its own switch only. The walk reads the northbound's routers, router ports and routes,
 * the southbound's links and datapaths: a change there bumps the model's routingGeneration, which
 * ReachWalks walks again by; the port's own datapath and addresses are its key.
 */
function routedDatapaths(replicas: Rows, dp: ReplicaRow, ips: ReadonlySet<string>): Set<string> {
  const found = new Map([[dp._uuid, dp]]);
  const names = () => new Set([...found.values()].flatMap((d) => datapathRef(d).name ?? []));
  if (!ips.size) return names();
  /** Router ports (by name) a packet to the port entering by is forwarded toward it. */
  const counting = new Set<string>();
  /** Per switch reached: the addresses of the counting router ports there (next hops that take the packet on). */
  const takers = new Map<string, Set<string>>();
  /** Routers to ask again when `<switch uuid> <address>` starts to take the packet on. */
  const waiting = new Map<string, Set<ReplicaRow>>();
  const links = new Map<string, ReturnType<typeof peersOf>>();
  const linksOf = (d: ReplicaRow) => links.get(d._uuid) ?? (links.set(d._uuid, peersOf(replicas.sb, d)), links.get(d._uuid)!);
  const lookups = new Map<string, Map<string, RouteHop[]>>();
  const lookupOf = (router: ReplicaRow): Map<string, RouteHop[]> => {
    if (!lookups.has(router._uuid)) {
      const uuid = datapathRef(router).nbUuid;
      const nb = uuid ? replicas.nb.get('Logical_Router', uuid) : undefined;
      lookups.set(router._uuid, nb ? routeHopsByIngress(replicas.nb, nb, ips) : new Map());
    }
    return lookups.get(router._uuid)!;
  };
  const isRouter = (d: ReplicaRow) => datapathRef(d).kind === 'router';

  /** Whether `router`'s way out `h` reaches someone who takes the packet on; if not yet, wait for its next hop there. */
  const handsOn = (router: ReplicaRow, h: RouteHop): boolean => {
    const link = linksOf(router).find((l) => String(l.near.logical_port) === h.port);
    if (!link) return false;
    if (isRouter(link.dp)) return counting.has(String(link.far.logical_port));
    if (h.nexthop === null) return link.dp === dp;
    if (takers.get(link.dp._uuid)?.has(h.nexthop)) return true;
    const key = `${link.dp._uuid} ${h.nexthop}`;
    waiting.set(key, (waiting.get(key) ?? new Set()).add(router));
    return false;
  };
  const queue: ReplicaRow[] = [];
  /** The ports of `router` whose lookup hands the packet on start to count (each lookup asked once per ask: ports share their table's). */
  const ask = (router: ReplicaRow) => {
    const verdicts = new Map<RouteHop[], boolean>();
    for (const [ingress, hops] of lookupOf(router)) {
      if (counting.has(ingress)) continue;
      if (!verdicts.has(hops)) verdicts.set(hops, hops.some((h) => handsOn(router, h)));
      if (verdicts.get(hops)) count(router, ingress);
    }
  };
  /** The switch beyond a counting port is where a packet to the port starts; who waits on it is asked. */
  const count = (router: ReplicaRow, ingress: string) => {
    counting.add(ingress);
    found.set(router._uuid, router);
    const link = linksOf(router).find((l) => String(l.near.logical_port) === ingress);
    if (!link) return;
    // A router patched straight to this port is asked: its way out here now hands the packet on.
    if (isRouter(link.dp)) return void queue.push(link.dp);
    const reached = found.has(link.dp._uuid);
    found.set(link.dp._uuid, link.dp);
    const at = takers.get(link.dp._uuid) ?? new Set<string>();
    takers.set(link.dp._uuid, at);
    for (const ip of routerPortIps(link.near)) {
      at.add(ip);
      const key = `${link.dp._uuid} ${ip}`;
      for (const r of waiting.get(key) ?? []) queue.push(r);
      waiting.delete(key);
    }
    if (!reached) reach(link.dp, router);
  };
  /** A switch first reached: every other router on it is asked. */
  const reach = (sw: ReplicaRow, from?: ReplicaRow) => {
    for (const l of linksOf(sw)) if (isRouter(l.dp) && l.dp._uuid !== from?._uuid) queue.push(l.dp);
  };
  reach(dp);
  for (let r = queue.pop(); r; r = queue.pop()) ask(r);
  return names();
}
