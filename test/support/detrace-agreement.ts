// Our annotation of a trace reply (its pass and ofproto/trace's continuations) against the text
// ovn-detrace printed for the same reply: per step with a cookie, the OVN lines the served text
// (src/traces/trace-text.ts) prints for the step as the store keeps it (its owners, its first hint),
// restricted to the tables ovn-detrace knows, must equal its lines; what we add beyond it is counted
// apart. Shared by the captured unit test, the live correlation test and the version matrix.
import { annotatePass } from '../../src/correlation/annotate';
import type { AnnotatedTrace } from '../../src/correlation/types';
import { ownerJson } from '../../src/traces/trace-record';
import { stepOvnLines } from '../../src/traces/trace-text';
import type { OvnModel } from '../../src/ovn/ovn-model';
import { parseOfprotoTrace } from '../../src/ovs/ofproto-trace';
import { asDetracePrints, readDetrace } from './detrace-text';

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
    if (s.hint && !DETRACE_HINTS.has(s.hint.table)) acc.extras[`hint ${s.hint.table}`] = (acc.extras[`hint ${s.hint.table}`] ?? 0) + 1;
    const served = stepOvnLines({
      owners: s.owners.filter((o) => DETRACE_OWNERS.has(o.table) && !o.stale).map(ownerJson),
      northbound: s.hint && DETRACE_HINTS.has(s.hint.table) ? s.hint : null,
    });
    const lines = served.map(asDetracePrints);
    const stripped = lines.filter((l, k) => l !== served[k]).length;
    if (stripped) acc.extras['quote ovn-detrace strips'] = (acc.extras['quote ovn-detrace strips'] ?? 0) + stripped;
    const expected = theirs[i].annotations;
    if (s.cookie === theirs[i].cookie && lines.join('\n') === expected.join('\n')) acc.agree++;
    else acc.disagreements.push({ step: `${s.cookie} / ${theirs[i].line}`, ours: lines, detrace: expected });
  });
  return acc;
}
