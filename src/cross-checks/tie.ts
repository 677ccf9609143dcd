// Two logical flows of one stage at one priority that both match the packet: which one applies is
// undefined (ovn-sb(5), Logical_Flow's priority). OVS runs whichever OpenFlow rule its classifier
// meets first, and ovn-trace whichever its sort of the southbound rows leaves first (compare_flow in
// ovn-trace.c: "Otherwise who cares"); both depend on the rows' UUIDs and install order, not on the
// packet, so they can differ from run to run and from each other. ovn-northd emits such overlaps:
// ls_out_pre_lb's `eth.mcast → next;` and, for a router port, `ip && outport == "sw0-lr0" → ct_clear;
// next;`, both at 110 (build_pre_lb, skip_port_from_conntrack in northd.c), which an IP broadcast's
// copy to the router port matches. Where the live path ran X and ovn-trace Y at one table and the
// southbound gives them the same priority, the two broke a tie differently. X held for the datapath's
// packet (OVS ran it) and Y for ovn-trace's, the same packet as long as nothing before differed in
// state: neither match may test conntrack state, nor read a register an excused stage wrote otherwise.
import type { Pipeline, SimStage } from './ovn-trace-parse';
import { assigned, ClearedCtExcuser, testsConntrack } from './ct-cleared';
import { LiveEntry, LiveFlowJson, liveFlowText, liveJson, LogicalFlowResolver, prefixOf, SimFlowJson, simFlowText, simJson } from './live-segments';

export interface Tie {
  pipelineIndex: number;
  pipeline: Pipeline;
  datapath: string;
  tableId: number;
  stage: string | null;
  priority: number;
  live: LiveFlowJson;
  simulated: SimFlowJson;
  /** Later tables of the pipeline that differ only through what the two flows' actions did differently. */
  followedBy: number[];
  explanation: string;
}

/** Top-level statements of a logical flow's actions (`clone { igmp; }; next;` is two). */
function statements(actions: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of actions) {
    if (ch === '{') depth++;
    if (ch === '}') depth--;
    if (ch === ';' && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** a's statements that b lacks, each counted as often as it occurs. */
function without(a: string[], b: string[]): string[] {
  const rest = [...b];
  return a.filter((x) => {
    const i = rest.indexOf(x);
    if (i >= 0) rest.splice(i, 1);
    return i < 0;
  });
}

const ASSIGNMENT = /^(?:x{0,2}reg\d+|flags)(?:\.\w+)?(?:\[\d+(?:\.\.\d+)?\])?\s*=(?!=)/;

/**
 * What the rest of the pipeline can see otherwise after the tie, as an excuser of the differences it
 * explains (ct-cleared.ts): registers or flags one flow wrote and the other did not (or wrote
 * otherwise), and conntrack state when only the live flow ran ct_clear (the datapath's packet
 * untracked, ovn-trace's not). Any other difference in what they did (another next, an output, a
 * packet field rewritten, a ct action…) explains nothing ('other'), and a later difference diverges; null when
 * they did the same.
 */
function effects(liveActions: string, simActions: string): { excuser: ClearedCtExcuser; differ: string[] } | null | 'other' {
  const l = statements(liveActions);
  const s = statements(simActions);
  const liveOnly = without(l, s);
  const simOnly = without(s, l);
  const tainted: string[] = [];
  let ctCleared = false;
  for (const [st, live] of [...liveOnly.map((x) => [x, true] as const), ...simOnly.map((x) => [x, false] as const)]) {
    if (st === 'ct_clear' && live) ctCleared = true;
    else if (ASSIGNMENT.test(st)) tainted.push(...assigned(st));
    else return 'other';
  }
  if (!ctCleared && !tainted.length) return null;
  return { excuser: new ClearedCtExcuser({ tainted, ctCleared }), differ: [...new Set([...(ctCleared ? ['conntrack state'] : []), ...tainted])] };
}

/** After a tie whose flows did otherwise (untracked): any match may read what differs. */
export const ANYTHING_DIFFERS = { reads: (_match: string) => true };

export interface TieAt {
  pipelineIndex: number;
  pipeline: Pipeline;
  datapath: string;
  tableId: number;
  where: string;
}

/**
 * The tie at a table where the live path ran `live` and ovn-trace `sim`, or null when it is not one.
 * earlier: what stages excused before this one wrote otherwise (a match reading it is no tie).
 * untracked in the answer: the two flows did more than excused writes (fx 'other'): the packets may
 * differ in anything after, so no later stage of the pipeline is a tie (the caller's `earlier` then
 * reads every match: ANYTHING_DIFFERS).
 */
export function findTie(
  at: TieAt,
  live: readonly LiveEntry[],
  sim: SimStage,
  resolve: LogicalFlowResolver,
  earlier: ReadonlyArray<{ reads(match: string): boolean }>,
): { tie: Tie; after: ClearedCtExcuser | null; untracked: boolean } | null {
  if (!sim.uuid || sim.ctCleared) return null;
  const ys = resolve(sim.uuid).filter((r) => !r.stale && r.pipeline === at.pipeline && r.tableId === at.tableId);
  if (ys.length !== 1) return null;
  const y = ys[0];
  const unsure = (match: string) => testsConntrack(match) || earlier.some((e) => e.reads(match));
  for (const e of live) {
    const lj = liveJson(e, resolve);
    const x = resolve(prefixOf(lj.uuid)).find((r) => r.uuid === lj.uuid && !r.stale);
    if (lj.stale || !x || x.pipeline !== y.pipeline || x.tableId !== y.tableId || x.priority !== y.priority || x.uuid === y.uuid) continue;
    if (unsure(x.match) || unsure(y.match)) continue;
    const sj = simJson(sim, resolve);
    const fx = effects(x.actions, y.actions);
    const explanation =
      `At ${at.where} the datapath ran ${liveFlowText(lj)} where ovn-trace ran ${simFlowText(sj)}: both match the packet at the same priority, ` +
      'where the southbound leaves which applies undefined. OVS picks between overlapping equal-priority flows arbitrarily (the first rule its classifier meets, ' +
      'which can change from run to run; ovn-trace likewise), so the two broke a tie differently: not a difference in itself.' +
      (fx === 'other'
        ? ' Their actions differ in more than register writes and the live flow clearing conntrack: any later difference counts.'
        : fx
          ? ` Their actions differ in ${fx.differ.join(', ')}: a later stage of this pipeline that differs only through that is not counted either.`
          : '');
    return {
      tie: { pipelineIndex: at.pipelineIndex, pipeline: at.pipeline, datapath: at.datapath, tableId: at.tableId, stage: sim.stage ?? lj.stage, priority: x.priority, live: lj, simulated: sj, followedBy: [], explanation },
      after: fx && fx !== 'other' ? fx.excuser : null,
      untracked: fx === 'other',
    };
  }
  return null;
}
