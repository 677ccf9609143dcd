// The one verdict of a packet's path: where the packet finally went, or which logical flow and
// northbound object dropped it, or why it went to ovn-controller, and whether passes are missing.
// The tracer stores it as passes arrive (path-state.ts) and readers recompute it from stored
// passes (path-builder.ts) with this same function, so both give the same answer.
import type { AnnotatedTrace, Verdict, VerdictKind } from '../correlation/types';
import { recircIdHex } from '../ovs/ids';
import { replayQueue } from '../ovs/trace-passes';
import type { VerdictJson } from '../traces';

/** What a path needs of a pass: its ports and verdict (not its steps: memory grows with live flows). */
export type PassSummary = Pick<AnnotatedTrace, 'ports' | 'verdict'>;

export const summarise = (t: PassSummary): PassSummary => ({ ports: t.ports, verdict: t.verdict });

/** One pass of a path, as the verdict reads it. */
export interface VerdictPass {
  traceId: number;
  /** The recirc_id the pass's datapath flow matched (0: the packet's first pass). */
  recircId: number;
  pass: PassSummary;
  /** A hand-typed flow's pass (edge-order.ts OrderedPass.queued): what it queued, each entry one pass. */
  queued?: readonly number[];
}

export interface StoredPathVerdict {
  kinds: string[];
  logicalPorts: string[];
  /** Where the packet left by an OVS port no logical port stands for (dpif/show names): it left the datapath all the same. */
  unmappedOutputs?: string[];
  /** Bridges whose own LOCAL port got a copy by the bridge's NORMAL flood (correlation Verdict.bridgeLocal): the host's, not OVN's. */
  bridgeLocal?: string[];
  /** The logical flow that decided a drop (with ACL tiers: the `ls_*_acl_eval` flow of the ACL). */
  logicalFlow: string | null;
  /** Its stage (southbound stage-name). */
  stage?: string | null;
  /** The northbound row behind that flow (the ACL…). */
  northbound: unknown;
  /** When another logical flow executed the drop (`ls_*_acl_action`): that flow and its stage. */
  executedBy?: { logicalFlow: string | null; stage: string | null };
  /** Why the packet was dropped when no logical flow says it (the dropping pass's reason: an OpenFlow rule of ovn-controller's). */
  dropReason?: string;
  /** Why the packet went to ovn-controller (ARP resolution, ICMP error, …). */
  controller?: { reason: string; paused: boolean; opcode: number | null; logicalFlow: string | null; stage: string | null; northbound?: unknown; traceId: number };
  passes: number;
  /** A recirculation whose next pass has not been traced (yet). */
  incomplete: boolean;
  /** Which recirculation of which pass has no pass after it, and what that can mean. */
  incompleteReason?: string;
  dropTraceId: number | null;
}

/** A pass's recirc id in a message; a stored one that is not an id (bad ingested text) is shown as is, never thrown on. */
const shown = (n: number): string => (Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? recircIdHex(n) : String(n));

/** The path's verdict; `passes` in edge order (edge-order.ts): the first drop and controller pass are the packet's first. */
export function pathVerdict(passes: readonly VerdictPass[]): StoredPathVerdict {
  const drop = passes.find((x) => x.pass.verdict.kind === 'drop');
  const outputs = [...new Set(passes.flatMap((x) => x.pass.verdict.outputs))];
  const unmapped = [...new Set(passes.flatMap((x) => x.pass.verdict.unmappedOutputs ?? []))];
  const bridgeLocal = [...new Set(passes.flatMap((x) => x.pass.verdict.bridgeLocal ?? []))];
  const kinds = new Set<string>();
  for (const x of passes) {
    const v = x.pass.verdict;
    // A pass whose one output is a bridge's LOCAL port, OVN's pipeline not having run, is 'output' too.
    if (v.outputs.length || v.unmappedOutputs?.length || v.kind === 'output') kinds.add('output');
    if (v.tunnels.length) kinds.add('tunnel');
    if (v.kind === 'drop') kinds.add('drop');
    if (v.kind === 'controller') kinds.add('controller');
  }
  const have = new Set(passes.map((x) => x.recircId));
  const missing: string[] = [];
  const noPass = (x: VerdictPass, r: string) => `recirculation ${r} queued by trace ${x.traceId} (recirc_id ${shown(x.recircId)}) has no pass in the path`;
  for (const x of passes) {
    if (x.queued) continue;
    for (const r of x.pass.verdict.recircIds) if (!have.has(Number(r))) missing.push(noPass(x, r));
  }
  // A hand-typed flow's passes are ofproto/trace's queue, in trace id order: an entry no pass took is
  // missing even when its id has a pass (an id queued again by that pass, up to the recirculation limit).
  const simulated = passes.filter((x) => x.queued).sort((a, b) => a.traceId - b.traceId);
  for (const e of replayQueue(simulated.map((x) => ({ recircId: x.recircId, queued: x.queued! }))).untaken) missing.push(noPass(simulated[e.by], shown(e.id)));
  // A packet's path starts with its recirc_id 0 pass: without it the passes found are the tail of
  // a packet whose earlier passes were not linked to them (or not traced).
  if (passes.length && !have.has(0)) {
    const first = passes[0];
    missing.push(`no first pass (recirc_id 0): the pass of trace ${first.traceId} (recirc_id ${shown(first.recircId)}) has no parent in the path`);
  }
  const incomplete = missing.length > 0;
  if (!kinds.size) kinds.add('recirculate');
  const by = drop?.pass.verdict.dropBy;
  const ctl = passes.find((x) => x.pass.verdict.controller);
  const c = ctl?.pass.verdict.controller;
  return {
    kinds: [...kinds],
    logicalPorts: outputs,
    ...(unmapped.length ? { unmappedOutputs: unmapped } : {}),
    ...(bridgeLocal.length ? { bridgeLocal } : {}),
    logicalFlow: by?.logicalFlowUuid ?? null,
    ...(by ? { stage: by.stage ?? null } : {}),
    northbound: by?.hint ?? null,
    ...(by?.executedBy ? { executedBy: { logicalFlow: by.executedBy.logicalFlowUuid, stage: by.executedBy.stage } } : {}),
    ...(drop?.pass.verdict.reason ? { dropReason: drop.pass.verdict.reason } : {}),
    ...(c && ctl
      ? { controller: { reason: c.reason, paused: c.paused, opcode: c.opcode, logicalFlow: c.logicalFlowUuid, stage: c.stage, ...(c.hint ? { northbound: c.hint } : {}), traceId: ctl.traceId } }
      : {}),
    passes: passes.length,
    incomplete,
    ...(incomplete
      ? {
          incompleteReason:
            `${missing.join('; ')} (a pass not traced yet, idle and gone before it was traced, or whose key does not fit ` +
            'the packet its parent sent)',
        }
      : {}),
    dropTraceId: drop?.traceId ?? null,
  };
}

/** The packet's fate is known: no recirculation waits for its pass and some pass decided. */
export function isComplete(v: StoredPathVerdict): boolean {
  return !v.incomplete && !(v.kinds.length === 1 && v.kinds[0] === 'recirculate');
}

/** A pass as stored (its verdict JSON) back into what a path needs, to recompute a path verdict on read. */
export function passOfStored(v: VerdictJson): PassSummary {
  // A log copy's 'controller' (trace-record.ts verdictJson) is no part of the pass's fate.
  const kinds = (v.kinds as string[]).filter((k) => k !== 'controller' || !v.controller?.copy);
  const kind: VerdictKind = kinds.includes('drop')
    ? 'drop'
    : kinds.includes('controller') && kinds.length === 1
      ? 'controller'
      : kinds.length === 1
        ? (kinds[0] as VerdictKind)
        : 'mixed';
  const verdict: Verdict = {
    kind,
    outputs: v.logicalPorts,
    tunnels: v.tunnels ?? [],
    recircIds: v.recircIds ?? [],
    ...(v.unmappedOutputs?.length ? { unmappedOutputs: v.unmappedOutputs } : {}),
    ...(v.bridgeLocal?.length ? { bridgeLocal: v.bridgeLocal } : {}),
    ...(v.reason ? { reason: v.reason } : {}),
    ...(kinds.includes('drop')
      ? {
          dropBy: {
            stepSeq: -1,
            logicalFlowUuid: v.logicalFlow,
            hint: v.northbound,
            stage: v.stage ?? null,
            ...(v.executedBy ? { executedBy: { stepSeq: -1, logicalFlowUuid: v.executedBy.logicalFlow, stage: v.executedBy.stage } } : {}),
          },
        }
      : {}),
    ...(v.controller
      ? {
          controller: {
            reason: v.controller.reason,
            paused: v.controller.paused,
            opcode: v.controller.opcode,
            stepSeq: -1,
            logicalFlowUuid: v.controller.logicalFlow,
            stage: v.controller.stage,
            ...(v.controller.northbound ? { hint: v.controller.northbound } : {}),
            ...(v.controller.copy ? { copy: true as const } : {}),
          },
        }
      : {}),
  };
  return { ports: [], verdict };
}
