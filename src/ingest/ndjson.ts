// NDJSON body → validated v1 events, line by line. A bad line never spoils the others: it is
// reported with its 1-based number and the reason, the rest go on. Blank lines are skipped.
import { isUtf8 } from 'node:buffer';
import { repeatedName } from '../common/json-names';
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

/** A line ndjsonLines could not give as text, and why. */
export interface UnreadLine {
  readonly reason: string;
}

/**
 * Splits on \n (a trailing \r is dropped), yielding [lineNumber, text] for non-blank lines. A byte
 * order mark opening the body (files saved by some editors, PowerShell's Out-File) is not part of
 * line 1: JSON.parse refused it, losing that line with an invisible "Unexpected token '\uFEFF'".
 * A body given as bytes is read as UTF-8, and a line that is not UTF-8 comes as why: decoded, its
 * bad bytes became U+FFFD, so ids differing only there were one id and the second event was taken
 * for a duplicate of the first, answered accepted and never stored.
 */
export function* ndjsonLines(body: string | Buffer): Generator<[number, string | UnreadLine]> {
  if (typeof body !== 'string') {
    yield* byteLines(body);
    return;
  }
  const text = body;
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

/**
 * ndjsonLines of a body's bytes: each line decoded alone (\n is never inside a UTF-8 sequence). The
 * whole body decoded at once was a second copy of it (16 MB more per LIVETRACE_INGEST_MAX_BYTES body)
 * for as long as its lines were read.
 */
function* byteLines(body: Buffer): Generator<[number, string | UnreadLine]> {
  const BOM = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
  let start = BOM ? 3 : 0;
  let n = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    n++;
    const bytes = body.subarray(start, end);
    const bad = isUtf8(bytes) ? -1 : firstNonUtf8(bytes);
    if (bad < 0) {
      const line = bytes.toString('utf8').replace(/\r$/, '');
      if (line.trim() !== '') yield [n, line];
    } else {
      yield [n, { reason: `not UTF-8: byte ${bad + 1} (0x${bytes[bad].toString(16).padStart(2, '0')}) of the line is not a UTF-8 sequence: send the lines as UTF-8` }];
    }
    start = end + 1;
  }
}

/** The offset of the first byte that does not begin a well-formed UTF-8 sequence (RFC 3629), or -1. */
function firstNonUtf8(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) len = 1;
    else if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) [len, lo, hi] = [3, c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf];
    else if (c >= 0xf0 && c <= 0xf4) [len, lo, hi] = [4, c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf];
    else return i;
    if (i + len > b.length) return i;
    for (let k = 1; k < len; k++) if (b[i + k] < (k === 1 ? lo : 0x80) || b[i + k] > (k === 1 ? hi : 0xbf)) return i;
    i += len;
  }
  return -1;
}

/** Parses one line as JSON; the reason names the JSON error when it is not (or why ndjsonLines could not read it). */
export function parseJsonLine(text: string | UnreadLine): { value: unknown } | { reason: string } {
  if (typeof text !== 'string') return text;
  if (text.length > MAX_LINE_CHARS) return { reason: `line longer than ${MAX_LINE_CHARS} characters` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { reason: `not JSON: ${(err as Error).message}` };
  }
  // JSON.parse keeps the last of a repeated name: {"type":"upcall","type":"ukey_removed"} was
  // stored as a removal that a reader of the line (or another parser) takes for an upcall.
  if (typeof value === 'object' && value !== null) {
    const dup = repeatedName(text);
    if (dup !== null) return { reason: `${dup}: given twice in one object (a field is given once)` };
  }
  return { value };
}

export function validateEvent(value: unknown): { event: EventV1 } | { reason: string } {
  const bad = checkSchema(EVENT_SCHEMA as unknown as Record<string, unknown>, value);
  if (bad) return { reason: bad.field ? `${bad.field}: ${bad.reason}` : bad.reason };
  return { event: value as EventV1 };
}

/**
 * The body's valid events and rejected lines, `size` lines a batch (the last may be shorter): what
 * a line becomes is held only until its batch is stored, not for the whole body's.
 */
export function* eventBatches(text: string | Buffer, size: number): Generator<ParsedBatch> {
  let events: ParsedLine[] = [];
  let rejected: LineRejection[] = [];
  let lines = 0;
  for (const [line, raw] of ndjsonLines(text)) {
    const json = parseJsonLine(raw);
    if ('reason' in json) rejected.push({ line, reason: json.reason });
    else {
      const v = validateEvent(json.value);
      if ('reason' in v) rejected.push({ line, reason: v.reason });
      else events.push({ line, event: v.event });
    }
    if (++lines === size) {
      yield { events, rejected };
      [events, rejected, lines] = [[], [], 0];
    }
  }
  if (lines) yield { events, rejected };
}

export function parseEventLines(text: string | Buffer): ParsedBatch {
  const events: ParsedLine[] = [];
  const rejected: LineRejection[] = [];
  for (const b of eventBatches(text, Infinity)) {
    for (const e of b.events) events.push(e);
    for (const r of b.rejected) rejected.push(r);
  }
  return { events, rejected };
}
