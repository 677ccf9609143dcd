// What ofproto_trace__() (ofproto/ofproto-dpif-trace.c) prints after `Datapath actions:`, read by
// ofproto-trace.ts and printed back by the served text: one owner for both directions, so a stored
// trace's ending reads as ofproto/trace printed it.
//
// ofproto_trace__() prints either `Translation failed (…), packet is dropped.` or, when translation
// succeeded, the slow-path reasons and then, only when a packet was given with the flow,
// `Action execution failed (…)` followed by a line holding `.` (its format is "\n…(%s)\n.").

/** A pass's ending; empty when the trace ends at `Datapath actions:`. */
export interface TraceEnding {
  /** `Translation failed (<reason>), packet is dropped.` */
  readonly translationFailed: string | null;
  /** `This flow is handled by the userspace slow path because it:` reasons. */
  readonly slowPath: readonly string[];
  /** `Action execution failed (<reason>)` (only when a packet was given). */
  readonly actionExecutionFailed: string | null;
}

export const SLOW_PATH_HEAD = 'This flow is handled by the userspace slow path because it:';

export function emptyEnding(): { translationFailed: string | null; slowPath: string[]; actionExecutionFailed: string | null } {
  return { translationFailed: null, slowPath: [], actionExecutionFailed: null };
}

/** Reads one line of the ending into `e`; false when the line is none of ofproto_trace__()'s. */
export function readEndingLine(e: ReturnType<typeof emptyEnding>, t: string): boolean {
  let m: RegExpExecArray | null;
  if (t.trim() === '' || t === '.' || t === SLOW_PATH_HEAD) return true;
  if ((m = /^Translation failed \((.*)\), packet is dropped\.$/.exec(t))) e.translationFailed = m[1];
  else if ((m = /^ {2}- (.*)\.$/.exec(t))) e.slowPath.push(m[1]);
  else if ((m = /^Action execution failed \((.*)\)$/.exec(t))) e.actionExecutionFailed = m[1];
  else return false;
  return true;
}

/** The ending's lines in ofproto_trace__()'s order (fields a stored trace lacks print nothing). */
export function endingLines(e: Partial<TraceEnding>): string[] {
  if (e.translationFailed) return [`Translation failed (${e.translationFailed}), packet is dropped.`];
  const out: string[] = [];
  if (e.slowPath?.length) out.push(SLOW_PATH_HEAD, ...e.slowPath.map((r) => `  - ${r}.`));
  if (e.actionExecutionFailed) out.push(`Action execution failed (${e.actionExecutionFailed})`, '.');
  return out;
}

/** The ending as a stored trace's extra JSON keeps it (only what is there). */
export function endingExtra(e: TraceEnding): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (e.translationFailed) out.translationFailed = e.translationFailed;
  if (e.slowPath.length) out.slowPath = e.slowPath;
  if (e.actionExecutionFailed) out.actionExecutionFailed = e.actionExecutionFailed;
  return out;
}

/** The ending read back from a stored trace's extra JSON. */
export function endingOfExtra(extra: Record<string, unknown>): TraceEnding {
  return {
    translationFailed: (extra.translationFailed as string) ?? null,
    slowPath: (extra.slowPath as string[]) ?? [],
    actionExecutionFailed: (extra.actionExecutionFailed as string) ?? null,
  };
}
