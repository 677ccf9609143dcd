// ofproto/detrace (OVS >= 3.4) lists the OpenFlow rules cached in the ukey: exactly those that
// produced the installed flow, with no re-translation. It has no Flow/Final flow/Datapath actions
// lines, so the pass is built from the rules, the flow's own key and its installed actions.
import type { DetraceEntry } from '../ovs/ofproto-detrace';
import type { TracePass, TraceStep } from '../ovs/ofproto-trace';
import { rulePass } from '../ovs/rule-pass';
import type { LiveFlow } from './datapath-diff';

/** Top-level comma split of OpenFlow actions (commas inside parentheses stay). */
function splitActions(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out.filter(Boolean);
}

export function detracePass(entries: readonly DetraceEntry[], flow: LiveFlow): TracePass {
  const steps: TraceStep[] = [];
  for (const e of entries) {
    if (e.type === 'group') continue;
    const seq = steps.length;
    steps.push({
      node: seq,
      line: e.line,
      bridge: e.bridge ?? 'br-int',
      table: e.table,
      outcome: e.type === 'rule' ? 'match' : 'no_match',
      match: e.type === 'rule' ? e.match : '',
      priority: e.type === 'rule' ? e.priority : null,
      cookie: e.type === 'rule' ? e.cookie : null,
      depth: 0,
      parentStep: seq > 0 ? seq - 1 : null,
      items: e.type === 'rule' ? splitActions(e.actions).map((text) => ({ kind: 'action' as const, text, line: e.line, depth: 1 })) : [],
    });
  }
  return rulePass(steps, flow.key, flow.actions, flow.key);
}
