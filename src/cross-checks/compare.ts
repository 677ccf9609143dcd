// Live path vs ovn-trace, pipeline by pipeline, stage by stage. The live side is what the datapath
// did: the Logical_Flow owners of the OpenFlow rules each pass went through (cookie = first 8 hex
// digits of the logical flow's UUID). The simulated side is ovn-trace's stages (their `uuid` is
// the same prefix). Not differences, by design of the two tools:
//  - ovn-trace omits a stage whose flow is `1` / `next;` (may_omit_stage() in ovn-trace.c);
//  - cookie-0 OpenFlow rules (glue, conjunctions) own no logical flow: a simulated stage at a
//    logical table where the live path ran only such rules is not a difference;
//  - several logical flows with identical content yield one OpenFlow rule and one visible cookie.
import { cookieUuidPrefix, normaliseCookie } from '../ovs/ids';
import type { OwnerJson, StepJson } from '../traces';
import type { LivePass } from './microflow';
import type { OvnTraceResult, Pipeline, SimPipeline, SimStage } from './ovn-trace-parse';
import { simVerdict } from './ovn-trace-parse';
import { ClearedCtExcuser, clearedAt } from './ct-cleared';
import { alignFloodCopies, boundChassis, floodCopiesLeft, handedToLocalnet } from './fan-out';
import { checkLocalnetTags, LocalnetCheck, LocalnetTagLookup } from './vlan-tag';

export interface LivePassWithSteps extends LivePass {
  id: number;
  /** The chassis that ran the pass (a stored trace's): which ports are bound here. */
  chassis?: string;
  steps?: StepJson[];
}

/** The current southbound's logical flows with this UUID prefix (live rows and tombstones). */
export type LogicalFlowResolver = (prefix: string) => Array<{
  uuid: string;
  stale: boolean;
  pipeline: string;
  tableId: number;
  stage: string | null;
  priority: number;
  match: string;
  actions: string;
}>;

interface LiveEntry {
  tableId: number;
  ofTable: number;
  cookie: string;
  owners: OwnerJson[];
  traceId: number;
  seq: number;
}

interface LiveSegment {
  pipeline: Pipeline;
  datapath: string | null;
  entries: LiveEntry[];
  /** An egress segment's outport: the first Port_Binding after its logical flows. */
  outport: string | null;
  /** Logical tables where the live path ran cookie-0 rules only. */
  glue: Set<number>;
}

export interface LiveFlowJson {
  uuid: string;
  cookie: string;
  stale: boolean;
  stage: string | null;
  tableId: number;
  priority: number | null;
  match: string | null;
  actions: string | null;
  traceId: number;
  stepSeq: number;
}

export interface SimFlowJson {
  uuid: string | null;
  uuidPrefix: string | null;
  stage: string | null;
  tableId: number;
  priority: number | null;
  match: string | null;
  actions: string[];
  source: string | null;
  outputLine: number;
}

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
   * ctClearedByCommit (conntrack state OVS had cleared after a ct_commit and ovn-trace had not: ct-cleared.ts).
   */
  excused: Partial<Record<ExcuseReason, number[]>>;
}

export type ExcuseReason = 'omittedByOvnTrace' | 'cookie0' | 'sharedOpenflowRule' | 'noMatchBoth' | 'ctClearedByCommit';

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
    live: { kinds: string[]; logicalPorts: string[] };
    simulated: { outputs: string[]; dropped: boolean };
  };
  /** The VLAN each localnet port the packet left by was sent with, against the southbound's tag (vlan-tag.ts). */
  localnet?: LocalnetCheck[];
}

const prefixOf = (uuid: string) => uuid.slice(0, 8).toLowerCase();
// One cookie rule (ovs/ids.ts): a cookie names the UUID prefix of its whole value, never of its low
// 32 bits; only cookie 0 is glue.
const cookie8 = (c: string | null) => cookieUuidPrefix(c) ?? '00000000';
const isCookie0 = (c: string | null) => !c || normaliseCookie(c) === '0x00000000';

function liveSegments(passes: readonly LivePassWithSteps[]): LiveSegment[] {
  const segs: LiveSegment[] = [];
  const offsets = new Map<Pipeline, number>();
  let cur: LiveSegment | null = null;
  const pendingGlue: Array<{ ofTable: number; seg: LiveSegment | null }> = [];
  for (const pass of passes) {
    for (const step of pass.steps ?? []) {
      const lflows = step.owners.filter((o) => o.table === 'Logical_Flow' && o.pipeline && o.tableId !== undefined);
      if (lflows.length) {
        const o = lflows[0];
        const pipeline = o.pipeline as Pipeline;
        if (!offsets.has(pipeline)) offsets.set(pipeline, step.table - o.tableId!);
        if (!cur || cur.pipeline !== pipeline || o.tableId! < (cur.entries.at(-1)?.tableId ?? -1)) {
          cur = { pipeline, datapath: null, entries: [], outport: null, glue: new Set() };
          segs.push(cur);
        }
        if (!cur.datapath && o.datapaths?.length === 1) cur.datapath = o.datapaths[0].name;
        cur.entries.push({ tableId: o.tableId!, ofTable: step.table, cookie: cookie8(step.cookie), owners: lflows, traceId: pass.id, seq: step.seq });
      } else if (cur?.pipeline === 'egress' && cur.outport === null && step.owners.some((o) => o.table === 'Port_Binding' && o.name)) {
        cur.outport = step.owners.find((o) => o.table === 'Port_Binding' && o.name)!.name!;
      } else if (!step.owners.length && isCookie0(step.cookie)) {
        pendingGlue.push({ ofTable: step.table, seg: cur });
      }
    }
  }
  // Offsets are known only once logical flows of both pipelines were seen: map glue afterwards.
  for (const g of pendingGlue) {
    if (!g.seg) continue;
    const off = offsets.get(g.seg.pipeline);
    if (off !== undefined && g.ofTable >= off) g.seg.glue.add(g.ofTable - off);
  }
  return segs;
}

function liveJson(e: LiveEntry, resolve: LogicalFlowResolver): LiveFlowJson {
  const o = e.owners[0];
  const now = resolve(prefixOf(o.uuid)).find((r) => r.uuid === o.uuid);
  return {
    uuid: o.uuid,
    cookie: '0x' + e.cookie,
    stale: o.stale || !now || now.stale,
    stage: o.stage ?? null,
    tableId: e.tableId,
    priority: o.priority ?? null,
    match: o.match ?? null,
    actions: o.actions ?? null,
    traceId: e.traceId,
    stepSeq: e.seq,
  };
}

function simJson(s: SimStage, resolve: LogicalFlowResolver): SimFlowJson {
  const rows = s.uuid ? resolve(s.uuid).filter((r) => !r.stale) : [];
  return {
    uuid: rows.length === 1 ? rows[0].uuid : null,
    uuidPrefix: s.uuid,
    stage: s.stage,
    tableId: s.table,
    priority: s.priority,
    match: s.match,
    actions: s.actions,
    source: s.source,
    outputLine: s.line,
  };
}

const omittable = (o: OwnerJson) => o.match === '1' && o.actions === 'next;';

function explain(live: LiveFlowJson | null, sim: SimFlowJson | null, where: string): string {
  const l = live ? `logical flow ${live.cookie.slice(2)} (priority ${live.priority}, ${JSON.stringify(live.match)} → ${JSON.stringify(live.actions)})` : '';
  const s = sim?.uuidPrefix ? `logical flow ${sim.uuidPrefix} (priority ${sim.priority}, ${JSON.stringify(sim.match)} → ${JSON.stringify(sim.actions.join(' '))})` : '';
  if (live && sim?.uuidPrefix) {
    return live.stale
      ? `At ${where} the datapath ran ${l}, which is no longer in the southbound database (stale), while ovn-trace ran ${s}: ovn-controller has not applied the southbound's change.`
      : `At ${where} the datapath ran ${l} where ovn-trace ran ${s}: conntrack state, an OpenFlow rule changed by hand, or state the simulation does not see.`;
  }
  if (live && sim) return `At ${where} the datapath ran ${l}${live.stale ? ' (stale)' : ''} where ovn-trace found no logical flow (implicit drop).`;
  if (live) return `At ${where} the datapath ran ${l}${live.stale ? ' (stale: no longer in the southbound database)' : ''}, a stage ovn-trace did not visit.`;
  if (sim?.uuidPrefix) return `At ${where} ovn-trace ran ${s}, a stage the live path did not visit.`;
  return `At ${where} ovn-trace found no logical flow (implicit drop) but the live path went on.`;
}

/** passes: the live path's passes in the order the packet went through them (root first). */
export function compareWithSimulation(
  passes: readonly LivePassWithSteps[],
  liveVerdict: { kinds: string[]; logicalPorts: string[] },
  sim: OvnTraceResult,
  resolve: LogicalFlowResolver,
  tagOf?: LocalnetTagLookup,
): Comparison {
  const live = liveSegments(passes);
  const pipelines: PipelineComparison[] = [];
  const verdicts = { live: { kinds: liveVerdict.kinds, logicalPorts: liveVerdict.logicalPorts }, simulated: simVerdict(sim) };
  const diverged = (d: Divergence): Comparison => ({ result: 'diverged', divergence: d, pipelines, verdicts });
  const aligned = alignFloodCopies(sim, live);
  const simPipes = aligned.pipelines;
  const bound = boundChassis(passes);
  const chassis = passes[0]?.chassis ?? null;
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
      notCompared = {
        reason: `the packet left this chassis through a tunnel after pipeline ${i}: the rest ran on the receiving chassis`,
        pipelines: notComparedPipes(simPipes.slice(i)),
      };
      for (const p of simPipes.slice(i)) if (p.outport) handedOff.add(p.outport);
      break;
    }
    const localnet = sp && lp && (!lp.datapath || lp.datapath === sp.datapath) ? handedToLocalnet(sp, lp, { chassis, bound, liveOutputs: liveVerdict.logicalPorts }) : null;
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
          explanation: explain(lj, sj, where),
        });
      };
      const excusedByClearedCt = (liveE: LiveEntry[] | undefined) => {
        if (!(s ? s.ctCleared : clearedAt(sp.stages, t))) return false;
        const shapes = (liveE ?? []).map((e) => liveJson(e, resolve));
        if (!clearedCt.excuses(s, shapes)) return false;
        excuse(cmp, 'ctClearedByCommit', t);
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
        if (excusedByClearedCt(undefined)) continue;
        return fail(undefined);
      }
      if (l!.every((e) => e.owners.some(omittable))) {
        excuse(cmp, 'omittedByOvnTrace', t);
        continue;
      }
      if (excusedByClearedCt(l)) continue;
      return fail(l![0]);
    }
  }
  const lv = verdicts.live;
  const copies = floodCopiesLeft(aligned, { chassis, bound, kinds: lv.kinds, liveOutputs: lv.logicalPorts });
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
    if (JSON.stringify(liveOut) !== JSON.stringify(simOut)) {
      return diverged({
        pipelineIndex: Math.max(0, sim.pipelines.length - 1),
        pipeline: sim.pipelines.at(-1)?.pipeline ?? null,
        datapath: sim.pipelines.at(-1)?.datapath ?? null,
        tableId: null,
        stage: null,
        live: null,
        simulated: null,
        explanation: `Same logical flows, different ends: the live packet ${liveOut.length ? `left by ${liveOut.join(', ')}` : 'was dropped'}, ovn-trace's ${simOut.length ? `left by ${simOut.join(', ')}` : 'was dropped'}.`,
      });
    }
  }
  const vlan = tagOf ? checkLocalnetTags(passes, lv.kinds.includes('output') ? lv.logicalPorts : [], tagOf) : null;
  const localnet = vlan?.checks.length ? { localnet: vlan.checks } : {};
  if (vlan?.mismatch) {
    const last = sim.pipelines.at(-1);
    const at = { pipelineIndex: Math.max(0, sim.pipelines.length - 1), pipeline: last?.pipeline ?? null, datapath: last?.datapath ?? null, tableId: null, stage: null };
    return { ...diverged({ ...at, live: null, simulated: null, explanation: vlan.mismatch }), ...localnet };
  }
  return { result: 'match', divergence: null, pipelines, verdicts, ...(notCompared ? { notCompared } : {}), ...localnet };
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

/** Identical logical flows (other UUID, same pipeline/table/priority/match/actions) share one OpenFlow rule. */
function sharesRule(simPrefix: string, live: LiveEntry[], resolve: LogicalFlowResolver): boolean {
  const sims = resolve(simPrefix);
  return live.some((e) =>
    e.owners.some((o) =>
      sims.some((s) => s.pipeline === o.pipeline && s.tableId === o.tableId && s.priority === o.priority && s.match === o.match && s.actions === o.actions),
    ),
  );
}
