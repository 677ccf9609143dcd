// NDJSON body → validated v1 events, line by line. A bad line never spoils the others: it is
// reported with its 1-based number and the reason, the rest go on. Blank lines are skipped.
import { isUtf8 } from 'node:buffer';
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
    if (isUtf8(body)) yield* ndjsonLines(body.toString('utf8'));
    else yield* byteLines(body);
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

/** ndjsonLines of a body that is not all UTF-8: line by line, on the bytes (\n is never inside a UTF-8 sequence). */
function* byteLines(body: Buffer): Generator<[number, string | UnreadLine]> {
  const BOM = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
  let start = BOM ? 3 : 0;
  let n = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    n++;
    const bytes = body.subarray(start, end);
    const bad = firstNonUtf8(bytes);
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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The path (`steps[1].table`) of the first name given twice in one object of `text`, which
 * JSON.parse has accepted, or null. One pass over the structure: a string is skipped with
 * indexOf (the long ones are values: keys, packets, trace text), names are compared as decoded
 * (`"typ\u0065"` is `type`). An event's objects have few names, where a list beats a Set; past
 * SET_FROM names an object's go in a Set: the line is the producer's, and a list compared each of
 * 200k names with every earlier one (95 s on the event loop for a 1.7 MB line).
 */
export function repeatedName(text: string): string | null {
  // Per depth: the names seen (objects; the lists are reused, depth by depth) or the item index
  // (arrays), and the name under which an object parent holds it.
  let depth = -1;
  let expectName = false;
  let lastName = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = text.indexOf('"', i + 1);
      while (escaped(text, end)) end = text.indexOf('"', end + 1);
      if (expectName) {
        const raw = text.slice(i + 1, end);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        const seen = frame.names[depth];
        const set = frame.sets[depth];
        if (set ? set.has(name) : seen.includes(name)) return pathOf(depth, name);
        if (set) set.add(name);
        else if (seen.push(name) > SET_FROM) frame.sets[depth] = new Set(seen);
        lastName = name;
        expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      frame.heldAs[depth] = lastName; // read only when held by an object
      frame.isObject[depth] = expectName = c === 0x7b;
      frame.index[depth] = 0;
      if (expectName) (frame.names[depth] ??= []).length = 0;
      frame.sets[depth] = null;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */) {
      if (frame.isObject[depth]) expectName = true;
      else frame.index[depth]++;
    }
  }
  return null;
}

/** repeatedName's frames, kept between calls (one thread, no await inside): an event is a few levels deep. */
const frame = { names: [] as string[][], sets: [] as Array<Set<string> | null>, isObject: [] as boolean[], index: [] as number[], heldAs: [] as string[] };
/** Names an object may have before they go in a Set (repeatedName). */
const SET_FROM = 32;

/** Whether the quote at `at` is escaped: an odd run of backslashes before it. */
function escaped(text: string, at: number): boolean {
  let n = 0;
  while (text.charCodeAt(at - 1 - n) === BACKSLASH) n++;
  return n % 2 === 1;
}

/** `steps[1].table`: the path down to depth, then the name. */
function pathOf(depth: number, name: string): string {
  let path = '';
  for (let d = 1; d <= depth; d++) path += frame.isObject[d - 1] ? `${path ? '.' : ''}${frame.heldAs[d]}` : `[${frame.index[d - 1]}]`;
  return path ? `${path}.${name}` : name;
}

export function validateEvent(value: unknown): { event: EventV1 } | { reason: string } {
  const bad = checkSchema(EVENT_SCHEMA as unknown as Record<string, unknown>, value);
  if (bad) return { reason: bad.field ? `${bad.field}: ${bad.reason}` : bad.reason };
  return { event: value as EventV1 };
}

export function parseEventLines(text: string | Buffer): ParsedBatch {
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
