// The tables and columns the service reads from each database, and no more: every column asked for
// is composed by the server and parsed here for every row (Logical_Flow's unused `tags` alone was
// 2.2 MB and 240k arrays of a 121k-flow initial sync). Anything a server's schema
// lacks (OVN's schemas change every release) is skipped with a log line, never an error.
import type { ReplicaSpec } from '../ovsdb/replica/replica';

export const SOUTHBOUND: ReplicaSpec = {
  // Southbound rows own OpenFlow cookies: keep them as tombstones after deletion so stale cookies
  // (ovn-controller lagging behind northd) still resolve.
  Logical_Flow: {
    columns: ['logical_datapath', 'logical_dp_group', 'pipeline', 'table_id', 'priority', 'match', 'actions', 'external_ids'],
    indexes: ['logical_datapath', 'logical_dp_group'],
    tombstones: true,
  },
  Logical_DP_Group: { columns: ['datapaths'], tombstones: true },
  // `type` and `nb_uuid` exist only in newer schemas (23.03 keeps them in external_ids).
  Datapath_Binding: { columns: ['tunnel_key', 'external_ids', 'type', 'nb_uuid'], indexes: ['tunnel_key'], tombstones: true },
  Port_Binding: {
    columns: ['logical_port', 'datapath', 'tunnel_key', 'type', 'chassis', 'mac', 'tag', 'options', 'external_ids', 'up'],
    indexes: ['logical_port', 'datapath', 'type'],
    tombstones: true,
  },
  Multicast_Group: { columns: ['name', 'datapath', 'tunnel_key', 'ports'], indexes: ['datapath'], tombstones: true },
  // Not `timestamp`: with MAC binding aging, ovn-controller refreshes it on every binding in use
  // (controller/mac-cache.c), an update stream a replica would take for a time it only displays.
  MAC_Binding: { columns: ['logical_port', 'ip', 'mac', 'datapath'], tombstones: true },
  Static_MAC_Binding: { columns: ['logical_port', 'ip', 'mac', 'datapath'], tombstones: true },
  FDB: { columns: ['mac', 'dp_key', 'port_key'], tombstones: true },
  // other_config:is-remote: a chassis of another availability zone (ovn-ic), whose VXLAN pushes may be floods (OvnModel.tunnelKeys).
  Chassis: { columns: ['name', 'hostname', 'external_ids', 'other_config'], indexes: ['name'], tombstones: true },
  // A tunnel's remote IP names the chassis it goes to (correlation: tunnel verdicts).
  Encap: { columns: ['type', 'ip', 'chassis_name', 'options'], indexes: ['ip'] },
  Load_Balancer: { columns: ['name', 'vips', 'protocol', 'datapaths', 'options', 'external_ids'], tombstones: true },
};

export const NORTHBOUND: ReplicaSpec = {
  ACL: { columns: ['name', 'direction', 'priority', 'match', 'action', 'log', 'severity', 'meter', 'label', 'tier', 'options', 'external_ids'] },
  Logical_Switch: { columns: ['name', 'ports', 'acls', 'load_balancer', 'load_balancer_group', 'qos_rules', 'dns_records', 'other_config', 'external_ids'], indexes: ['name', 'ports', 'acls'] },
  Logical_Switch_Port: {
    columns: ['name', 'type', 'addresses', 'dynamic_addresses', 'port_security', 'options', 'external_ids', 'tag', 'parent_name', 'enabled', 'up', 'dhcpv4_options', 'dhcpv6_options'],
    indexes: ['name'],
  },
  Logical_Router: {
    columns: ['name', 'ports', 'nat', 'load_balancer', 'load_balancer_group', 'policies', 'static_routes', 'options', 'external_ids'],
    indexes: ['name', 'ports', 'nat', 'policies', 'static_routes'],
  },
  Logical_Router_Port: { columns: ['name', 'mac', 'networks', 'ipv6_ra_configs', 'options', 'peer', 'gateway_chassis', 'ha_chassis_group', 'external_ids'], indexes: ['name'] },
  NAT: { columns: ['type', 'external_ip', 'external_mac', 'logical_ip', 'logical_port', 'external_port_range', 'options', 'external_ids'] },
  Load_Balancer: { columns: ['name', 'vips', 'protocol', 'options', 'selection_fields', 'health_check', 'ip_port_mappings', 'external_ids'], indexes: ['name'] },
  // A router's or switch's load balancers beyond its own column (nat-rewrites.ts loadBalancersOf).
  Load_Balancer_Group: { columns: ['name', 'load_balancer'] },
  Logical_Router_Policy: { columns: ['priority', 'match', 'action', 'nexthop', 'nexthops', 'options', 'external_ids'] },
  Logical_Router_Static_Route: { columns: ['ip_prefix', 'nexthop', 'output_port', 'policy', 'route_table', 'options', 'external_ids'] },
  QoS: { columns: ['priority', 'direction', 'match', 'action', 'bandwidth', 'external_ids'] },
  DHCP_Options: { columns: ['cidr', 'options', 'external_ids'] },
  Forwarding_Group: { columns: ['name', 'vip', 'vmac', 'liveness', 'child_port', 'external_ids'] },
  Port_Group: { columns: ['name', 'ports', 'acls', 'external_ids'], indexes: ['name', 'acls'] },
};

export const OPEN_VSWITCH: ReplicaSpec = {
  // other_config: vswitchd's own settings (max-idle paces the vlog source's checks).
  Open_vSwitch: { columns: ['external_ids', 'other_config', 'ovs_version', 'db_version', 'bridges', 'datapath_types'] },
  Bridge: { columns: ['name', 'ports', 'datapath_type', 'fail_mode', 'external_ids'], indexes: ['name'] },
  Port: { columns: ['name', 'interfaces', 'external_ids'], indexes: ['name'] },
  Interface: { columns: ['name', 'type', 'ofport', 'external_ids', 'options', 'admin_state', 'link_state'], indexes: ['name', 'ofport'] },
};
