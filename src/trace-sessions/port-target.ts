// Where a logical port is, as the live replicas say: the OVS interfaces bound to it (iface-id) and
// their datapath port numbers on this chassis, its MACs and addresses (southbound binding and
// northbound port), and the tunnel keys another chassis sees its packets by. A session on a
// logical port selects flows by these (session-selector.ts).
import type { ReplicaRow } from '../ovsdb/replica/replica';
import type { ReplicasService } from '../replicas/replicas.service';
import { datapathRef } from '../ovn/datapaths';
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
  return { name, interfaces, dpPorts, ...addrs, keys, datapaths: dp ? nearDatapaths(replicas.sb, dp) : new Set() };
}

type Sb = Pick<ReplicasService, 'sb'>['sb'];

/**
 * The names of the port's logical switch, of the routers on it and of the other datapaths on those
 * routers (a patch or l3gateway binding's options:peer): where a packet to the port's address runs
 * its first pipeline, reaching it directly or through one router. Another tenant's switch holding
 * the same address lies behind a router of its own, not here.
 */
function nearDatapaths(sb: Sb, dp: ReplicaRow): Set<string> {
  const peersOf = (d: ReplicaRow): ReplicaRow[] =>
    sb.find('Port_Binding', 'datapath', d._uuid).flatMap((pb) => {
      const peer = ((pb.options ?? {}) as Record<string, string>).peer;
      const other = peer ? sb.find('Port_Binding', 'logical_port', peer)[0] : undefined;
      const ref = other && (Array.isArray(other.datapath) ? other.datapath[0] : other.datapath);
      const row = typeof ref === 'string' ? sb.get('Datapath_Binding', ref) : undefined;
      return row ? [row] : [];
    });
  const near = [dp, ...peersOf(dp).flatMap((router) => [router, ...peersOf(router)])];
  return new Set(near.flatMap((d) => datapathRef(d).name ?? []));
}
