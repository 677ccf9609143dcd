import { buildTraceTree, TraceItem, TraceNode, TraceStep } from './trace-tree';
import { OdpAction, parseActions } from './odp-actions';
import { OvsParseError } from './parse-error';
import { emptyEnding, readEndingLine, TraceEnding } from './trace-ending';
import { lineDecimal, lineError, splitLines, TextLine, tryParse } from './trace-error';

export { OvsTextParseError } from './trace-error';
export type { TraceItem, TraceNode, TraceStep, TableOutcome } from './trace-tree';

/**
 * `ofproto/trace` output (ofproto/ofproto-dpif-trace.c) as structure.
 *
 * A reply is the traced pass, then, for every recirculation it queued (ct(), recirc()),
 * a simulated next pass after a line of 79 `=`. Only the first pass is the translation of the
 * traced key; the continuations assume a conntrack state (`default ct_state=trk|new`) that the
 * real packet may not have had, so they are kept apart and never mixed into `pass`.
 */

export interface TracePass extends TraceEnding {
  /** The `Flow:` line (the flow as translated, OpenFlow syntax). */
  readonly flow: string;
  readonly bridges: readonly string[];
  readonly steps: readonly TraceStep[];
  readonly nodes: readonly TraceNode[];
  /** `Resuming from table N` when the pass thawed a frozen (recirculated) translation. */
  readonly resumeTable: number | null;
  readonly restored: readonly string[];
  /** Actions under no table (a thawed pass replaying frozen actions: `group:1`, `bucket 0`, …). */
  readonly unattached: readonly TraceItem[];
  /** `Final flow:` as printed; `unchanged` is reported through finalFlowUnchanged. */
  readonly finalFlow: string;
  readonly finalFlowUnchanged: boolean;
  readonly megaflow: string;
  /** `Datapath actions:` exactly as printed (`drop` when empty). */
  readonly datapathActions: string;
  /** The same read by the ODP actions parser; null, with the reason, if it could not be. */
  readonly datapathActionsParsed: readonly OdpAction[] | null;
  readonly datapathActionsError: OvsParseError | null;
  readonly warnings: readonly TraceMessage[];
  readonly errors: readonly TraceMessage[];
  /** 1-based line of the `Flow:` line. */
  readonly line: number;
}

export interface TraceMessage {
  readonly text: string;
  readonly line: number;
}

/** A pass simulated by ofproto/trace after a recirculation of the traced one. */
export interface TraceContinuation extends TracePass {
  /** `0x1` as printed in `recirc(0x1)`. */
  readonly recircId: string;
  /** Assumed conntrack state when resumed after ct(): `trk|new`; null for a plain recirc(). */
  readonly ctState: string | null;
  /** True when that state is ofproto/trace's default, not a `--ct-next` the caller gave. */
  readonly ctStateAssumed: boolean;
  /** `Replacing src/dst IP/ports to simulate NAT:` initial and modified flows. */
  readonly nat: { readonly initial: string; readonly modified: string } | null;
}

export interface OfprotoTrace {
  readonly kind: 'trace';
  readonly pass: TracePass;
  readonly continuations: readonly TraceContinuation[];
  /** `Trace reached the recirculation limit.` with the count of passes not simulated. */
  readonly recirculationLimit: { readonly queued: number } | null;
}

/**
 * The daemon refused to trace a key with a recirc_id whose frozen state is gone (purged after
 * its last ukey went away, ~250–500 ms later). Expected for short-lived flows, not a parse error.
 */
export interface NoRecirculationData {
  readonly kind: 'no_recirculation_data';
  readonly recircId: string;
  readonly message: string;
}

export type OfprotoTraceResult = OfprotoTrace | NoRecirculationData;

const WHAT = 'ofproto/trace';
const RULE = '='.repeat(79);
const NO_RECIRC = /^no recirculation data for recirc_id (0x[0-9a-f]+)$/;
/** A recirculation id as the trace prints it (`%#"PRIx32`): 32 bits, no leading zeros. */
const RECIRC_ID = /^0x[1-9a-f][0-9a-f]{0,7}$/;

function recircIdOf(whole: string, at: TextLine, id: string): string {
  if (!RECIRC_ID.test(id)) throw lineError(WHAT, whole, at, `bad recirc id "${id.slice(0, 24)}": not 32 bits as OVS prints it`, Math.max(0, at.text.indexOf(id)));
  return id;
}

/**
 * Parses a whole ofproto/trace reply. Also accepts the daemon's error text
 * `no recirculation data for recirc_id 0x..` (as a unixctl error or as ovs-appctl printed it).
 * Throws OvsTextParseError (with line) on anything else that is not trace output.
 */
export function parseOfprotoTrace(text: string): OfprotoTraceResult {
  const lines = splitLines(text);
  const first = lines.find((l) => l.text.trim() !== '');
  if (!first) throw lineError(WHAT, text, { text: '', line: 1, offset: 0 }, 'empty reply');
  const noRecirc = NO_RECIRC.exec(first.text.trim());
  if (noRecirc) return { kind: 'no_recirculation_data', recircId: recircIdOf(text, first, noRecirc[1]), message: first.text.trim() };
  if (!first.text.startsWith('Flow: ')) throw lineError(WHAT, text, first, 'expected "Flow: "');

  const segments = splitPasses(text, lines);
  const pass = parsePass(text, segments.main);
  const continuations = segments.continuations.map((c) => parseContinuation(text, c));
  return { kind: 'trace', pass, continuations, recirculationLimit: segments.limit };
}

interface Segments {
  main: TextLine[];
  continuations: { header: TextLine[]; body: TextLine[] }[];
  limit: { queued: number } | null;
}

/** Cuts the reply at each `=` rule pair: header lines between the two rules, pass lines after. */
function splitPasses(whole: string, lines: readonly TextLine[]): Segments {
  const out: Segments = { main: [], continuations: [], limit: null };
  let current = out.main;
  for (let i = 0; i < lines.length; i++) {
    const at = lines[i];
    if (at.text !== RULE) {
      current.push(at);
      continue;
    }
    const next = lines[i + 1];
    if (next && next.text.startsWith('Trace reached the recirculation limit.')) {
      const queued = lines[i + 2] ? /^Queued but not processed: (\d+) recirculations\.$/.exec(lines[i + 2].text) : null;
      // `%"PRIuSIZE`: any count a number holds exactly.
      out.limit = { queued: queued ? lineDecimal(WHAT, whole, lines[i + 2], '"Queued but not processed"', queued[1], Number.MAX_SAFE_INTEGER, 'Queued but not processed: '.length) : 0 };
      i = lines.length;
      break;
    }
    const header: TextLine[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j].text !== RULE) header.push(lines[j++]);
    if (j >= lines.length) throw lineError(WHAT, whole, at, 'recirculation header without its closing line of "="');
    const body: TextLine[] = [];
    out.continuations.push({ header, body });
    current = body;
    i = j;
  }
  return out;
}

function parsePass(whole: string, lines: readonly TextLine[]): TracePass {
  const body = trimBlank(lines);
  const flowLine = body[0];
  if (!flowLine || !flowLine.text.startsWith('Flow: ')) {
    throw lineError(WHAT, whole, flowLine ?? lines[0] ?? { text: '', line: 1, offset: 0 }, 'expected "Flow: "');
  }
  const finalAt = body.findIndex((l) => l.text.startsWith('Final flow: '));
  if (finalAt < 0) throw lineError(WHAT, whole, body[body.length - 1], 'pass without "Final flow:"');
  const tree = buildTraceTree(whole, body.slice(1, finalAt));

  const finalFlow = body[finalAt].text.slice('Final flow: '.length);
  const megaflowLine = body[finalAt + 1];
  if (!megaflowLine || !megaflowLine.text.startsWith('Megaflow: ')) {
    throw lineError(WHAT, whole, megaflowLine ?? body[finalAt], 'expected "Megaflow: " after "Final flow:"');
  }
  const actionsLine = body[finalAt + 2];
  if (!actionsLine || !actionsLine.text.startsWith('Datapath actions: ')) {
    throw lineError(WHAT, whole, actionsLine ?? megaflowLine, 'expected "Datapath actions: " after "Megaflow:"');
  }
  const tail = parseTail(whole, body.slice(finalAt + 3));
  const datapathActions = actionsLine.text.slice('Datapath actions: '.length);
  const actionErrors: OvsParseError[] = [];
  const datapathActionsParsed = tryParse(parseActions, datapathActions, actionErrors);
  const datapathActionsError = actionErrors[0] ?? null;
  const messages = (kind: 'warning' | 'error'): TraceMessage[] =>
    tree.nodes.filter((n) => n.kind === kind).map((n) => ({ text: n.text, line: n.line }));
  return {
    flow: flowLine.text.slice('Flow: '.length),
    bridges: tree.bridges,
    steps: tree.steps,
    nodes: tree.nodes,
    resumeTable: tree.resumeTable,
    restored: tree.restored,
    unattached: tree.unattached,
    finalFlow,
    finalFlowUnchanged: finalFlow === 'unchanged',
    megaflow: megaflowLine.text.slice('Megaflow: '.length),
    datapathActions,
    datapathActionsParsed,
    datapathActionsError,
    ...tail,
    warnings: messages('warning'),
    errors: messages('error'),
    line: flowLine.line,
  };
}

/** What ofproto_trace__() may print after `Datapath actions:`. */
function parseTail(whole: string, lines: readonly TextLine[]): TraceEnding {
  const tail = emptyEnding();
  for (const l of lines) if (!readEndingLine(tail, l.text)) throw lineError(WHAT, whole, l, 'unexpected line after "Datapath actions:"');
  return tail;
}

function parseContinuation(whole: string, seg: { header: TextLine[]; body: TextLine[] }): TraceContinuation {
  const head = seg.header[0];
  const m = head ? /^recirc\((0x[0-9a-f]+)\)(?: - resume conntrack with (default )?ct_state=(\S+)(?: \(use --ct-next to customize\))?)?$/.exec(head.text) : null;
  if (!m) throw lineError(WHAT, whole, head ?? seg.body[0], 'expected "recirc(0x…)" after a line of "="');
  let nat: TraceContinuation['nat'] = null;
  if (seg.header.length > 1) {
    const initial = seg.header.find((l) => l.text.startsWith(' Initial flow: '));
    const modified = seg.header.find((l) => l.text.startsWith(' Modified flow: '));
    if (seg.header[1].text !== 'Replacing src/dst IP/ports to simulate NAT:' || !initial || !modified) {
      throw lineError(WHAT, whole, seg.header[1], 'unexpected recirculation header line');
    }
    nat = { initial: initial.text.slice(' Initial flow: '.length), modified: modified.text.slice(' Modified flow: '.length) };
  }
  return {
    ...parsePass(whole, seg.body),
    recircId: recircIdOf(whole, head, m[1]),
    ctState: m[3] ?? null,
    ctStateAssumed: m[2] !== undefined,
    nat,
  };
}

function trimBlank(lines: readonly TextLine[]): TextLine[] {
  let start = 0;
  let end = lines.length;
  while (start < end && lines[start].text.trim() === '') start++;
  while (end > start && lines[end - 1].text.trim() === '') end--;
  return lines.slice(start, end);
}

/** The OpenFlow tables a pass looked up, in order: handy for assertions and summaries. */
export function stepTables(pass: TracePass): number[] {
  return pass.steps.map((s) => s.table);
}
