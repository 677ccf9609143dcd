import { OvsParseError } from './parse-error';

/**
 * An OvsParseError for multi-line texts (traces, detrace replies, log files): besides the offset
 * into the whole text it names the 1-based line, because that is what a person opens the capture at.
 */
export class OvsTextParseError extends OvsParseError {
  constructor(
    what: string,
    input: string,
    position: number,
    reason: string,
    readonly line: number,
  ) {
    super(what, input, position, `${reason} (line ${line})`);
  }
}

/** The text split into lines, each with its 1-based number and its offset in the text. */
export interface TextLine {
  readonly text: string;
  readonly line: number;
  readonly offset: number;
}

/** Splits on \n (tolerating \r\n); a trailing newline does not make an empty last line. */
export function splitLines(text: string): TextLine[] {
  const out: TextLine[] = [];
  let offset = 0;
  let line = 1;
  while (offset <= text.length) {
    let end = text.indexOf('\n', offset);
    if (end < 0) end = text.length;
    if (end === text.length && offset === text.length) break;
    let body = text.slice(offset, end);
    if (body.endsWith('\r')) body = body.slice(0, -1);
    out.push({ text: body, line, offset });
    offset = end + 1;
    line += 1;
  }
  return out;
}

/** Builds the error for one line of a multi-line text, pointing at `column` within that line. */
export function lineError(what: string, whole: string, at: TextLine, reason: string, column = 0): OvsTextParseError {
  return new OvsTextParseError(what, whole, at.offset + column, reason, at.line);
}

/** Runs one of the ODP parsers; a failure is kept (the raw text stays in the event) instead of lost. */
export function tryParse<T>(parse: (text: string) => T, text: string, errors: OvsParseError[]): T | null {
  try {
    return parse(text);
  } catch (e) {
    if (e instanceof OvsParseError) {
      errors.push(e);
      return null;
    }
    const reason = e instanceof Error ? e.message : String(e);
    errors.push(new OvsParseError('ODP text', text, 0, `parser failed: ${reason}`));
    return null;
  }
}

/**
 * A decimal number of a trace or detrace line as OVS prints it (`%d`, `%u`: no sign, no leading
 * zeros), at most `max`, or an error naming the field and the line. Number() alone took any digit
 * string, rounding past 2^53 (`priority 99999999999999999999`).
 */
export function lineDecimal(what: string, whole: string, at: TextLine, field: string, text: string, max: number, column = 0): number {
  const n = /^(?:0|[1-9]\d*)$/.test(text) && text.length <= String(max).length ? Number(text) : NaN;
  if (!(n <= max)) throw lineError(what, whole, at, `bad ${field} "${text.slice(0, 24)}": not a number from 0 to ${max}`, column);
  return n;
}

/** The bounds the trace parsers give lineDecimal: what OVS can print in each field. */
export const TRACE_BOUNDS = {
  /** OpenFlow table ids (`%2d.`, `Resuming from table %PRIu8`, `table_id=%PRIu8`). */
  table: 255,
  /**
   * `priority %d` of the classifier's int: OpenFlow's are 16 bits, but the rules OVS adds to table 0
   * itself sit above (in-band control 180000…, ofproto/in-band.c; fail-open 0xf0f0f0,
   * ofproto/fail-open.h), and a trace shows them.
   */
  priority: 0x7fffffff,
  /** `group_id=%PRIu32`. */
  group: 0xffffffff,
} as const;
