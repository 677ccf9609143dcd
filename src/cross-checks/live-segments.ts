// The two sides of a stage comparison (compare.ts): the live path cut into segments, one per
// pipeline of one datapath, from the Logical_Flow owners of the OpenFlow rules its passes went
// through; each side's flow as the answer shows it; and what a stage where they differ means.
import { cookieUuidPrefix, isCookieZero } from '../ovs/ids';
import type { OvnModel } from '../ovn/ovn-model';
import type { OwnerJson, StepJson } from '../traces';
import type { LivePass } from './microflow';
import type { Pipeline, SimStage } from './ovn-trace-parse';

export interface LivePassWithSteps extends LivePass {
  id: number;
  /** When the pass was traced (a stored trace's). */
  createdAt?: string;
  /** The chassis that ran the pass (a stored trace's): which ports are bound here. */
  chassis?: string;
  steps?: StepJson[];
  /** The pass's own verdict: which chassis (remote IP) its tunnel copies went to. */
  verdict?: { tunnels?: ReadonlyArray<{ chassis: string | null; remoteIp?: string }> };
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

/** The resolver over the service's southbound replica (live rows and tombstones by cookie). */
export function logicalFlowResolver(model: Pick<OvnModel, 'owners'>): LogicalFlowResolver {
  return (prefix) =>
    model
      .owners('0x' + prefix)
      .owners.filter((o) => o.logicalFlow)
      .map((o) => ({ ...o.logicalFlow!, uuid: o.uuid, stale: o.stale }));
}

export interface LiveEntry {
  tableId: number;
  ofTable: number;
  cookie: string;
  owners: OwnerJson[];
  traceId: number;
  seq: number;
}

export interface LiveSegment {
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

export const prefixOf = (uuid: string) => uuid.slice(0, 8).toLowerCase();
// One cookie rule (ovs/ids.ts): a cookie names the UUID prefix of its whole value, never of its low
// 32 bits; only cookie 0 is glue.
const cookie8 = (c: string | null) => cookieUuidPrefix(c) ?? '00000000';

export function liveSegments(passes: readonly LivePassWithSteps[]): LiveSegment[] {
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
      } else if (!step.owners.length && isCookieZero(step.cookie)) {
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

export function liveJson(e: LiveEntry, resolve: LogicalFlowResolver): LiveFlowJson {
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

export function simJson(s: SimStage, resolve: LogicalFlowResolver): SimFlowJson {
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

export const omittable = (o: OwnerJson) => o.match === '1' && o.actions === 'next;';

/** A live flow as the explanations name it: `logical flow 1a2b3c4d (priority P, "match" → "actions")`. */
export const liveFlowText = (live: LiveFlowJson) => `logical flow ${live.cookie.slice(2)} (priority ${live.priority}, ${JSON.stringify(live.match)} → ${JSON.stringify(live.actions)})`;

/** ovn-trace's flow as the explanations name it; '' for no flow (implicit drop). */
export const simFlowText = (sim: SimFlowJson | null) =>
  sim?.uuidPrefix ? `logical flow ${sim.uuidPrefix} (priority ${sim.priority}, ${JSON.stringify(sim.match)} → ${JSON.stringify(sim.actions.join(' '))})` : '';

export function explain(live: LiveFlowJson | null, sim: SimFlowJson | null, where: string): string {
  const l = live ? liveFlowText(live) : '';
  const s = simFlowText(sim);
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

/** Identical logical flows (other UUID, same pipeline/table/priority/match/actions) share one OpenFlow rule. */
export function sharesRule(simPrefix: string, live: LiveEntry[], resolve: LogicalFlowResolver): boolean {
  const sims = resolve(simPrefix);
  return live.some((e) =>
    e.owners.some((o) =>
      sims.some((s) => s.pipeline === o.pipeline && s.tableId === o.tableId && s.priority === o.priority && s.match === o.match && s.actions === o.actions),
    ),
  );
}
