// Which `--ct` states to give ovn-trace so that each of its conntrack actions sees the state the
// datapath really had at that point. ovn-trace takes one --ct value per call of next_ct_state()
// (utilities/ovn-trace.c), in execution order:
//  - ct_next and ct_lb_mark always (IP packets); ct_next replaces the state, ct_lb_mark ORs it in;
//  - ct_dnat, ct_snat (and _in_czone), ct_commit_nat, ct_commit_to_zone only when ovn-trace holds
//    the packet untracked, and it never untracks it (ct_commit is a no-op there, the state is copied
//    into the egress pipeline and across patch ports), so a router's NAT after a switch's
//    conntrack takes no value;
//  - past the last value, ovn-trace's default est|trk (a `/* default (use --ct to customize) */`).
// Every such action is a ct(…),recirc(…) in OVS, i.e. the start of a live pass whose key holds the
// real ct_state. The live passes are aligned to ovn-trace's conntrack sections by where each
// resumed (pipeline, datapath, logical table), in order; a section takes its pass's ct_state.
// Which sections consume depends on the path ovn-trace takes, which depends on the states given:
// the caller runs ovn-trace again with the derived states until they no longer change.
import type { LivePassWithSteps } from './live-segments';
import { ctFlags, endsInConntrack, flowFields } from './microflow';
import type { OvnTraceResult, Pipeline } from './ovn-trace-parse';

/** A live pass that a ct(…),recirc(…) started: its real ct_state and where the pipeline resumed. */
export interface LiveCtPass {
  traceId: number;
  /** `new,trk` (ovn-trace --ct syntax), `trk` when the key had no ct_state. */
  ctState: string;
  pipeline: Pipeline | null;
  datapath: string | null;
  /** Logical table of the pass's first logical flow. */
  tableId: number | null;
}

/** How one conntrack section of ovn-trace's output was fed. */
export interface CtSectionFeed {
  title: string;
  kind: string;
  consumesCt: boolean;
  /** The live pass it stands for, null when the live path has none there. */
  liveTraceId: number | null;
  /** The --ct value it takes (consuming sections only). */
  flag: string | null;
}

/** ovn-trace's own default when it runs out of --ct values, used where no live pass stands. */
export const OVN_TRACE_DEFAULT_CT = 'est,trk';

/** passes: in packet order (root first). */
export function liveCtPasses(passes: readonly LivePassWithSteps[]): LiveCtPass[] {
  const out: LiveCtPass[] = [];
  for (let i = 1; i < passes.length; i++) {
    if (!endsInConntrack(passes[i - 1].datapathActions)) continue;
    const p = passes[i];
    const st = flowFields(p.flow).fields.get('ct_state');
    const first = (p.steps ?? []).flatMap((s) => s.owners).find((o) => o.table === 'Logical_Flow' && o.pipeline && o.tableId !== undefined);
    out.push({
      traceId: p.id,
      ctState: st ? ctFlags(st) : 'trk',
      pipeline: (first?.pipeline as Pipeline | undefined) ?? null,
      datapath: first?.datapaths?.length === 1 ? first.datapaths[0].name : null,
      tableId: first?.tableId ?? null,
    });
  }
  return out;
}

/** The live pass can be where this section resumed: same pipeline and datapath, not after its first stage (ovn-trace omits `next;`-only stages). */
function fits(live: LiveCtPass, sim: OvnTraceResult, at: { pipelineIndex: number; table: number }): boolean {
  const p = sim.pipelines[at.pipelineIndex];
  if (!p) return false;
  if (live.pipeline && live.pipeline !== p.pipeline) return false;
  if (live.datapath && live.datapath !== p.datapath) return false;
  return live.tableId === null || live.tableId <= at.table;
}

/** Aligns ovn-trace's conntrack sections with the live ct passes and derives the --ct values. */
export function feedCtStates(sim: OvnTraceResult, live: readonly LiveCtPass[]): { flags: string[]; sections: CtSectionFeed[] } {
  const sections: CtSectionFeed[] = [];
  const flags: string[] = [];
  let next = 0;
  for (const s of sim.sections) {
    if (!s.conntrack || !s.kind) continue;
    let found: LiveCtPass | null = null;
    if (s.resumesAt) {
      for (let k = next; k < live.length; k++) {
        if (fits(live[k], sim, s.resumesAt)) {
          found = live[k];
          next = k + 1;
          break;
        }
      }
    }
    const flag = s.consumesCt ? (found?.ctState ?? OVN_TRACE_DEFAULT_CT) : null;
    if (flag) flags.push(flag);
    sections.push({ title: s.title, kind: s.kind, consumesCt: s.consumesCt, liveTraceId: found?.traceId ?? null, flag });
  }
  return { flags, sections };
}
