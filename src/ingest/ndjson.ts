// NDJSON body → validated v1 events, line by line. A bad line never spoils the others: it is
// reported with its 1-based number and the reason, the rest go on. Blank lines are skipped.
import { EVENT_SCHEMA, EventV1 } from './event-schema';
import { checkSchema } from './schema-check';

export interface LineRejection {
  readonly line: number;
  readonly reason: string;
}

export interface ParsedLine<T = EventV1> {
  readonly line: number;
  readonly event: T;
}

export interface ParsedBatch<T = EventV1> {
  readonly events: ParsedLine<T>[];
  readonly rejected: LineRejection[];
}

export const MAX_LINE_CHARS = 2 * 1024 * 1024;

/**
 * Splits on \n (a trailing \r is dropped), yielding [lineNumber, text] for non-blank lines. A byte
 * order mark opening the body (files saved by some editors, PowerShell's Out-File) is not part of
 * line 1: JSON.parse refused it, losing that line with an invisible "Unexpected token '\uFEFF'".
 */
export function* ndjsonLines(text: string): Generator<[number, string]> {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let n = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    n++;
    let line = text.slice(start, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() !== '') yield [n, line];
    start = end + 1;
  }
}

/** Parses one line as JSON; the reason names the JSON error when it is not. */
export function parseJsonLine(text: string): { value: unknown } | { reason: string } {
  if (text.length > MAX_LINE_CHARS) return { reason: `line longer than ${MAX_LINE_CHARS} characters` };
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { reason: `not JSON: ${(err as Error).message}` };
  }
}

export function validateEvent(value: unknown): { event: EventV1 } | { reason: string } {
  const bad = checkSchema(EVENT_SCHEMA as unknown as Record<string, unknown>, value);
  if (bad) return { reason: bad.field ? `${bad.field}: ${bad.reason}` : bad.reason };
  return { event: value as EventV1 };
}

export function parseEventLines(text: string): ParsedBatch {
  const events: ParsedLine[] = [];
  const rejected: LineRejection[] = [];
  for (const [line, raw] of ndjsonLines(text)) {
    const json = parseJsonLine(raw);
    if ('reason' in json) {
      rejected.push({ line, reason: json.reason });
      continue;
    }
    const v = validateEvent(json.value);
    if ('reason' in v) rejected.push({ line, reason: v.reason });
    else events.push({ line, event: v.event });
  }
  return { events, rejected };
}
