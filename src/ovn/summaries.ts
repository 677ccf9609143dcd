// One-line descriptions of southbound owners and northbound hint rows, worded and formatted as
// ovn-detrace 23.03 prints them (so they can be compared with it), plus the rows it does not
// describe (FDB, Static_MAC_Binding, Datapath_Binding, Logical_Switch, Logical_Router). An ACL's
// match is kept whole, where ovn-detrace's `.strip('"')` would cut a closing quote off it.
import type { ReplicaRow } from '../ovsdb/replica/replica';
import type { HintTable, LogicalDatapathRef, OwnerTable } from './types';
import { pyRepr, pyStr } from './py-repr';

const str = (row: ReplicaRow, c: string): string => pyStr(row[c]);
const repr = (row: ReplicaRow, c: string): string => pyRepr(row[c]);

/** `"sw0" (0e73d171-…)`: ovn-detrace's datapath_str(); `None` when the binding has no name. */
export function datapathText(dp: Pick<LogicalDatapathRef, 'name' | 'uuid'> | null | undefined, uuid?: string): string {
  return `"${dp?.name ?? 'None'}" (${dp?.uuid ?? uuid ?? ''})`;
}

/** ovn-detrace's chassis_str(): empty for an unbound port. */
export function chassisText(chassis: ReplicaRow | undefined): string {
  if (!chassis) return '';
  return `chassis-name "${str(chassis, 'name')}", chassis-str "${str(chassis, 'hostname')}"`;
}

/** The `   * …` line ovn-detrace prints for a stage-hint row. */
export function hintSummary(table: HintTable, r: ReplicaRow): string {
  switch (table) {
    case 'ACL':
      return `ACL: ${str(r, 'direction')}, priority=${str(r, 'priority')}, match=(${String(r.match)}), ${str(r, 'action')}${r.log === true ? ' (log)' : ''}`;
    case 'DHCP_Options':
      return `DHCP Options: cidr ${str(r, 'cidr')} options (${repr(r, 'options')})`;
    case 'Forwarding_Group':
      return `Forwarding Group: name ${str(r, 'name')} vip ${str(r, 'vip')} vmac ${str(r, 'vmac')} liveness ${str(r, 'liveness')} child ports (${repr(r, 'child_port')})`;
    case 'Logical_Switch_Port':
      // No closing parenthesis: ovn-detrace prints none (on Debian 12, 13 and unstable alike), and this line
      // is compared with its line as it is (test/integration/correlation/served-text-vs-detrace.spec.ts).
      return `Logical Switch Port: ${str(r, 'name')} type ${str(r, 'type')} (addresses ${repr(r, 'addresses')}, dynamic addresses ${repr(r, 'dynamic_addresses')}, security ${repr(r, 'port_security')}`;
    case 'Logical_Router_Port':
      return `Logical Router Port: ${str(r, 'name')} mac ${str(r, 'mac')} networks ${repr(r, 'networks')} ipv6_ra_configs ${repr(r, 'ipv6_ra_configs')}`;
    case 'Logical_Router_Policy':
      return `Logical Router Policy: priority ${str(r, 'priority')} match ${str(r, 'match')} action ${str(r, 'action')} nexthop ${str(r, 'nexthop')}`;
    case 'Load_Balancer':
      return `Load Balancer: ${str(r, 'name')} protocol ${str(r, 'protocol')} vips ${repr(r, 'vips')} ip_port_mappings ${repr(r, 'ip_port_mappings')}`;
    case 'NAT':
      return `NAT: external IP ${str(r, 'external_ip')} external_mac ${str(r, 'external_mac')} logical_ip ${str(r, 'logical_ip')} logical_port ${str(r, 'logical_port')} type ${str(r, 'type')}`;
    case 'Logical_Router_Static_Route':
      return `Route: ${str(r, 'ip_prefix')} via ${str(r, 'nexthop')} (port ${str(r, 'output_port')}), policy=${str(r, 'policy')}`;
    case 'QoS':
      return `QoS: priority ${str(r, 'priority')} direction ${str(r, 'direction')} match ${str(r, 'match')} action ${repr(r, 'action')} bandwidth ${repr(r, 'bandwidth')}`;
    case 'Logical_Switch':
      return `Logical Switch: ${str(r, 'name')} (${r._uuid})`;
    case 'Logical_Router':
      return `Logical Router: ${str(r, 'name')} (${r._uuid})`;
  }
}

/** The name a hint row is known by (null for rows without one: ACL without name, NAT, routes…). */
export function hintName(table: HintTable, r: ReplicaRow): string | null {
  switch (table) {
    case 'NAT':
      return typeof r.external_ip === 'string' ? `${str(r, 'type')} ${str(r, 'external_ip')}` : null;
    case 'Logical_Router_Static_Route':
      return typeof r.ip_prefix === 'string' ? r.ip_prefix : null;
    case 'Logical_Router_Policy':
    case 'QoS':
      return typeof r.match === 'string' ? r.match : null;
    case 'DHCP_Options':
      return typeof r.cidr === 'string' ? r.cidr : null;
    default: {
      const n = r.name;
      if (typeof n === 'string') return n || null;
      if (Array.isArray(n) && n.length) return String(n[0]);
      return null;
    }
  }
}

export interface OwnerText {
  /** The `  * …` line after `Logical datapath:` (which traces/trace-text.ts adds from `datapath`). */
  readonly summary: string;
  readonly name: string | null;
}

/** Summary of a non-Logical_Flow owner, in ovn-detrace's words where it has some. */
export function ownerSummary(
  table: Exclude<OwnerTable, 'Logical_Flow'>,
  r: ReplicaRow,
  lookups: { chassis(uuid: string): ReplicaRow | undefined; portName(uuid: string): string | undefined; datapath?: LogicalDatapathRef | null },
): OwnerText {
  switch (table) {
    case 'Port_Binding': {
      const ch = ([] as unknown[]).concat(r.chassis ?? []).map((u) => lookups.chassis(String(u)))[0];
      return { name: str(r, 'logical_port'), summary: `Port Binding: logical_port "${str(r, 'logical_port')}", tunnel_key ${str(r, 'tunnel_key')}, ${chassisText(ch)}` };
    }
    case 'MAC_Binding':
      return { name: str(r, 'logical_port'), summary: `MAC Binding: ip "${str(r, 'ip')}", logical_port "${str(r, 'logical_port')}", mac "${str(r, 'mac')}"` };
    case 'Static_MAC_Binding':
      return { name: str(r, 'logical_port'), summary: `Static MAC Binding: ip "${str(r, 'ip')}", logical_port "${str(r, 'logical_port')}", mac "${str(r, 'mac')}"` };
    case 'Multicast_Group': {
      const ports = ([] as unknown[]).concat(r.ports ?? []).map(String).sort().map((u) => lookups.portName(u) ?? u);
      return { name: str(r, 'name'), summary: `Multicast Group: name "${str(r, 'name')}", tunnel_key ${str(r, 'tunnel_key')} ports: (${ports.join(', ')})` };
    }
    case 'Chassis':
      return { name: str(r, 'name'), summary: `Chassis: ${chassisText(r)}` };
    case 'Load_Balancer':
      return { name: str(r, 'name'), summary: `Load Balancer: ${str(r, 'name')} protocol ${str(r, 'protocol')} vips ${repr(r, 'vips')}` };
    case 'FDB':
      return { name: str(r, 'mac'), summary: `FDB: mac "${str(r, 'mac')}", dp_key ${str(r, 'dp_key')}, port_key ${str(r, 'port_key')}` };
    case 'Datapath_Binding':
      return { name: lookups.datapath?.name ?? null, summary: `Datapath Binding: ${datapathText(lookups.datapath, r._uuid)}, tunnel_key ${str(r, 'tunnel_key')}` };
  }
}
