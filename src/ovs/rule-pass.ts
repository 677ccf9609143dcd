// A pass known only by its OpenFlow rules (ofproto/detrace, or a translation an external producer
// sent as rule steps): no Final flow, no Megaflow, no thaw. Built in one place so both sources
// give the annotator the same shape.
import { parseActions } from './odp-actions';
import type { TracePass, TraceStep } from './ofproto-trace';
import type { OvsParseError } from './parse-error';
import { emptyEnding } from './trace-ending';
import { tryParse } from './trace-error';

export function rulePass(steps: TraceStep[], flow: string, datapathActions: string, megaflow = ''): TracePass {
  const errors: OvsParseError[] = [];
  const parsed = datapathActions ? tryParse(parseActions, datapathActions, errors) : null;
  return {
    flow,
    bridges: [...new Set(steps.map((s) => s.bridge).filter((b): b is string => !!b))],
    steps,
    nodes: [],
    resumeTable: null,
    restored: [],
    unattached: [],
    finalFlow: '',
    finalFlowUnchanged: false,
    megaflow,
    datapathActions,
    datapathActionsParsed: parsed,
    datapathActionsError: errors[0] ?? null,
    ...emptyEnding(),
    warnings: [],
    errors: [],
    line: 1,
  };
}
