// An annotated trace as the store receives it, and the JSON the API answers with. The JSON names
// are a contract outside tools rely on (issue 10): only ever add fields.
import type { AnnotatedTrace, ControllerFlow, StepHint, StepOwner, Verdict } from '../correlation/types';

export interface TraceRecordInput {
  trace: AnnotatedTrace;
  chassis: string;
  createdAt: string;
  /**
   * When the agent heard it, on its own clock, when `createdAt` is a producer's (an ingested
   * translation): retention goes by it (trace.heard_at). Absent: `createdAt` is the agent's own.
   */
  heardAt?: string | null;
  ufid?: string | null;
  datapathFlowId?: number | null;
  upcallId?: number | null;
  sessionId?: number | null;
  /** The other sessions that wanted this pass (stored once for all): trace_extra_session. */
  extraSessionIds?: readonly number[];
  pathId?: number | null;
  /** Did the trace's datapath actions equal the installed flow's? null: nothing to compare. */
  consistent?: boolean | null;
  consistentReason?: string | null;
  /** Why `trace.method` was used (e.g. the detrace reply that made the tracer trace the key instead). */
  methodReason?: string | null;
  /** Northbound Logical_Switch_Port / Logical_Router_Port UUID by port name, when known. */
  portUuids?: ReadonlyMap<string, string>;
}

export type VerdictKindJson = 'output' | 'drop' | 'controller' | 'tunnel' | 'recirculate';

/** What `?verdict=` of GET /traces and /traces/stream matches (OpenAPI; the README says the same). */
export const VERDICT_FILTER_DOC =
  "A pass whose verdict.kinds holds it; a pass can hold several (a tunnel and an output; a recirculation and the packet-in of check_pkt_len's long branch). " +
  "controller: every pass that sent ovn-controller the packet or a copy of it, with verdict.controller saying why; " +
  "a copy only logged (an ACL with log=true) has controller.copy true and keeps its fate, a logged drop is found by drop too.";

export interface VerdictJson {
  kinds: VerdictKindJson[];
  logicalPorts: string[];
  /** The logical flow that dropped the packet (uuid), when it was dropped by one. */
  logicalFlow: string | null;
  /** The northbound object behind that logical flow (e.g. the ACL). */
  northbound: StepHint | null;
  tunnels: Verdict['tunnels'];
  recircIds: string[];
  reason: string | null;
  /** Stage of the deciding logical flow (with ACL tiers: `ls_*_acl_eval`). */
  stage?: string | null;
  /** The logical flow that executed a drop another one decided (`ls_*_acl_action`). */
  executedBy?: { logicalFlow: string | null; stage: string | null };
  /** OVS ports (dpif/show names) the pass output to that no logical port stands for: a NIC with no iface-id and no localnet port behind it. */
  unmappedOutputs?: string[];
  /** Bridges whose own LOCAL port (the host's interface named as the bridge) got a copy by the bridge's NORMAL flood, not by OVN. */
  bridgeLocal?: string[];
  /**
   * Why the pass went to ovn-controller. `copy: true`: only a copy to log went there (ACL log), the
   * packet's fate is in the other kinds. Always last in the stored JSON (migration ControllerKind).
   */
  controller?: { reason: string; paused: boolean; opcode: number | null; logicalFlow: string | null; stage: string | null; northbound?: StepHint | null; copy?: true };
}

export interface LogicalPortJson {
  name: string;
  uuid: string | null;
  bindingUuid: string | null;
  datapath: string | null;
  role: string;
  scope: 'pass' | 'path';
}

export interface OwnerJson {
  table: string;
  uuid: string;
  stale: boolean;
  name?: string | null;
  summary?: string;
  /** Logical datapath of a row that is not a logical flow (Port_Binding, MAC_Binding, Multicast_Group…). */
  datapath?: { name: string | null; uuid: string } | null;
  datapaths?: Array<{ name: string | null; uuid: string; nbUuid: string | null }>;
  pipeline?: string;
  tableId?: number;
  stage?: string | null;
  priority?: number;
  match?: string;
  actions?: string;
  source?: string | null;
}

export interface StepJson {
  seq: number;
  depth: number;
  bridge: string | null;
  table: number;
  priority: number | null;
  cookie: string | null;
  match: string;
  actions: string;
  owners: OwnerJson[];
  collision: boolean;
  northbound: StepHint | null;
  /** A rule ovn-controller installs itself whose cookie no southbound row will ever own (EVPN); absent otherwise. */
  controllerFlow?: ControllerFlow;
}

export interface TraceJson {
  id: number;
  ufid: string | null;
  chassis: string;
  bridge: string | null;
  createdAt: string;
  method: string;
  /** Why this method (a fallback says what the other one answered); null when not recorded. */
  methodReason: string | null;
  recircId: string;
  flow: string;
  finalFlow: string;
  megaflow: string;
  datapathActions: string;
  consistent: boolean | null;
  consistentReason: string | null;
  pathId: number | null;
  datapathFlowId: number | null;
  sessionId: number | null;
  /** Where the pass came from (traceOrigin): a hand-typed flow is no packet the datapath saw. */
  origin: TraceOrigin;
  verdict: VerdictJson;
  logicalPorts: LogicalPortJson[];
  stepCount: number;
  steps?: StepJson[];
  warnings?: string[];
  errors?: string[];
  /** With steps: what ofproto/trace printed after `Datapath actions:` (ovs/trace-ending.ts), e.g. why the userspace slow path handles this pass. */
  translationFailed?: string | null;
  slowPath?: readonly string[];
  actionExecutionFailed?: string | null;
  /**
   * In `GET /traces?logical_port=`: this pass is the far end, on another chassis, of the port's
   * packet that pass `traceId` sent through a tunnel (paths/port-arrivals.ts).
   */
  arrivedFrom?: { traceId: number; chassis: string };
}

/**
 * `live`: the pass of a datapath flow the datapath installed (a session's, or one traced now by
 * POST /datapath-flows/:ufid/trace); `ingested`: a translation a producer sent (POST /ingest/*);
 * `hand-typed`: POST /traces, a flow someone typed, with the conntrack state they typed. Told by
 * the columns the trace already has: only POST /traces stores one with neither a UFID nor a
 * datapath flow that is not ingested.
 */
export type TraceOrigin = 'live' | 'ingested' | 'hand-typed';

export function traceOrigin(t: { method: string; ufid: string | null; datapathFlowId: number | string | null }): TraceOrigin {
  if (t.method === 'ingested') return 'ingested';
  return t.ufid === null && t.datapathFlowId === null ? 'hand-typed' : 'live';
}

/** "OVS port uplink": ports a packet left by that no logical port stands for, as the answers' text words them (web/describe.ts outputPorts for the page). */
export const ovsPortsText = (ports: readonly string[]): string => (ports.length ? `OVS port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}` : '');

/** "LOCAL port of br-phys": a bridge's own flood to the host's interface, as web/describe.ts outputPorts words it. */
export const bridgeLocalText = (bridges: readonly string[]): string => (bridges.length ? `LOCAL port of ${bridges.join(', ')}` : '');

export function verdictJson(v: Verdict): VerdictJson {
  const kinds = new Set<VerdictKindJson>();
  // An output with no logical port (a NIC without iface-id) is an output all the same (passVerdict's kinds).
  if (v.outputs.length || v.unmappedOutputs?.length) kinds.add('output');
  if (v.tunnels.length) kinds.add('tunnel');
  if (v.recircIds.length) kinds.add('recirculate');
  if (v.kind === 'drop') kinds.add('drop');
  if (v.kind === 'output') kinds.add('output');
  if (v.kind === 'tunnel') kinds.add('tunnel');
  if (v.kind === 'recirculate') kinds.add('recirculate');
  // ?verdict=controller finds every pass that sent ovn-controller the packet or a copy of it, a
  // 'mixed' one (check_pkt_len's long branch) and a logged drop or delivery too; the primary kind
  // (passOfStored) leaves a copy's 'controller' out, and the kinds before it say the fate.
  if (v.kind === 'controller' || v.controller) kinds.add('controller');
  return {
    kinds: [...kinds],
    logicalPorts: [...v.outputs],
    logicalFlow: v.dropBy?.logicalFlowUuid ?? null,
    northbound: v.dropBy?.hint ?? null,
    tunnels: v.tunnels,
    recircIds: [...v.recircIds],
    reason: v.reason ?? null,
    ...(v.dropBy ? { stage: v.dropBy.stage ?? null } : {}),
    ...(v.dropBy?.executedBy ? { executedBy: { logicalFlow: v.dropBy.executedBy.logicalFlowUuid, stage: v.dropBy.executedBy.stage } } : {}),
    ...(v.unmappedOutputs?.length ? { unmappedOutputs: [...v.unmappedOutputs] } : {}),
    ...(v.bridgeLocal?.length ? { bridgeLocal: [...v.bridgeLocal] } : {}),
    ...(v.controller
      ? {
          controller: {
            reason: v.controller.reason,
            paused: v.controller.paused,
            opcode: v.controller.opcode,
            logicalFlow: v.controller.logicalFlowUuid,
            stage: v.controller.stage,
            ...(v.controller.hint ? { northbound: v.controller.hint } : {}),
            ...(v.controller.copy ? { copy: true as const } : {}),
          },
        }
      : {}),
  };
}

/** A step's owner as the API shows it (and as the store reads back a collision's extra owners). */
export function ownerJson(o: StepOwner): OwnerJson {
  const lf = o.logicalFlow;
  if (lf) {
    return {
      table: o.table,
      uuid: o.uuid,
      stale: o.stale,
      datapaths: lf.datapaths.map((d) => ({ name: d.name, uuid: d.uuid, nbUuid: d.nbUuid })),
      pipeline: lf.pipeline,
      tableId: lf.tableId,
      stage: lf.stage,
      priority: lf.priority,
      match: lf.match,
      actions: lf.actions,
      source: lf.source,
    };
  }
  const out: OwnerJson = { table: o.table, uuid: o.uuid, stale: o.stale, name: o.name ?? null, summary: o.summary ?? '' };
  return o.datapath !== undefined ? { ...out, datapath: o.datapath && { name: o.datapath.name, uuid: o.datapath.uuid } } : out;
}
