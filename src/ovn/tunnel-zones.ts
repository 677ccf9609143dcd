// Which logical port a VXLAN VNI's bits 12..23 name, egress or ingress, read in one availability zone's southbound.
//
// OVN >= 25.03 floods an ARP reply or ND NA reaching a transit router to every chassis of another availability zone
// (northd flood_remote; controller/physical.c physical_eval_remote_chassis_flows, table 108), and over VXLAN that
// push's VNI carries the logical INGRESS port there (put_remote_chassis_flood_encap), where any other push carries
// the egress. The sender floods to the chassis ITS southbound marks is-remote; the receiver takes it by a table-0
// flow (priority 120) per tunnel to a chassis ITS southbound marks is-remote. Each zone has its own southbound
// (ovn-ic registers the other zones' interconnection gateways there as is-remote rows, ic/ovn-ic.c
// sync_isb_gw_to_sb): in the sender's zone the receiver is the remote one, in the receiver's zone the sender. So
// the push crosses zones when either end is is-remote in the reader's southbound, and which zone the port belongs
// to tells the two readings apart.
import { OVN_MIN_MULTICAST, ovnTunnelKeys, type OvnTunnelKeys, type TunnelPush } from '../ovs/odp-tunnel';

/** A chassis as the reader's southbound knows it: this zone's, another zone's (is-remote), or no row at all. */
export type ChassisZone = 'local' | 'remote' | 'unknown';

/** The southbound answers the reading needs (OvnModel's). */
export interface ZoneLookup {
  chassisByIp(ip: string): string | null;
  chassisZone(name: string | null | undefined): ChassisZone;
  /** Whether any chassis is another zone's: without one this southbound is no interconnection's, and nothing crosses. */
  hasRemoteChassis(): boolean;
  portByKeys(datapath: number, port: number): { readonly chassis: string | null } | null;
}

export type PushEnds = Pick<TunnelPush, 'kind' | 'vni' | 'geneve' | 'remoteIp' | 'localIp'>;

/**
 * OVN's keys of a push read in the reader's southbound. `sender`: the chassis that pushed (the pass's), else the
 * push's source IP (tnl_push header, an arrival's tun_src) names it. To another zone's chassis the bits name the
 * egress when that port is bound there (a `remote` port), else they are the flood's ingress, whoever sent it. To
 * this zone's chassis from another zone's they name the egress when the port is this zone's (bound to no other
 * zone's chassis), else the ingress: a port of the sender's zone, bound to a chassis of it or with no row here
 * (ovn-ic copies only transit router ports). Between two chassis of this zone they are the egress. When the end
 * that decides has no Chassis row the bits are unreadable: no port (a chassis unknown here is no local one). A
 * local port of the sender's zone whose key this zone's router also uses would read as an egress: the
 * southbound cannot tell those apart.
 */
export function zonedTunnelKeys(sb: ZoneLookup, push: PushEnds, sender?: string | null): OvnTunnelKeys | null {
  const keys = ovnTunnelKeys(push);
  if (keys === null || push.kind !== 'vxlan' || keys.egress === null || keys.egress >= OVN_MIN_MULTICAST) return keys;
  if (!sb.hasRemoteChassis()) return keys;
  const flood = { datapath: keys.datapath, ingress: keys.egress, egress: null };
  const to = sb.chassisByIp(push.remoteIp);
  const port = sb.portByKeys(keys.datapath, keys.egress);
  const toZone = sb.chassisZone(to);
  if (toZone === 'remote') return port !== null && port.chassis === to ? keys : flood;
  const fromZone = sb.chassisZone(sender ?? (push.localIp === undefined ? null : sb.chassisByIp(push.localIp)));
  if (toZone === 'local' && fromZone === 'local') return keys;
  if (toZone === 'local' && fromZone === 'remote') return port !== null && sb.chassisZone(port.chassis) !== 'remote' ? keys : flood;
  return { datapath: keys.datapath, ingress: null, egress: null };
}
