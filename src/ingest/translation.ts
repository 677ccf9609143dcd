// An ingested `translation` event → the parsed pass the annotator takes, so an ingested
// translation is annotated and stored exactly like a live one. Raw ofproto/trace text goes
// through the trace parser (only its own pass: the simulated continuations are not the flow's
// translation); rule steps (ofproto/detrace, a patched vswitchd) become a flat pass.
import { rulePass } from '../ovs/rule-pass';
import { OvsParseError } from '../ovs/parse-error';
import { parseOfprotoTrace, TracePass } from '../ovs/ofproto-trace';
import type { TraceStep } from '../ovs/trace-tree';
import { normaliseCookie } from '../ovs/ids';
import type { TranslationV1 } from './event-schema';

export function passOfTranslation(e: TranslationV1): { pass: TracePass } | { reason: string } {
  if (e.text !== undefined) {
    try {
      const r = parseOfprotoTrace(e.text);
      if (r.kind === 'no_recirculation_data') return { reason: `text: the daemon refused the trace: ${r.message}` };
      return { pass: r.pass };
    } catch (err) {
      return { reason: `text: ${err instanceof OvsParseError ? err.message : String(err)}` };
    }
  }
  const steps: TraceStep[] = (e.steps ?? []).map((s, i) => ({
    node: i,
    line: i + 1,
    bridge: s.bridge ?? e.bridge ?? null,
    table: s.table,
    outcome: 'match',
    match: s.match ?? '',
    priority: s.priority ?? null,
    cookie: normaliseCookie(s.cookie ?? '0') ?? '0x00000000',
    depth: 0,
    parentStep: i === 0 ? null : i - 1,
    items: s.actions ? [{ kind: 'action', text: s.actions, line: i + 1, depth: 1 }] : [],
  }));
  return { pass: rulePass(steps, e.flow ?? '', e.datapathActions ?? '') };
}
