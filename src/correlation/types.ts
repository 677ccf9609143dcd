/**
 * The annotated trace: one pass of one datapath flow (or an ingested / hand-typed translation)
 * with every OpenFlow step mapped to the OVN rows that produced it. This is what storage keeps and
 * the REST API serves, so fields are only ever added (optional), never renamed.
 *
 * Cookies are `0x` + 8 lower-case hex digits; UUIDs are full and lower-case.
 */

import type { ControllerFlow, LogicalFlowSnapshot, StepHint, StepOwner } from '../ovn/types';
import type { TraceEnding } from '../ovs/trace-ending';

// The OVN model's answers embedded in a step, defined where the model is (ovn/types.ts).
export type { ControllerFlow, DatapathKind, EvpnRole, HintTable, LogicalDatapathRef, LogicalFlowSnapshot, OwnerTable, StepHint, StepOwner } from '../ovn/types';

export type TraceMethod = 'trace' | 'detrace' | 'ingested';

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
  /** No owner, a non-zero cookie, and the rule is one ovn-controller installs itself (EVPN): it never will have one. */
  readonly controllerFlow?: ControllerFlow;
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
  /** Tunnel id as sent (VNI / tun_id, hex): the datapath key with Geneve; VXLAN and STT add port keys. */
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
  /**
   * When no logical flow dropped but one of ovn-controller's own OpenFlow rules did (physical
   * tables: the loopback check of a packet whose logical outport is its inport, …): the rule.
   */
  readonly rule?: { readonly table: number; readonly owner: string | null; readonly why: string };
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
  /**
   * Every controller action of the pass only sends ovn-controller a copy to log (ACL log=true, not
   * paused): the packet's fate is the pass's other kinds (a logged drop is a drop).
   */
  readonly copy?: true;
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
  /** Datapath ports output that no logical port stands for (`2`, `br-ex`): no iface-id, and no localnet outport the pass set behind them. */
  readonly unmappedOutputs?: readonly string[];
  /**
   * Bridges whose own LOCAL port (OpenFlow port 65534, the host's interface named as the bridge) got
   * a copy: a bridge's NORMAL flood (the provider bridge's, of a broadcast or an unknown MAC), not
   * OVN's. Never a logical port's output nor in unmappedOutputs; an output kind only when OVN's
   * pipeline did not run (no logical inport or outport).
   */
  readonly bridgeLocal?: readonly string[];
  /** For `controller` (and `mixed` with a controller action): why, and which logical flow sent it. */
  readonly controller?: ControllerVerdict;
}

/** With ofproto/trace's ending (after `Datapath actions:`), as the pass read it. */
export interface AnnotatedTrace extends TraceEnding {
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
  readonly steps: readonly AnnotatedStep[];
  readonly ports: readonly TracePort[];
  readonly verdict: Verdict;
  /** Every logical flow cited by the steps, once (for the snapshot table). */
  readonly logicalFlows?: readonly LogicalFlowSnapshot[];
  /** Chassis that produced the trace. */
  readonly chassis?: string | null;
  /**
   * The localnet ports of a pass that crossed the physical network: the one it came in by (its
   * inport) and the first it output to. Stored on its datapath flow lifetime (datapath_flow.localnet_in
   * / localnet_out), so the path's hop across the network finds the other side by lifetime
   * (paths/localnet-hops.ts). Absent when neither.
   */
  readonly localnet?: LocalnetEnds;
}

export interface LocalnetEnds {
  readonly in: string | null;
  readonly out: string | null;
}
