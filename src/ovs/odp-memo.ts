/**
 * Memo of immutable ODP parse results keyed by their exact text, for one dump.
 *
 * A datapath dump repeats itself: OVN's flows differ in a few addresses and ports while
 * `eth_type(0x0800)`, `recirc_id(0)`, `ct_state(0x21/0x3f)` or a port's whole action list recur
 * on thousands of lines. Parsing the same text always gives the same (valid) result, so once a
 * text has been seen twice its parse is kept, frozen, and handed to every later flow with that
 * exact text: no re-validation, no new objects. Whatever two flows share is Object.freeze'd, so
 * no consumer can change what another flow sees; a text seen once (a flow's own address) stays
 * its flow's own object, unfrozen (the types are readonly either way).
 *
 * Bounded: each table keeps at most `maxEntries` texts and starts over when full, and a lookup
 * probes at most PROBE_LIMIT slots, so a hostile dump (every field unique, or crafted hash
 * collisions) costs neither unbounded memory nor quadratic time: it only misses.
 */

import type { OdpAction, OdpKeyAttr, OdpKeyField } from './odp-types';
import { BRACE_CLOSE, BRACE_OPEN, CLOSE, COMMA, OPEN } from './odp-scan';

const PROBE_LIMIT = 8;
/** Characters of a text's start that file it (see prefixKey). */
const PREFIX = 48;

/** How a found text must end in the input (see MemoTable.find). */
export type Bound = typeof FIELD | typeof ITEM | typeof EXACT;
/** A key field `name(…)`: it ends with its own ')', it only has to fit. */
export const FIELD = 0;
/** An item of a list (attribute, action): at the list's end or before a ','. */
export const ITEM = 1;
/** The whole range (an action list). */
export const EXACT = 2;

/**
 * What an item or field is filed under: the hash of its first PREFIX characters, or of all of
 * it and the ',' after it when shorter (its end is where a ',' or the enclosing ')' comes at its
 * own nesting level). A stored text that the input continues with at some position gives that
 * position the same key, so a lookup needs no scan of the item first: it compares the candidates
 * in place, and a hit reads each character once.
 */
export function prefixKey(s: string, start: number, limit: number): number {
  const stop = Math.min(limit, start + PREFIX);
  let h = 0;
  let depth = 0;
  for (let i = start; i < stop; i++) {
    const c = s.charCodeAt(i);
    h = (Math.imul(h, 31) + c) | 0;
    if (c === OPEN || c === BRACE_OPEN) depth++;
    else if (c === CLOSE || c === BRACE_CLOSE) {
      if (--depth < 0) break;
    } else if (c === COMMA && depth === 0) break;
  }
  return h;
}

/** What a whole range (an action list) is filed under: its length, first and last characters. */
export function rangeKey(s: string, start: number, end: number): number {
  let h = end - start;
  const head = Math.min(end, start + PREFIX);
  for (let i = start; i < head; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  for (let i = Math.max(head, end - 16); i < end; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

export class MemoTable<T> {
  private readonly mask: number;
  private readonly hashes: Int32Array;
  /** Hashes missed once: a text is stored the second time it is seen, so one-off texts (a flow's own addresses) cost no slot. */
  private readonly seen: Int32Array;
  /** Slot → slot of the text that came right after it last time (-1: none): the next lookup's first guess. */
  private readonly next: Int32Array;
  private texts: (string | undefined)[];
  private values: (T | undefined)[];
  private count = 0;
  /** Lookups answered from the table, and texts stored (for bench and tests). */
  hits = 0;
  stores = 0;
  clears = 0;

  constructor(readonly maxEntries: number) {
    // Twice the entries, rounded up to a power of two: probes stay short.
    let size = 16;
    while (size < maxEntries * 2) size *= 2;
    this.mask = size - 1;
    this.hashes = new Int32Array(size);
    this.seen = new Int32Array(size);
    this.next = new Int32Array(size).fill(-1);
    this.texts = new Array<string | undefined>(size).fill(undefined);
    this.values = new Array<T | undefined>(size).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  /** Length of the text the last successful find() or follow() matched. */
  found = 0;
  /** Slot of the last text found or stored (-1 when the last store found no room). */
  slot = -1;

  /**
   * The text that came after the one in slot `prev` last time, if the input continues with it at
   * `start` (ending as `bound` says): a key's fields come in the same order flow after flow, so
   * this guess spares most lookups their hashing. Same checks as find().
   */
  follow(prev: number, s: string, start: number, limit: number, bound: Bound): T | undefined {
    if (prev < 0) return undefined;
    const q = this.next[prev];
    if (q < 0) return undefined;
    const t = this.texts[q];
    if (t === undefined) return undefined;
    const stop = start + t.length;
    if (stop <= limit && (bound === FIELD || stop === limit || (bound === ITEM && s.charCodeAt(stop) === COMMA)) && s.startsWith(t, start)) {
      this.found = t.length;
      this.slot = q;
      this.hits++;
      return this.values[q];
    }
    return undefined;
  }

  /** Remembers that the text in slot `to` came right after the one in slot `from`. */
  link(from: number, to: number): void {
    if (from >= 0 && to >= 0) this.next[from] = to;
  }

  /**
   * The value of a stored text, filed under `key` (prefixKey), that s continues with at `start`
   * and that ends as `bound` says before `limit`. Such a text was parsed before, so the input
   * there is valid and parses the same: the caller skips `found` characters.
   */
  find(s: string, start: number, limit: number, key: number, bound: Bound): T | undefined {
    let slot = mix(key) & this.mask;
    for (let n = 0; n < PROBE_LIMIT; n++) {
      const t = this.texts[slot];
      if (t === undefined) return undefined;
      if (this.hashes[slot] === key) {
        const stop = start + t.length;
        if (
          stop <= limit &&
          (bound === FIELD || stop === limit || (bound === ITEM && s.charCodeAt(stop) === COMMA)) &&
          s.startsWith(t, start)
        ) {
          this.found = t.length;
          this.slot = slot;
          this.hits++;
          return this.values[slot];
        }
      }
      slot = (slot + 1) & this.mask;
    }
    return undefined;
  }

  /** The value stored for exactly s[start, end) (whose scan hash is `hash`), if any. */
  get(s: string, start: number, end: number, hash: number): T | undefined {
    const len = end - start;
    let slot = mix(hash) & this.mask;
    for (let n = 0; n < PROBE_LIMIT; n++) {
      const t = this.texts[slot];
      if (t === undefined) return undefined;
      if (this.hashes[slot] === hash && t.length === len && s.startsWith(t, start)) {
        this.hits++;
        return this.values[slot];
      }
      slot = (slot + 1) & this.mask;
    }
    return undefined;
  }

  /** After a miss: whether the text with this hash was missed before, i.e. is worth storing now. */
  repeated(hash: number): boolean {
    const slot = mix(hash) & this.mask;
    if (this.seen[slot] === hash) return true;
    this.seen[slot] = hash;
    return false;
  }

  /** Stores a frozen value for s[start, end), filed under `key` (its hash or its prefixKey); returns it. */
  set(s: string, start: number, end: number, key: number, value: T): T {
    return this.store(flatCopy(s.slice(start, end)), key, value);
  }

  /** Stores `value` under `text`, filed under `hash`; returns the value. */
  store(text: string, hash: number, value: T): T {
    if (this.count >= this.maxEntries) this.clear();
    let slot = mix(hash) & this.mask;
    for (let n = 0; n < PROBE_LIMIT; n++) {
      if (this.texts[slot] === undefined) {
        this.texts[slot] = text;
        this.hashes[slot] = hash;
        this.values[slot] = value;
        this.count++;
        this.stores++;
        this.slot = slot;
        return value;
      }
      slot = (slot + 1) & this.mask;
    }
    this.slot = -1;
    return value; // a crowded run of slots: not stored, the next flow parses it again
  }

  clear(): void {
    this.texts.fill(undefined);
    this.values.fill(undefined);
    this.next.fill(-1);
    this.count = 0;
    this.clears++;
  }
}

/**
 * A copy of a slice that no longer points into the dump: compares against a flat string cost
 * about half (measured), and the memo does not keep a whole dump alive. Texts with characters
 * beyond Latin-1 (never in a real dump) keep the slice: the copy would not be equal.
 */
function flatCopy(t: string): string {
  if (t.length < 13) return t; // V8 copies short slices already
  const copy = Buffer.from(t, 'latin1').toString('latin1');
  return copy === t ? copy : t;
}

/** Spreads the scanners' h*31+c hash so that its low bits pick slots evenly. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  return h ^ (h >>> 16);
}

/**
 * One memo per kind of item: the same text means different things as a key field, an
 * attribute, an action or an action list (`foo(1)` can be all of them).
 */
export class OdpMemo {
  readonly fields: MemoTable<OdpKeyField>;
  readonly attrs: MemoTable<OdpKeyAttr>;
  readonly actions: MemoTable<OdpAction>;
  readonly actionLists: MemoTable<readonly OdpAction[]>;
  /** Attribute names, masks and dump statistics (`never`, `ovs`, `miniflow_bits(5,2)`): one copy each. */
  readonly strings: MemoTable<string>;

  /** 16,384 texts a table by default: a few MB at most, and far above a real dump's distinct fields. */
  constructor(maxEntries = 16_384) {
    this.fields = new MemoTable(maxEntries);
    this.attrs = new MemoTable(maxEntries);
    this.actions = new MemoTable(maxEntries);
    this.actionLists = new MemoTable(maxEntries);
    this.strings = new MemoTable(maxEntries);
  }

  /** s.slice(start, end), the same string object as last time that text was seen. */
  string(s: string, start: number, end: number): string {
    let h = 0;
    for (let i = start; i < end; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
    const known = this.strings.get(s, start, end, h);
    if (known !== undefined) return known;
    const text = s.slice(start, end);
    return this.strings.store(text, h, text);
  }
}

// Small lists (a field's attributes, a key's fields) are gathered on one shared stack and
// sliced off at their exact length: push-grown arrays keep up to 16 spare slots each, which
// for 200,000 retained flows is tens of MB the garbage collector copies around.
const STACK: unknown[] = [];
let top = 0;

export function stackMark(): number {
  return top;
}

export function stackPush(v: unknown): void {
  STACK[top++] = v;
}

/** The items pushed since `mark`, as a new exact-length array; the stack drops back to `mark`. */
export function stackTake<T>(mark: number): T[] {
  const out = STACK.slice(mark, top) as T[];
  top = mark;
  // A huge list (hostile input) must not leave the stack holding its items for good.
  if (top === 0 && STACK.length > 4096) STACK.length = 0;
  return out;
}

/** Drops back to `mark` (after a parse error left items behind). */
export function stackReset(mark: number): void {
  top = mark;
}

/** Freezes a parsed structure and everything under it (actions are few per dump: no need to be clever). */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as object)) deepFreeze(v);
  return value;
}
