import { OvsParseError } from './parse-error';

/**
 * Character-level helpers shared by the ODP key and action parsers.
 *
 * Dumps can hold hundreds of thousands of lines, so scanning is index-based over charCodeAt
 * (no regular expressions, no per-character string building): every token is one slice.
 */

export const OPEN = 40; // (
export const CLOSE = 41; // )
export const COMMA = 44; // ,
export const EQUALS = 61; // =
export const SLASH = 47; // /
export const BRACE_OPEN = 123; // {
export const BRACE_CLOSE = 125; // }
export const SPACE = 32;

/**
 * Hash of the text the last findClose / findBraceClose / itemEnd call walked over (seeded by
 * the caller), so a memo can look the item up without reading its characters again.
 */
export const SCAN_HASH = new Int32Array(1);

/** Hash of s[start, end) as the scanners compute it (h * 31 + c, 32-bit). */
export function hashRange(s: string, start: number, end: number, seed = 0): number {
  let h = seed;
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * Index of the ')' that closes the '(' at `open`, honouring nested () and {}.
 * Throws when the text ends first or a closer does not match its opener.
 */
export function findClose(what: string, s: string, open: number, end: number, seed = 0): number {
  return closerOf(what, s, open, end, seed, false);
}

/**
 * The '}' closing the '{' at `open` (geneve option lists), as strict as findClose: a ')' where a
 * '}' is due is an error, or the key checker (odp-key-check) would accept `src={{…),x(…),}` that
 * the building parser, which closes fields with findClose, refuses.
 */
export function findBraceClose(what: string, s: string, open: number, end: number, seed = 0): number {
  return closerOf(what, s, open, end, seed, true);
}

function closerOf(what: string, s: string, open: number, end: number, seed: number, brace: boolean): number {
  // Expected closers as a bit stack (1 = '}', 0 = ')'): no allocation on the hot path.
  let depth = 1;
  let braces = brace ? 1 : 0;
  // Hash of s[open, close] continuing `seed` (SCAN_HASH): memo lookups need no second read.
  let h = (Math.imul(seed, 31) + (brace ? BRACE_OPEN : OPEN)) | 0;
  for (let i = open + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    h = (Math.imul(h, 31) + c) | 0;
    if (c === CLOSE || c === BRACE_CLOSE) {
      const expected = braces & 1 ? BRACE_CLOSE : CLOSE;
      if (c !== expected) throw new OvsParseError(what, s, i, `expected '${String.fromCharCode(expected)}'`);
      depth--;
      braces >>>= 1;
      if (depth === 0) {
        SCAN_HASH[0] = h;
        return i;
      }
    } else if (c === OPEN || c === BRACE_OPEN) {
      if (depth >= 31) throw new OvsParseError(what, s, i, 'nested too deep');
      depth++;
      braces = (braces << 1) | (c === BRACE_OPEN ? 1 : 0);
    }
  }
  throw new OvsParseError(what, s, end, `expected '${braces & 1 ? '}' : ')'}' before end`);
}

/**
 * End (exclusive) of an item that starts at `i`: the next ',' or the closing ')' at depth 0,
 * skipping balanced () and {} inside (e.g. `geneve({class=0x102,…})` within `tunnel(…)`).
 */
export function itemEnd(what: string, s: string, i: number, end: number): number {
  let h = 0;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === COMMA) break;
    if (c === OPEN || c === BRACE_OPEN) {
      if (c === OPEN) i = findClose(what, s, i, end, h);
      else i = findBraceClose(what, s, i, end, h);
      h = SCAN_HASH[0];
    } else if (c === CLOSE || c === BRACE_CLOSE) {
      throw new OvsParseError(what, s, i, `unexpected '${String.fromCharCode(c)}'`);
    } else h = (Math.imul(h, 31) + c) | 0;
  }
  SCAN_HASH[0] = h;
  return i;
}

/** Index of the first '/' in [start, end), or -1: splits `value/mask`. */
export function slashIndex(s: string, start: number, end: number): number {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) === SLASH) return i;
  return -1;
}

export function skipSpaces(s: string, i: number, end: number): number {
  while (i < end && s.charCodeAt(i) === SPACE) i++;
  return i;
}

/** Trims trailing spaces: returns the new exclusive end. */
export function trimEnd(s: string, start: number, end: number): number {
  while (end > start && s.charCodeAt(end - 1) === SPACE) end--;
  return end;
}

/**
 * Top-level comma split of an action list (datapath or OpenFlow): commas inside parentheses stay.
 * Lenient (never throws): for texts already printed by the daemon, compared or shown as steps.
 */
export function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === OPEN) depth++;
    else if (c === CLOSE) depth--;
    else if (c === COMMA && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}
