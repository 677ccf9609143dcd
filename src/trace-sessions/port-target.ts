// Where a logical port is, as the live replicas say: the OVS interfaces bound to it (iface-id) and
// their datapath port numbers on this chassis, its MACs and addresses (southbound binding and
// northbound port), and the tunnel keys another chassis sees its packets by. A session on a
// logical port selects flows by these (session-selector.ts).
import type { ReplicaRow } from '../ovsdb/replica/replica';
import type { ReplicasService } from '../replicas/replicas.service';
import { datapathRef } from '../ovn/datapaths';
import { routerPortsToward } from '../ovn/router-routes';
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

/** A datapath's patch and l3gateway bindings with the binding and datapath at the other end (options:peer). */
function peersOf(sb: Rows['sb'], d: ReplicaRow): Array<{ far: ReplicaRow; dp: ReplicaRow }> {
  return sb.find('Port_Binding', 'datapath', d._uuid).flatMap((pb) => {
    const peer = ((pb.options ?? {}) as Record<string, string>).peer;
    const far = peer ? sb.find('Port_Binding', 'logical_port', peer)[0] : undefined;
    const ref = far && (Array.isArray(far.datapath) ? far.datapath[0] : far.datapath);
    const dp = typeof ref === 'string' ? sb.get('Datapath_Binding', ref) : undefined;
    return far && dp ? [{ far, dp }] : [];
  });
}

/**
 * The names of the datapaths where a packet to the port's addresses runs its first pipeline: its
 * logical switch, and, walking outward, every router that would send those addresses toward the
 * datapaths already found (its longest-prefix route for them leaves by its port there:
 * ovn/router-routes.ts) with the switches on its other ports, however many routers away (a reply
 * from the external switch of an ovn-kubernetes gateway router, or from another network's router
 * under OpenStack). Another tenant's switch holding the same address lies behind a router that
 * routes it into its own network, so the walk stops there. A port with no address is reached by no
 * router: its own switch only. The walk reads the northbound's routes; a route change rewrites
 * lr_in_ip_routing's logical flows, which bumps the model's generation the session recomputes by.
 */
function routedDatapaths(replicas: Rows, dp: ReplicaRow, ips: ReadonlySet<string>): Set<string> {
  const found = new Map([[dp._uuid, dp]]);
  const frontier = [dp];
  for (let d = frontier.pop(); d; d = frontier.pop()) {
    const fromRouter = datapathRef(d).kind === 'router';
    for (const { far, dp: next } of peersOf(replicas.sb, d)) {
      if (found.has(next._uuid)) continue;
      const ref = datapathRef(next);
      // A switch beyond a router already found hands that router every packet for the port; a router
      // must send the port's addresses out of the port it has here.
      const toward = ref.kind === 'router' ? routesInto(replicas.nb, ref.nbUuid, String(far.logical_port), ips) : fromRouter;
      if (!toward) continue;
      found.set(next._uuid, next);
      frontier.push(next);
    }
  }
  return new Set([...found.values()].flatMap((d) => datapathRef(d).name ?? []));
}

function routesInto(nb: Rows['nb'], routerUuid: string | null, port: string, ips: ReadonlySet<string>): boolean {
  const router = routerUuid ? nb.get('Logical_Router', routerUuid) : undefined;
  return !!router && ips.size > 0 && routerPortsToward(nb, router, ips).has(port);
}
