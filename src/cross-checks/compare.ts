// Live path vs ovn-trace, pipeline by pipeline, stage by stage. The live side is what the datapath
// did: the Logical_Flow owners of the OpenFlow rules each pass went through (cookie = first 8 hex
// digits of the logical flow's UUID). The simulated side is ovn-trace's stages (their `uuid` is
// the same prefix). Not differences, by design of the two tools:
//  - ovn-trace omits a stage whose flow is `1` / `next;` (may_omit_stage() in ovn-trace.c);
//  - cookie-0 OpenFlow rules (glue, conjunctions) own no logical flow: a simulated stage at a
//    logical table where the live path ran only such rules is not a difference;
//  - several logical flows with identical content yield one OpenFlow rule and one visible cookie.
import type { OvnTraceResult, Pipeline, SimPipeline } from './ovn-trace-parse';
import { simVerdict } from './ovn-trace-parse';
import { ClearedCtExcuser, clearedAt } from './ct-cleared';
import { ANYTHING_DIFFERS, findTie, Tie } from './tie';
import { alignFloodCopies, BoundOn, boundChassis, floodCopiesLeft, handedToLocalnet, missedWhy, tunnelCarries, TunnelEnd, tunnelsText } from './fan-out';
import { checkLocalnetTags, LocalnetCheck, SouthboundPortLookup } from './vlan-tag';
import { learnedBindingExplanation, MacBindingLookup } from './learned-binding';
import { unreadBindingExplanation } from './unread-binding';
import { explain, LiveEntry, LiveFlowJson, liveJson, LivePassWithSteps, liveSegments, LogicalFlowResolver, omittable, prefixOf, sharesRule, SimFlowJson, simJson } from './live-segments';
import { ovsPortsText } from '../traces';

export type { LiveFlowJson, LivePassWithSteps, LogicalFlowResolver, SimFlowJson } from './live-segments';
export type { Tie } from './tie';

export interface Divergence {
  pipelineIndex: number;
  pipeline: Pipeline | null;
  datapath: string | null;
  tableId: number | null;
  stage: string | null;
  live: LiveFlowJson | null;
  simulated: SimFlowJson | null;
  explanation: string;
}

export interface PipelineComparison {
  pipeline: Pipeline;
  datapath: string | null;
  /** ovn-trace's outport of an egress pipeline. */
  outport?: string;
  simulatedStages: number;
  liveStages: number;
  matched: number;
  /**
   * Logical tables not counted as differences, by why: omittedByOvnTrace, cookie0, sharedOpenflowRule, noMatchBoth,
   * ctClearedByCommit (conntrack state OVS had cleared after a ct_commit and ovn-trace had not: ct-cleared.ts),
   * equalPriorityTie (two flows of one priority both matched and OVS ran the other one: tie.ts, listed in
   * Comparison.ties) and followsTie (a later table differing only through what the tied flows did differently).
   */
  excused: Partial<Record<ExcuseReason, number[]>>;
}

export type ExcuseReason = 'omittedByOvnTrace' | 'cookie0' | 'sharedOpenflowRule' | 'noMatchBoth' | 'ctClearedByCommit' | 'equalPriorityTie' | 'followsTie';

function excuse(cmp: PipelineComparison, reason: ExcuseReason, tableId: number): void {
  (cmp.excused[reason] ??= []).push(tableId);
}

export interface Comparison {
  result: 'match' | 'diverged';
  divergence: Divergence | null;
  pipelines: PipelineComparison[];
  /**
   * ovn-trace's pipelines past the live path's end when the packet left this chassis through a
   * tunnel: they run on the receiving chassis (the egress of the switch whose port is there, and
   * anything after), which a one-chassis path has no pass of. Absent otherwise.
   */
  notCompared?: { reason: string; pipelines: Array<{ pipeline: Pipeline; datapath: string; outport?: string }> };
  verdicts: {
    live: LiveVerdict;
    simulated: { outputs: string[]; dropped: boolean };
  };
  /** The VLAN each localnet port the packet left by was sent with, against the southbound's tag (vlan-tag.ts). */
  localnet?: LocalnetCheck[];
  /** Stages where two equal-priority flows both matched and OVS and ovn-trace each ran another (tie.ts). Absent when none. */
  ties?: Tie[];
}

/** The path's verdict (paths/path-verdict.ts) as far as the compare reads it. */
export interface LiveVerdict {
  kinds: string[];
  logicalPorts: string[];
  /** OVS ports the packet left by that no logical port stands for (an uplink with no localnet port). */
  unmappedOutputs?: string[];
}

/** Where the live packet ended, for the last message: the ports it left by, logical or OVS, or dropped. */
function liveEnd(logical: readonly string[], unmapped: readonly string[]): string {
  const by = [...(logical.length ? [logical.join(', ')] : []), ...(unmapped.length ? [`${ovsPortsText(unmapped)} (no logical port)`] : [])];
  return by.length ? `left by ${by.join(' and ')}` : 'was dropped';
}

/** passes: the live path's passes in the order the packet went through them (root first). */
export function compareWithSimulation(
  passes: readonly LivePassWithSteps[],
  liveVerdict: LiveVerdict,
  sim: OvnTraceResult,
  resolve: LogicalFlowResolver,
  portOf?: SouthboundPortLookup,
  macBindings?: MacBindingLookup,
): Comparison {
  const live = liveSegments(passes);
  const tracedAt = (id: number) => passes.find((p) => p.id === id)?.createdAt;
  const pipelines: PipelineComparison[] = [];
  const unmapped = liveVerdict.unmappedOutputs?.length ? { unmappedOutputs: liveVerdict.unmappedOutputs } : {};
  const verdicts = { live: { kinds: liveVerdict.kinds, logicalPorts: liveVerdict.logicalPorts, ...unmapped }, simulated: simVerdict(sim) };
  const ties: Tie[] = [];
  const tiesJson = () => (ties.length ? { ties } : {});
  const diverged = (d: Divergence): Comparison => ({ result: 'diverged', divergence: d, pipelines, verdicts, ...tiesJson() });
  const aligned = alignFloodCopies(sim, live);
  const simPipes = aligned.pipelines;
  const bound = boundChassis(passes, portOf);
  const chassis = passes[0]?.chassis ?? null;
  const tunnelsTo = passes.flatMap((p) => p.verdict?.tunnels ?? []);
  const n = Math.max(live.length, simPipes.length);
  const clearedCt = new ClearedCtExcuser();
  const notComparedPipes = (ps: SimPipeline[]) => ps.map((p) => ({ pipeline: p.pipeline, datapath: p.datapath, ...(p.outport ? { outport: p.outport } : {}) }));
  let notCompared: Comparison['notCompared'];
  // Ports ovn-trace output to whose egress ran elsewhere, and the live ports that stood in for them here.
  const handedOff = new Set<string>();
  const standIns = new Set<string>();
  for (let i = 0; i < n; i++) {
    const sp = simPipes[i];
    const lp = live[i];
    if (!lp && i > 0 && liveVerdict.kinds.includes('tunnel')) {
      const stray = notCarried(sp, bound, tunnelsTo);
      if (stray) return diverged({ pipelineIndex: i, ...stray, live: null, simulated: sp.stages[0] ? simJson(sp.stages[0], resolve) : null, tableId: sp.stages[0]?.table ?? null, stage: sp.stages[0]?.stage ?? null });
      notCompared = {
        reason: `the packet left this chassis through a tunnel after pipeline ${i}: the rest ran on the receiving chassis`,
        pipelines: notComparedPipes(simPipes.slice(i)),
      };
      for (const p of simPipes.slice(i)) if (p.outport) handedOff.add(p.outport);
      break;
    }
    const localnet = sp && lp && (!lp.datapath || lp.datapath === sp.datapath) ? handedToLocalnet(sp, lp, { chassis, bound, liveOutputs: liveVerdict.logicalPorts, southbound: portOf }) : null;
    if (localnet) {
      notCompared = { reason: localnet, pipelines: notComparedPipes(simPipes.slice(i)) };
      handedOff.add(sp.outport!);
      standIns.add(lp.outport!);
      break;
    }
    if (!sp || !lp || sp.pipeline !== lp.pipeline || (lp.datapath && lp.datapath !== sp.datapath)) {
      const name = (p: { pipeline: string; datapath: string | null } | undefined) => (p ? `${p.pipeline}(dp=${JSON.stringify(p.datapath)})` : 'nothing');
      const liveFirst = lp?.entries[0] ? liveJson(lp.entries[0], resolve) : null;
      const simFirst = sp?.stages[0] ? simJson(sp.stages[0], resolve) : null;
      return diverged({
        pipelineIndex: i,
        pipeline: sp?.pipeline ?? lp?.pipeline ?? null,
        datapath: sp?.datapath ?? lp?.datapath ?? null,
        tableId: simFirst?.tableId ?? liveFirst?.tableId ?? null,
        stage: simFirst?.stage ?? liveFirst?.stage ?? null,
        live: liveFirst,
        simulated: simFirst,
        explanation: `Pipeline ${i + 1}: ovn-trace went through ${name(sp)}, the live path through ${name(lp)}.`,
      });
    }
    const cmp: PipelineComparison = { pipeline: sp.pipeline, datapath: sp.datapath, ...(sp.outport ? { outport: sp.outport } : {}), simulatedStages: sp.stages.length, liveStages: 0, matched: 0, excused: {} };
    pipelines.push(cmp);
    const liveBy = new Map<number, LiveEntry[]>();
    for (const e of lp.entries) liveBy.set(e.tableId, [...(liveBy.get(e.tableId) ?? []), e]);
    cmp.liveStages = liveBy.size;
    const simBy = new Map(sp.stages.map((s) => [s.table, s]));
    const lastLive = Math.max(-1, ...lp.entries.map((e) => e.tableId));
    const tables = [...new Set([...simBy.keys(), ...liveBy.keys()])].sort((a, b) => a - b);
    // This pipeline's ties, each with what its two flows did differently (registers are per pipeline).
    const tied: Array<{ tie: Tie; after: ClearedCtExcuser | null; untracked: boolean }> = [];
    for (const t of tables) {
      const s = simBy.get(t);
      const l = liveBy.get(t);
      const where = `${sp.pipeline}(dp=${JSON.stringify(sp.datapath)}) table ${t}${(s?.stage ?? l?.[0].owners[0].stage) ? ` (${s?.stage ?? l![0].owners[0].stage})` : ''}`;
      const fail = (liveE: LiveEntry | undefined) => {
        const lj = liveE ? liveJson(liveE, resolve) : null;
        const sj = s ? simJson(s, resolve) : null;
        return diverged({
          pipelineIndex: i,
          pipeline: sp.pipeline,
          datapath: sp.datapath,
          tableId: t,
          stage: s?.stage ?? lj?.stage ?? null,
          live: lj,
          simulated: sj,
          explanation:
            (lj && macBindings ? learnedBindingExplanation({ where, datapath: sp.datapath }, lj, sj, sim.flow, macBindings, tracedAt(liveE!.traceId)) : null) ??
            unreadBindingExplanation({ where, pipeline: sp.pipeline, datapath: sp.datapath, tableId: t }, passes, sp, lj, sj) ??
            explain(lj, sj, where),
        });
      };
      const excusedByClearedCt = (liveE: LiveEntry[] | undefined) => {
        if (!(s ? s.ctCleared : clearedAt(sp.stages, t))) return false;
        const shapes = (liveE ?? []).map((e) => liveJson(e, resolve));
        if (!clearedCt.excuses(s, shapes)) return false;
        excuse(cmp, 'ctClearedByCommit', t);
        return true;
      };
      const excusedByTie = (liveE: LiveEntry[] | undefined) => {
        const shapes = (liveE ?? []).map((e) => liveJson(e, resolve));
        const by = [...tied].reverse().find((x) => x.after?.excuses(s, shapes));
        if (!by) return false;
        by.tie.followedBy.push(t);
        excuse(cmp, 'followsTie', t);
        return true;
      };
      if (s && l) {
        if (s.uuid && l.some((e) => e.cookie === s.uuid || e.owners.some((o) => prefixOf(o.uuid) === s.uuid))) {
          cmp.matched++;
          continue;
        }
        if (s.uuid && sharesRule(s.uuid, l, resolve)) {
          excuse(cmp, 'sharedOpenflowRule', t);
          continue;
        }
        if (excusedByClearedCt(l)) continue;
        const tie = findTie({ pipelineIndex: i, pipeline: sp.pipeline, datapath: sp.datapath, tableId: t, where }, l, s, resolve, [clearedCt, ...tied.flatMap((x) => (x.untracked ? [ANYTHING_DIFFERS] : (x.after ?? [])))]);
        if (tie) {
          ties.push(tie.tie);
          tied.push(tie);
          excuse(cmp, 'equalPriorityTie', t);
          continue;
        }
        if (excusedByTie(l)) continue;
        return fail(l[0]);
      }
      if (s) {
        if (lp.glue.has(t)) {
          excuse(cmp, 'cookie0', t);
          continue;
        }
        if (!s.uuid && t > lastLive && i === n - 1) {
          excuse(cmp, 'noMatchBoth', t);
          continue;
        }
        if (excusedByClearedCt(undefined) || excusedByTie(undefined)) continue;
        return fail(undefined);
      }
      if (l!.every((e) => e.owners.some(omittable))) {
        excuse(cmp, 'omittedByOvnTrace', t);
        continue;
      }
      if (excusedByClearedCt(l) || excusedByTie(l)) continue;
      return fail(l![0]);
    }
  }
  const lv = verdicts.live;
  const copies = floodCopiesLeft(aligned, { chassis, bound, kinds: lv.kinds, liveOutputs: lv.logicalPorts, tunnelsTo });
  if ('missing' in copies) {
    const first = copies.missing.pipelines[0];
    const sj = first.stages[0] ? simJson(first.stages[0], resolve) : null;
    const at = { pipelineIndex: copies.missing.firstIndex, pipeline: first.pipeline, datapath: first.datapath, tableId: sj?.tableId ?? null, stage: sj?.stage ?? null };
    return diverged({ ...at, live: null, simulated: sj, explanation: copies.explanation });
  }
  for (const port of copies.handedOff) handedOff.add(port);
  if (copies.reason) {
    notCompared = {
      reason: notCompared ? `${notCompared.reason}; ${copies.reason}` : copies.reason,
      pipelines: [...(notCompared?.pipelines ?? []), ...notComparedPipes(aligned.unmatched.flatMap((c) => c.pipelines))],
    };
  }
  // A tunnel's copies are named by notCompared; the ports left here are still compared with ovn-trace's.
  const comparable = lv.kinds.every((k) => ['output', 'drop', 'recirculate', 'tunnel'].includes(k));
  if (comparable) {
    const liveOut = lv.kinds.includes('output') ? [...new Set(lv.logicalPorts)].filter((x) => !standIns.has(x)).sort() : [];
    const simOut = verdicts.simulated.outputs.filter((x) => !handedOff.has(x)).sort();
    const liveUnmapped = lv.kinds.includes('output') ? [...new Set(lv.unmappedOutputs ?? [])].sort() : [];
    if (JSON.stringify(liveOut) !== JSON.stringify(simOut)) {
      return diverged({
        pipelineIndex: Math.max(0, sim.pipelines.length - 1),
        pipeline: sim.pipelines.at(-1)?.pipeline ?? null,
        datapath: sim.pipelines.at(-1)?.datapath ?? null,
        tableId: null,
        stage: null,
        live: null,
        simulated: null,
        explanation: `Same logical flows, different ends: the live packet ${liveEnd(liveOut, liveUnmapped)}, ovn-trace's ${simOut.length ? `left by ${simOut.join(', ')}` : 'was dropped'}.`,
      });
    }
  }
  const vlan = portOf ? checkLocalnetTags(passes, lv.kinds.includes('output') ? lv.logicalPorts : [], portOf) : null;
  const localnet = vlan?.checks.length ? { localnet: vlan.checks } : {};
  if (vlan?.mismatch) {
    const last = sim.pipelines.at(-1);
    const at = { pipelineIndex: Math.max(0, sim.pipelines.length - 1), pipeline: last?.pipeline ?? null, datapath: last?.datapath ?? null, tableId: null, stage: null };
    return { ...diverged({ ...at, live: null, simulated: null, explanation: vlan.mismatch }), ...localnet };
  }
  return { result: 'match', divergence: null, pipelines, verdicts, ...(notCompared ? { notCompared } : {}), ...localnet, ...tiesJson() };
}

/**
 * The first pipeline a tunnel handed to the receiver runs the egress to ovn-trace's outport there: a
 * difference when no tunnel went to the chassis that port is bound on (fan-out.ts's rule for flood copies).
 */
function notCarried(sp: SimPipeline, bound: BoundOn, tunnelsTo: readonly TunnelEnd[]): { pipeline: Pipeline; datapath: string; explanation: string } | null {
  if (!sp.outport) return null;
  const at = bound(sp.outport);
  if (!at || tunnelCarries(at, tunnelsTo)) return null;
  return {
    pipeline: sp.pipeline,
    datapath: sp.datapath,
    explanation:
      `ovn-trace sent the packet to "${sp.outport}" (bound on ${at}) (${sp.pipeline}(dp=${JSON.stringify(sp.datapath)}, outport=${JSON.stringify(sp.outport)})); ` +
      `the live path sent it by a tunnel to ${tunnelsText(tunnelsTo)}, none to ${at}: ${missedWhy(at, tunnelsTo)}.`,
  };
}

/**
 * Whether a divergence sits where a live path with passes missing has nothing to compare: its live
 * side ran out (ovn-trace went on), or its first pipeline is not ovn-trace's (a pass missing at its
 * start, as an arrival whose sender was not traced begins in a later pipeline). Only an incomplete
 * path's divergence may be explained so; a stage where both ran a flow stands, and so does a later
 * pipeline both went through and differ on (passes missing at the end leave the live side short,
 * they do not change a pipeline it has).
 */
export function explainedByMissingPasses(c: Comparison): boolean {
  const d = c.divergence;
  return !!d && (d.live === null || (d.pipelineIndex === 0 && c.pipelines.length === 0));
}

