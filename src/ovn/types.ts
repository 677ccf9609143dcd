// The OVN model's vocabulary: what a cookie (southbound owners) and a stage-hint (northbound row)
// resolve to, as the annotated trace embeds them (correlation/types.ts re-exports these).
//
// Cookies are `0x` + 8 lower-case hex digits; UUIDs are full and lower-case.

/** Southbound tables whose row UUID prefix ovn-controller puts in an OpenFlow cookie. */
export type OwnerTable =
  | 'Logical_Flow'
  | 'Port_Binding'
  | 'Multicast_Group'
  | 'MAC_Binding'
  | 'Static_MAC_Binding'
  | 'FDB'
  | 'Chassis'
  | 'Load_Balancer'
  | 'Datapath_Binding';

/** Northbound tables a logical flow's `stage-hint` can name. */
export type HintTable =
  | 'ACL'
  | 'Logical_Switch_Port'
  | 'Logical_Router_Port'
  | 'NAT'
  | 'Load_Balancer'
  | 'Logical_Router_Policy'
  | 'Logical_Router_Static_Route'
  | 'QoS'
  | 'DHCP_Options'
  | 'Forwarding_Group'
  | 'Logical_Switch'
  | 'Logical_Router';

export type DatapathKind = 'switch' | 'router';

/** A logical datapath (switch or router) as the southbound Datapath_Binding describes it. */
export interface LogicalDatapathRef {
  /** Datapath_Binding UUID. */
  readonly uuid: string;
  readonly tunnelKey: number;
  /** The NB switch/router name; null when the binding names none (external_ids cleared). */
  readonly name: string | null;
  readonly kind: DatapathKind | null;
  /** The NB Logical_Switch / Logical_Router UUID (23.03 external_ids or newer nb_uuid column). */
  readonly nbUuid: string | null;
}

/** A southbound Logical_Flow as it was when the trace cited it (the snapshot kept for audits). */
export interface LogicalFlowSnapshot {
  readonly uuid: string;
  /** Stable hash (hex) of every field below except uuid; equal content, equal hash. */
  readonly contentHash: string;
  /** The flow's datapath, or every datapath of its Logical_DP_Group, ordered by UUID (as ovn-detrace lists them). */
  readonly datapaths: readonly LogicalDatapathRef[];
  readonly pipeline: 'ingress' | 'egress';
  readonly tableId: number;
  /** external_ids:stage-name (`ls_in_acl`), null when absent. */
  readonly stage: string | null;
  readonly priority: number;
  readonly match: string;
  readonly actions: string;
  /** external_ids:source (`northd.c:6591`), null when absent. */
  readonly source: string | null;
  /** external_ids:stage-hint, the NB row UUID prefix (8 hex), null when absent. */
  readonly stageHint: string | null;
  readonly externalIds: Readonly<Record<string, string>>;
}

/** A southbound row whose UUID prefix equals a step's cookie. */
export interface StepOwner {
  readonly table: OwnerTable;
  readonly uuid: string;
  /** True when the row was deleted from the SB (a tombstone): the OpenFlow rule is older than the DB. */
  readonly stale: boolean;
  /** Present only for table `Logical_Flow`. */
  readonly logicalFlow?: LogicalFlowSnapshot;
  /** For rows other than logical flows: the name ovn-detrace would print (logical_port, chassis name, …). */
  readonly name?: string | null;
  /** For rows other than logical flows: one line in ovn-detrace's words (`logical_port "lsp1", tunnel_key 1, …`). */
  readonly summary?: string;
  /** Logical datapath of a non-flow owner (Port_Binding, Multicast_Group, MAC_Binding, …) when it has one. */
  readonly datapath?: LogicalDatapathRef | null;
}

/** What an EVPN rule of ovn-controller's does (ovn/evpn-flows.ts). */
export type EvpnRole = 'from-vtep' | 'to-vtep' | 'flood-to-vteps' | 'remote-fdb' | 'fdb-learning' | 'neighbour';

/** A rule ovn-controller installs on its own with a cookie that no southbound row will ever own. */
export interface ControllerFlow {
  readonly kind: 'evpn';
  readonly role: EvpnRole;
  /** What the step is, in a few words (`EVPN neighbour 172.16.1.50 → f0:00:0f:16:10:50 (learned, not in the southbound)`). */
  readonly name: string;
  /** One line for the user: what the rule is and why its cookie names no row. */
  readonly why: string;
}

/** The northbound row a logical flow's stage-hint names. */
export interface StepHint {
  readonly table: HintTable;
  readonly uuid: string;
  readonly name: string | null;
  /** One line as ovn-detrace prints it (`ACL: from-lport, priority=1002, match=(ip4), action=(allow-related)`). */
  readonly summary: string;
}
