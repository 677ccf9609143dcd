// Our annotation of a trace reply (its pass and ofproto/trace's continuations) against the text
// ovn-detrace printed for the same reply: per step with a cookie, the lines ovn-detrace would
// print from our owners and hints (restricted to the tables it knows) must equal its lines; what we
// add beyond it is counted apart. Shared by the unit test (captured) and the integration test (live).
import { annotatePass } from '../../../src/correlation/annotate';
import { ownerLines } from '../../../src/correlation/render-text';
import type { AnnotatedStep, AnnotatedTrace, StepHint } from '../../../src/correlation/types';
import type { OvnModel } from '../../../src/ovn/ovn-model';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { readDetrace } from './detrace-text';

const DETRACE_OWNERS = new Set(['Logical_Flow', 'Port_Binding', 'MAC_Binding', 'Multicast_Group', 'Chassis', 'Load_Balancer']);
const DETRACE_HINTS = new Set(['ACL', 'DHCP_Options', 'Forwarding_Group', 'Logical_Switch_Port', 'Logical_Router_Port', 'Logical_Router_Policy', 'Load_Balancer', 'NAT', 'Logical_Router_Static_Route', 'QoS']);

export interface Agreement {
  steps: number;
  agree: number;
  disagreements: Array<{ step: string; ours: string[]; detrace: string[] }>;
  extras: Record<string, number>;
  passes: AnnotatedTrace[];
}

export function annotateReply(traceText: string, model: OvnModel): AnnotatedTrace[] {
  const parsed = parseOfprotoTrace(traceText);
  if (parsed.kind !== 'trace') return [];
  return [parsed.pass, ...parsed.continuations].map((p) => annotatePass(p, model));
}

function stepHints(s: AnnotatedStep): readonly StepHint[] {
  return s.hints ?? (s.hint ? [s.hint] : []);
}

export function compareWithDetrace(traceText: string, detraceText: string, model: OvnModel, into?: Agreement): Agreement {
  const acc: Agreement = into ?? { steps: 0, agree: 0, disagreements: [], extras: {}, passes: [] };
  const passes = annotateReply(traceText, model);
  acc.passes.push(...passes);
  const ours = passes.flatMap((p) => p.steps.filter((s) => s.cookie));
  const theirs = readDetrace(detraceText);
  if (ours.length !== theirs.length) {
    acc.disagreements.push({ step: `step count ${ours.length} vs ${theirs.length}`, ours: [], detrace: [] });
    return acc;
  }
  ours.forEach((s, i) => {
    acc.steps++;
    for (const o of s.owners) {
      if (!DETRACE_OWNERS.has(o.table)) acc.extras[`owner ${o.table}`] = (acc.extras[`owner ${o.table}`] ?? 0) + 1;
      if (o.stale) acc.extras.stale = (acc.extras.stale ?? 0) + 1;
    }
    for (const h of stepHints(s)) if (!DETRACE_HINTS.has(h.table)) acc.extras[`hint ${h.table}`] = (acc.extras[`hint ${h.table}`] ?? 0) + 1;
    const hints = stepHints(s).filter((h) => DETRACE_HINTS.has(h.table));
    const lines = ownerLines({ owners: s.owners.filter((o) => DETRACE_OWNERS.has(o.table) && !o.stale) }, (o) =>
      o.logicalFlow?.stageHint ? hints.filter((h) => h.uuid.startsWith(o.logicalFlow!.stageHint!)) : [],
    );
    const expected = theirs[i].annotations;
    if (s.cookie === theirs[i].cookie && lines.join('\n') === expected.join('\n')) acc.agree++;
    else acc.disagreements.push({ step: `${s.cookie} / ${theirs[i].line}`, ours: lines, detrace: expected });
  });
  return acc;
}
