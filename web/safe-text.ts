// Names and texts from OVN, OVS and ingested events (some set by tenants), made safe to show: the
// one list of the characters that act instead of showing, for the page and the terminal client
// (src/cli/render.ts termSafe).

/**
 * C1 controls and DEL, and the bidi controls and line separators that reorder or break what follows
 * (U+202E would turn a name around, and with it the rest of its line). With C0 (U+0000–U+001F): every
 * character a terminal acts on (ESC starts CSI/OSC sequences, U+009B is CSI on its own, CR overwrites
 * the line) and every one a page would not show as it is.
 */
export const BEYOND_C0 = String.raw`\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069`;
const UNSAFE = new RegExp(String.raw`[\u0000-\u001f${BEYOND_C0}]`, 'g');
const UNSAFE_BUT_LINES = new RegExp(String.raw`[\u0000-\u0008\u000b-\u001f${BEYOND_C0}]`, 'g');
const escapeChar = (ch: string) => {
  const n = ch.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
};

/**
 * Each such character as a visible escape (`\x1b`, `\u202e`), as ovs-ofctl and kubectl show them.
 * `lines` keeps newlines and tabs (a multi-line text).
 */
export function escapeUnsafe(s: string, lines = false): string {
  return s.replace(lines ? UNSAFE_BUT_LINES : UNSAFE, escapeChar);
}

const FSI = '\u2068';
const PDI = '\u2069';

/**
 * A name inside a line of the page: escaped (escapeUnsafe), then isolated (U+2068 … U+2069, the text
 * form of <bdi>) so that neither its controls nor its right-to-left letters reorder the words around
 * it. Its own U+2069 is escaped: it cannot close the isolate early.
 */
export const isolate = (name: string): string => `${FSI}${escapeUnsafe(name)}${PDI}`;

/** A line built with isolate(), as its plain parts and (odd indexes) its isolated names, for <bdi>. */
export const isolatedParts = (line: string): string[] => line.split(/\u2068([^\u2068\u2069]*)\u2069/);
