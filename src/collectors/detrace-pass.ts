// ofproto/detrace (OVS >= 3.4) lists the OpenFlow rules cached in the ukey: exactly those that
// produced the installed flow, with no re-translation. It has no Flow/Final flow/Datapath actions
// lines, so the pass is built from the rules, the flow's own key and its installed actions.
import { DetraceEntry, parseOfprotoDetrace } from '../ovs/ofproto-detrace';
import { splitTopLevel } from '../ovs/odp-scan';
import { OvsParseError } from '../ovs/parse-error';
import type { TracePass, TraceStep } from '../ovs/ofproto-trace';
import { rulePass } from '../ovs/rule-pass';
import type { LiveFlow } from './datapath-diff';

/** What one ofproto/detrace call gave the tracer: a pass, or why there is none (the daemon's words). */
export type DetraceAnswer =
  | { kind: 'entries'; pass: TracePass }
  /** The ukey exists but has no translation cache yet: a later call may answer. */
  | { kind: 'cache_not_found'; message: string }
  | { kind: 'ufid_not_found'; message: string }
  | { kind: 'empty'; message: string }
  | { kind: 'error'; message: string }
  | { kind: 'unparsable'; message: string };

/**
 * `ufid:<uuid>` and the `pmd=` of the dump the flow came from: on the userspace datapath a ukey is
 * found by UFID *and* pmd id (the core of `flow-dump from pmd on cpu core: N`, NON_PMD_CORE_ID for
 * the main thread); the kernel datapath has none, and the daemon's default is right there.
 */
export function detraceArgs(flow: Pick<LiveFlow, 'ufid' | 'pmd'>): string[] {
  return flow.pmd == null ? [`ufid:${flow.ufid}`] : [`ufid:${flow.ufid}`, `pmd=${flow.pmd}`];
}

/** A detrace reply as the tracer uses it; never throws (an unreadable reply is a reason to fall back). */
export function parseDetraceAnswer(text: string, flow: LiveFlow): DetraceAnswer {
  let r;
  try {
    r = parseOfprotoDetrace(text);
  } catch (err) {
    if (!(err instanceof OvsParseError)) throw err;
    return { kind: 'unparsable', message: `unreadable reply: ${err.message.split('\n')[0]}` };
  }
  if (r.kind === 'no_answer') return { kind: r.reason, message: r.message };
  const pass = detracePass(r.entries, flow);
  // A pass resumed after a select group's dp_hash caches only the group bucket: no rule to show.
  if (!pass.steps.length) return { kind: 'empty', message: `reply without rules (${r.entries.map((e) => e.raw.split(',')[0]).join(', ')})` };
  return { kind: 'entries', pass };
}

/** OVS's internal rule a lookup that missed falls to (table 254, `reg0=0x2`): not an OpenFlow rule of the pipeline. */
const isMissRule = (e: DetraceEntry) => e.type === 'rule' && e.table === 254 && e.priority === 0 && e.actions === 'drop';

/**
 * Steps in cache order. A lookup that missed is one `no_match` step, as in ofproto/trace: OVS 4.0
 * says which table missed (`table_id=N, no match`, then the table-254 rule, folded into it); 3.5
 * prints only the table-254 rule, kept as a `no_match` step of table 254.
 */
export function detracePass(entries: readonly DetraceEntry[], flow: LiveFlow): TracePass {
  const steps: TraceStep[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.type === 'group') continue;
    const miss = e.type === 'no_match' || isMissRule(e);
    if (e.type === 'no_match' && entries[i + 1] && isMissRule(entries[i + 1]) && entries[i + 1].bridge === e.bridge) i++;
    const seq = steps.length;
    steps.push({
      node: seq,
      line: e.line,
      bridge: e.bridge ?? 'br-int',
      table: e.table,
      outcome: miss ? 'no_match' : 'match',
      match: e.type === 'rule' && !miss ? e.match : '',
      priority: e.type === 'rule' && !miss ? e.priority : null,
      cookie: e.type === 'rule' && !miss ? e.cookie : null,
      depth: 0,
      parentStep: seq > 0 ? seq - 1 : null,
      items: e.type === 'rule' && !miss ? splitTopLevel(e.actions).filter(Boolean).map((text) => ({ kind: 'action' as const, text, line: e.line, depth: 1 })) : [],
    });
  }
  return rulePass(steps, flow.key, flow.actions, flow.key);
}
