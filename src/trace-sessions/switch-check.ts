// A session's bridge and its filter's in_port, checked against this chassis's own OVS database
// before the session is stored (an api instance has no switch: each agent's own is what it traces).
import { ApiError, badRequest } from '../common/api-error';
import type { CompiledFilter } from '../ovs/of-filter';
import type { ReplicasService } from '../replicas/replicas.service';
import { tunnelDatapathPort } from './session-selector';

/** The bridge and the filter's in_port must exist in the local OVS database (not just look like names). */
export async function checkAgainstSwitch(replicas: ReplicasService, bridge: string, filter: CompiledFilter | undefined): Promise<void> {
  if (!replicas.status('ovs').synced && !(await replicas.waitSynced(5000)) && !replicas.status('ovs').synced) {
    throw new ApiError(503, 'the local OVS database is not synced yet, so bridge and in_port cannot be checked: retry in a moment');
  }
  const bridges = [...replicas.ovs.rows('Bridge')].map((b) => String(b.name));
  if (!bridges.includes(bridge)) {
    throw badRequest('bridge', `no bridge named ${JSON.stringify(bridge.slice(0, 64))} on this chassis (bridges: ${bridges.slice(0, 20).join(', ') || 'none'})`);
  }
  const port = filter?.inPort;
  if (port !== undefined && !/^\d+$/.test(port)) {
    // A datapath flow's in_port is a datapath port: a tunnel interface (ovn-hv2-0) has none of
    // its own, its packets arrive on its type's shared port (genev_sys_6081), which is no interface.
    const type = (i: Record<string, unknown>) => String(i.type ?? '');
    const ifaces = [...replicas.ovs.rows('Interface')].map((i) => ({ name: String(i.name), type: type(i), dp: tunnelDatapathPort(type(i), i.options as Record<string, string>) }));
    const tunnel = ifaces.find((i) => i.name === port && i.dp);
    if (tunnel) throw badRequest('filter', `in_port=${port}: a ${tunnel.type} tunnel interface; the datapath takes every such tunnel's packets on one port, ${tunnel.dp}, so no datapath flow has in_port=${port}: filter on in_port=${tunnel.dp}, or give a logicalPort`);
    if (!ifaces.some((i) => i.name === port || i.dp === port)) throw badRequest('filter', `in_port=${port}: no interface named ${JSON.stringify(port.slice(0, 64))} on this chassis`);
  }
}
