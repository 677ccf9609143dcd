/**
 * The annotated trace: one pass of one datapath flow (or an ingested / hand-typed translation)
 * with every OpenFlow step mapped to the OVN rows that produced it. This is what storage keeps and
 * the REST API serves, so fields are only ever added (optional), never renamed.
 *
 * Cookies are `0x` + 8 lower-case hex digits; UUIDs are full and lower-case.
 */

export type TraceMethod = 'trace' | 'detrace' | 'ingested';

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

/** The northbound row a logical flow's stage-hint names. */
export interface StepHint {
  readonly table: HintTable;
  readonly uuid: string;
  readonly name: string | null;
  /** One line as ovn-detrace prints it (`ACL: from-lport, priority=1002, match=(ip4), action=(allow-related)`). */
  readonly summary: string;
}

export type StepOutcome = 'match' | 'no_match' | 'no_match_packet_in' | 'ip_fragment_drop';

export interface AnnotatedStep {
  /** 0-based order of the lookup in the pass. */
  readonly seq: number;
  /** Nesting of the lookup (0 on the main chain, +1 inside a non-tail resubmit, clone, bucket…). */
  readonly depth: number;
  readonly bridge: string | null;
  /** OpenFlow table. */
  readonly table: number;
  readonly priority: number | null;
  /** The rule's match as printed ('' for a catch-all rule). */
  readonly match: string;
  /** The step's actions as printed, one per line, joined with '\n'. */
  readonly actions: string;
  /** `0x` + 8 hex; null when no rule matched or the rule has cookie 0. */
  readonly cookie: string | null;
  readonly outcome: StepOutcome;
  /** Every southbound row owning the cookie (live and stale); empty for cookie 0 or unknown cookies. */
  readonly owners: readonly StepOwner[];
  /** True when more than one row owns the cookie: never silently reduced to one. */
  readonly collision: boolean;
  /** NB row of the (first) owning logical flow's stage-hint, null when none. */
  readonly hint: StepHint | null;
  /** Parent step (its `seq`) whose resubmit/goto led here; null for the first lookup. */
  readonly parentSeq?: number | null;
  /** The hints of every owning logical flow when a collision gives several. */
  readonly hints?: readonly StepHint[];
}

export type PortRole = 'inport' | 'outport' | 'output' | 'tunnel_in' | 'tunnel_out';

/** A logical port this pass sees. */
export interface TracePort {
  readonly logicalPort: string;
  readonly portBindingUuid: string | null;
  /** The name of the logical switch/router the port belongs to. */
  readonly datapath: string | null;
  readonly role: PortRole;
  /** Chassis name, for tunnel roles and bound ports. */
  readonly chassis?: string | null;
  /** Where it was seen (`in_port`, `reg14`, `reg15`, `output:3`, `tun_id`…), for explaining. */
  readonly via?: string;
  /** Own pass, or learned from a chained pass of the same path. */
  readonly scope?: 'pass' | 'path';
}

export type VerdictKind = 'output' | 'drop' | 'recirculate' | 'controller' | 'tunnel' | 'mixed' | 'error';

export interface TunnelTarget {
  readonly chassis: string | null;
  readonly remoteIp: string;
  /** Tunnel id (datapath key of the destination). */
  readonly tunnelId?: string;
  readonly datapath?: string | null;
  readonly outport?: string | null;
}

export interface DropCause {
  /**
   * The step that decided the drop: the last matched logical flow with `drop` (or where the pipeline
   * ended); with ACL tiers (OVN >= 23.09) the `ls_*_acl_eval` flow carrying the ACL's stage-hint.
   */
  readonly stepSeq: number;
  readonly logicalFlowUuid: string | null;
  readonly hint: StepHint | null;
  /** The deciding logical flow's stage (southbound stage-name). */
  readonly stage?: string | null;
  /** When another logical flow executed the drop (`ls_*_acl_action`): that flow. */
  readonly executedBy?: { readonly stepSeq: number; readonly logicalFlowUuid: string | null; readonly stage: string | null };
}

/** Why a pass went to ovn-controller (see correlation/controller-reason.ts). */
export interface ControllerVerdict {
  readonly reason: string;
  readonly opcode: number | null;
  readonly paused: boolean;
  readonly stepSeq: number;
  readonly logicalFlowUuid: string | null;
  readonly stage: string | null;
  /**
   * The northbound row behind it: the ACL of a reject (with ACL tiers, the one whose acl_eval flow
   * decided; the acl_action flow sent the packet), or the stage-hint of the sending flow.
   */
  readonly hint?: StepHint | null;
}

export interface Verdict {
  readonly kind: VerdictKind;
  /** Logical ports packets leave by (locally). */
  readonly outputs: readonly string[];
  readonly tunnels: readonly TunnelTarget[];
  /** Recirculation ids queued by this pass (`0x1`). */
  readonly recircIds: readonly string[];
  readonly dropBy?: DropCause;
  /** Human words for drop/error/mixed (`translation failed: …`, `ACL drop`, `no matching flow`). */
  readonly reason?: string;
  /** Raw datapath ports output that map to no logical port (`2`, `br-ex`). */
  readonly unmappedOutputs?: readonly string[];
  /** For `controller` (and `mixed` with a controller action): why, and which logical flow sent it. */
  readonly controller?: ControllerVerdict;
}

export interface AnnotatedTrace {
  readonly method: TraceMethod;
  /** The `Flow:` line. */
  readonly flow: string;
  readonly finalFlow: string;
  readonly megaflow: string;
  /** `Datapath actions:` raw text. */
  readonly datapathActions: string;
  /** First bridge of the pass. */
  readonly bridge: string | null;
  /** `0x0` for the first pass. */
  readonly recircId: string;
  /** in_port as the key names it (`1`, or `p1` / `br-int` when named). */
  readonly inPort: string | null;
  readonly warnings: readonly string[];
  readonly errors: readonly string[];
  readonly translationFailed: string | null;
  readonly steps: readonly AnnotatedStep[];
  readonly ports: readonly TracePort[];
  readonly verdict: Verdict;
  /** Every logical flow cited by the steps, once (for the snapshot table). */
  readonly logicalFlows?: readonly LogicalFlowSnapshot[];
  /** Chassis that produced the trace. */
  readonly chassis?: string | null;
}

/** A recirculation edge: the parent pass queued `recirc(recircId)`, the child ran with it. */
export interface RecircEdge {
  /** Index in `TracePath.passes`. */
  readonly parent: number;
  readonly child: number;
  readonly recircId: string;
}

export interface PathVerdict {
  /** Verdict of the packet across its passes: never `recirculate` unless the last pass is missing. */
  readonly kind: VerdictKind;
  readonly outputs: readonly string[];
  readonly tunnels: readonly TunnelTarget[];
  readonly dropBy?: DropCause & { readonly passIndex: number };
  readonly reason?: string;
  readonly controller?: ControllerVerdict;
  /** True when a recirculation has no child pass (the packet's fate is unknown after it). */
  readonly incomplete?: boolean;
  /** Why the path is incomplete (which recirculation of which pass has no pass after it). */
  readonly incompleteReason?: string;
}

/** The passes of one packet, in order, linked by recirculation edges. */
export interface TracePath {
  readonly passes: readonly AnnotatedTrace[];
  readonly edges: readonly RecircEdge[];
  readonly verdict: PathVerdict;
  /** The logical ports of every pass, deduplicated by (port, role), with scope 'path'. */
  readonly ports: readonly TracePort[];
}
