// Where a logical port is, as the live replicas say: the OVS interfaces bound to it (iface-id) and
// their datapath port numbers on this chassis, its MACs and addresses (southbound binding and
// northbound port), and the tunnel keys another chassis sees its packets by. A session on a
// logical port selects flows by these (session-selector.ts).
import type { ReplicaRow } from '../ovsdb/replica/replica';
import type { ReplicasService } from '../replicas/replicas.service';
import { datapathRef } from '../ovn/datapaths';
import { routeHopsToward, type RouteHop } from '../ovn/router-routes';
import { parseAddresses, type PortTarget } from './session-selector';

/** The port's interfaces, datapath ports and addresses, from the live replicas. */
export function portTarget(replicas: Pick<ReplicasService, 'sb' | 'nb' | 'ovs'>, name: string, portNames?: ReadonlyMap<string, string>): PortTarget | undefined {
  const pb = replicas.sb.find('Port_Binding', 'logical_port', name)[0];
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
  const dpRef = Array.isArray(pb.datapath) ? pb.datapath[0] : pb.datapath;
  const dp = typeof dpRef === 'string' ? replicas.sb.get('Datapath_Binding', dpRef) : undefined;
  const keys = dp && pb.tunnel_key !== undefined ? { datapath: Number(dp.tunnel_key), port: Number(pb.tunnel_key) } : undefined;
  return { name, interfaces, dpPorts, ...addrs, keys, datapaths: dp ? routedDatapaths(replicas, dp, addrs.ips) : new Set() };
}

type Rows = Pick<ReplicasService, 'sb' | 'nb'>;

/** A datapath's patch and l3gateway bindings (near) with the binding and datapath at the other end (options:peer). */
function peersOf(sb: Rows['sb'], d: ReplicaRow): Array<{ near: ReplicaRow; far: ReplicaRow; dp: ReplicaRow }> {
  return sb.find('Port_Binding', 'datapath', d._uuid).flatMap((near) => {
    const peer = ((near.options ?? {}) as Record<string, string>).peer;
    const far = peer ? sb.find('Port_Binding', 'logical_port', peer)[0] : undefined;
    const ref = far && (Array.isArray(far.datapath) ? far.datapath[0] : far.datapath);
    const dp = typeof ref === 'string' ? sb.get('Datapath_Binding', ref) : undefined;
    return far && dp ? [{ near, far, dp }] : [];
  });
}

/** A router port binding's own addresses (Port_Binding.mac `MAC 172.16.0.254/24 …`). */
const routerPortIps = (pb: ReplicaRow): string[] => [...parseAddresses(([] as unknown[]).concat(pb.mac ?? []).map((m) => String(m).replace(/\/\d+/g, ''))).ips];

/**
 * The names of the datapaths where a packet to the port's addresses runs its first pipeline: its
 * logical switch, and, walking outward, every router that would send those addresses toward the
 * datapaths already found with the switches on its other ports, however many routers away (a reply
 * from the external switch of an ovn-kubernetes gateway router, or from another network's router
 * under OpenStack). Toward means its longest-prefix route for them (ovn/router-routes.ts) leaves by
 * its port there and hands the packet to whoever takes it on to the port: on the port's own switch
 * the address itself (a connected network) or the port; on a switch further out, a router already
 * found (its address on that switch is the route's next hop); a router patched straight to a found
 * one is the only one on its link. Another tenant's switch holding the same address lies behind a
 * router that routes it into its own network, and a third router whose route for the address goes
 * to that tenant's router over a shared switch hands it there: the walk stops at both. Found routers
 * make more next hops good: the routers waiting on a switch are asked again when one adds some there. A port with no
 * address is reached by no router: its own switch only. The walk reads the northbound's routes: a
 * change there bumps the model's topologyGeneration, which the session recomputes by.
 */
function routedDatapaths(replicas: Rows, dp: ReplicaRow, ips: ReadonlySet<string>): Set<string> {
  const found = new Map([[dp._uuid, dp]]);
  // Per switch found: the addresses there a packet to the port is handed to.
  const handedTo = new Map<string, Set<string>>([[dp._uuid, new Set(ips)]]);
  const hops = new Map<string, RouteHop[]>();
  const hopsOf = (router: ReplicaRow): RouteHop[] => {
    if (!hops.has(router._uuid)) {
      const uuid = datapathRef(router).nbUuid;
      const nb = uuid ? replicas.nb.get('Logical_Router', uuid) : undefined;
      hops.set(router._uuid, nb && ips.size ? routeHopsToward(replicas.nb, nb, ips) : []);
    }
    return hops.get(router._uuid)!;
  };
  // Routers on a found switch whose route hands the packet to no one found yet: asked again when a
  // router found on that switch adds its addresses there.
  const waiting = new Map<string, Array<{ far: ReplicaRow; router: ReplicaRow }>>();
  const todo = [dp];
  const take = (next: ReplicaRow) => (found.set(next._uuid, next), todo.push(next));
  /** Whether `router`, patched to switch `sw` by binding `far`, sends the port's addresses to someone there who takes them on. */
  const handsOn = (sw: ReplicaRow, far: ReplicaRow, router: ReplicaRow): boolean => {
    const takers = handedTo.get(sw._uuid);
    return hopsOf(router).some((h) => h.port === String(far.logical_port) && (h.nexthop === null ? sw === dp : !!takers?.has(h.nexthop)));
  };
  for (let d = todo.pop(); d; d = todo.pop()) {
    const fromRouter = datapathRef(d).kind === 'router';
    for (const { near, far, dp: next } of peersOf(replicas.sb, d)) {
      const nextIsRouter = datapathRef(next).kind === 'router';
      if (fromRouter && !nextIsRouter) {
        // A found router's address on a switch is where the packet for the port is taken on from there.
        const at = handedTo.get(next._uuid) ?? new Set<string>();
        handedTo.set(next._uuid, at);
        for (const ip of routerPortIps(near)) at.add(ip);
        const asked = waiting.get(next._uuid) ?? [];
        for (const w of asked) if (!found.has(w.router._uuid) && handsOn(next, w.far, w.router)) take(w.router);
        waiting.set(next._uuid, asked.filter((w) => !found.has(w.router._uuid)));
      }
      if (found.has(next._uuid)) continue;
      // A switch beyond a found router hands it every packet for the port; a router patched straight to
      // a found one is the only other end of its link; one on a switch must hand the packet on.
      if (!nextIsRouter) {
        if (fromRouter) take(next);
      } else if (fromRouter ? hopsOf(next).some((h) => h.port === String(far.logical_port)) : handsOn(d, far, next)) take(next);
      else if (!fromRouter) {
        const asked = waiting.get(d._uuid) ?? [];
        waiting.set(d._uuid, asked);
        asked.push({ far, router: next });
      }
    }
  }
  return new Set([...found.values()].flatMap((d) => datapathRef(d).name ?? []));
}
