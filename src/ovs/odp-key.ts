import { OvsParseError } from './parse-error';
import type { OdpKey, OdpKeyAttr, OdpKeyField } from './odp-types';
import { BRACE_OPEN, COMMA, EQUALS, OPEN, SCAN_HASH, findClose, itemEnd, skipSpaces, slashIndex, trimEnd } from './odp-scan';
import { checkFields } from './odp-key-check';
import { FIELD, ITEM, OdpMemo, deepFreeze, prefixKey, stackMark, stackPush, stackReset, stackTake } from './odp-memo';

/**
 * Datapath (ODP) flow keys as lib/odp-util.c prints them in `dpctl/dump-flows`, upcall logs and
 * `ofproto/trace`: `recirc_id(0x1),in_port(vif1),eth(src=…/…,dst=…),eth_type(0x0800),ipv4(…)`.
 *
 * Every field keeps its text value and, when printed, its mask, in dump order. Fields this
 * parser does not know are kept verbatim so nothing a daemon printed is ever lost.
 */

const SCALAR_FIELDS = new Set([
  'skb_priority', 'skb_mark', 'recirc_id', 'dp_hash', 'ct_state', 'ct_zone', 'ct_mark', 'ct_label',
  'in_port', 'eth_type', 'tcp_flags',
]);
const ATTR_FIELDS = new Set([
  'tunnel', 'ct_tuple4', 'ct_tuple6', 'packet_type', 'eth', 'vlan', 'mpls', 'ipv4', 'ipv6', 'tcp',
  'udp', 'sctp', 'icmp', 'icmpv6', 'arp', 'nd', 'nd_ext', 'nsh',
]);

const WHAT = 'ODP key';

/** Parses a whole key text. Throws OvsParseError (with the offset in `text`) on bad input. */
export function parseKey(text: string): OdpKey {
  return { fields: parseKeyFields(text, 0, text.length) };
}

/**
 * Parses the key fields in text[start, end): used for dump lines and `set(…)` actions without
 * copying. With a memo (one per dump), a field or attribute whose exact text recurs is one
 * frozen object shared by every flow that has it (see odp-memo.ts).
 */
export function parseKeyFields(s: string, start: number, end: number, memo?: OdpMemo): OdpKeyField[] {
  if (memo === undefined) {
    const fields: OdpKeyField[] = [];
    scanKeyFields(s, start, end, fields);
    return fields;
  }
  const mark = stackMark();
  try {
    scanKeyFields(s, start, end, NO_FIELDS, memo);
    return stackTake(mark);
  } finally {
    stackReset(mark);
  }
}

/** The `out` of scanKeyFields when building through a memo (items go on the shared stack). */
const NO_FIELDS: OdpKeyField[] = [];

/**
 * Checks text[start, end) against the same grammar as parseKeyFields without building anything
 * (same errors, same positions); returns the number of top-level fields. Dumps are checked
 * whole and their objects built only when a flow is looked at.
 */
export function checkKeyFields(s: string, start: number, end: number): number {
  return checkFields(s, start, end);
}

function scanKeyFields(s: string, start: number, end: number, out: OdpKeyField[] | null, memo?: OdpMemo): number {
  let count = 0;
  let i = skipSpaces(s, start, end);
  let prev = -1; // memo slot of the previous field
  while (i < end) {
    // Through a memo, a field text parsed before is found in place: valid, the same field, shared.
    // First guess: the field that followed the previous one last time.
    let key = 0;
    let known: OdpKeyField | undefined;
    if (memo !== undefined) {
      known = memo.fields.follow(prev, s, i, end, FIELD);
      if (known === undefined) {
        key = prefixKey(s, i, end);
        known = memo.fields.find(s, i, end, key, FIELD);
        if (known !== undefined) memo.fields.link(prev, memo.fields.slot);
      }
    }
    let close: number;
    if (known !== undefined) {
      close = i + memo!.fields.found - 1;
      prev = memo!.fields.slot;
      stackPush(known);
    } else {
      const nameStart = i;
      let h = 0;
      while (i < end) {
        const c = s.charCodeAt(i);
        if (c === OPEN || c === COMMA || c === 41 /* ) */ || c === 32) break;
        h = (Math.imul(h, 31) + c) | 0;
        i++;
      }
      if (i === nameStart) throw new OvsParseError(WHAT, s, i, 'expected a field name');
      if (i >= end || s.charCodeAt(i) !== OPEN) throw new OvsParseError(WHAT, s, i, "expected '('");
      close = findClose(WHAT, s, i, end, h);
      if (memo !== undefined) {
        const hash = SCAN_HASH[0];
        const field = scanField(memo.string(s, nameStart, i), s, nameStart, i + 1, close, true, memo) as OdpKeyField;
        // Kept the second time its text is seen: one-off texts (a flow's own addresses) take no slot.
        if (memo.fields.repeated(hash)) {
          memo.fields.set(s, nameStart, close + 1, key, frozenField(field));
          memo.fields.link(prev, memo.fields.slot);
          prev = memo.fields.slot;
        } else prev = -1;
        stackPush(field);
      } else {
        const field = scanField(s.slice(nameStart, i), s, nameStart, i + 1, close, out !== null);
        if (out !== null && field !== undefined) out.push(field);
      }
    }
    count++;
    i = skipSpaces(s, close + 1, end);
    if (i < end) {
      if (s.charCodeAt(i) !== COMMA) throw new OvsParseError(WHAT, s, i, "expected ','");
      i = skipSpaces(s, i + 1, end);
      if (i >= end) throw new OvsParseError(WHAT, s, i, 'expected a field after \',\'');
    }
  }
  return count;
}

function scanField(
  name: string, s: string, fieldStart: number, a: number, b: number, build: boolean, memo?: OdpMemo,
): OdpKeyField | undefined {
  if (SCALAR_FIELDS.has(name)) {
    if (!build) return undefined;
    const slash = slashIndex(s, a, b);
    if (slash < 0) return { kind: 'scalar', name, value: s.slice(a, b), mask: undefined };
    return { kind: 'scalar', name, value: s.slice(a, slash), mask: memo ? memo.string(s, slash + 1, b) : s.slice(slash + 1, b) };
  }
  if (ATTR_FIELDS.has(name)) {
    const attrs = scanAttrs(s, a, b, build, memo);
    return attrs && { kind: 'attrs', name, attrs };
  }
  if (name === 'encap') {
    if (!build) return void scanKeyFields(s, a, b, null);
    return { kind: 'encap', name, fields: parseKeyFields(s, a, b, memo) };
  }
  return build ? { kind: 'unknown', name, text: s.slice(fieldStart, b + 1) } : undefined;
}

function scanAttrs(s: string, a: number, b: number, build: boolean, memo?: OdpMemo): OdpKeyAttr[] | undefined {
  if (memo !== undefined && build) return scanSharedAttrs(s, a, b, memo);
  const attrs: OdpKeyAttr[] | undefined = build ? [] : undefined;
  let i = skipSpaces(s, a, b);
  while (i < b) {
    const end = itemEnd(WHAT, s, i, b);
    const attr = scanAttr(s, i, trimEnd(s, i, end), build);
    if (attrs && attr) attrs.push(attr);
    i = end < b ? skipSpaces(s, end + 1, b) : b;
    if (end < b && i >= b) throw new OvsParseError(WHAT, s, i, "expected an attribute after ','");
  }
  return attrs;
}

/** scanAttrs through a memo: same grammar and errors, attributes shared and frozen, exact-length array. */
function scanSharedAttrs(s: string, a: number, b: number, memo: OdpMemo): OdpKeyAttr[] {
  const mark = stackMark();
  try {
    let i = skipSpaces(s, a, b);
    let prev = -1;
    while (i < b) {
      let attr = memo.attrs.follow(prev, s, i, b, ITEM);
      let key = 0;
      if (attr === undefined) {
        key = prefixKey(s, i, b);
        attr = memo.attrs.find(s, i, b, key, ITEM);
        if (attr !== undefined) memo.attrs.link(prev, memo.attrs.slot);
      }
      let end: number;
      if (attr !== undefined) {
        end = i + memo.attrs.found;
        prev = memo.attrs.slot;
      } else {
        end = itemEnd(WHAT, s, i, b);
        const hash = SCAN_HASH[0];
        attr = scanAttr(s, i, trimEnd(s, i, end), true, memo) as OdpKeyAttr;
        if (memo.attrs.repeated(hash)) {
          memo.attrs.set(s, i, end, key, Object.freeze(attr));
          memo.attrs.link(prev, memo.attrs.slot);
          prev = memo.attrs.slot;
        } else prev = -1;
      }
      stackPush(attr);
      i = end < b ? skipSpaces(s, end + 1, b) : b;
      if (end < b && i >= b) throw new OvsParseError(WHAT, s, i, "expected an attribute after ','");
    }
    return stackTake(mark);
  } finally {
    stackReset(mark);
  }
}

function scanAttr(s: string, i: number, end: number, build: boolean, memo?: OdpMemo): OdpKeyAttr | undefined {
  for (let j = i; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c === EQUALS) {
      if (j === i) throw new OvsParseError(WHAT, s, j, 'expected an attribute name');
      if (!build) return undefined;
      const name = memo ? memo.string(s, i, j) : s.slice(i, j);
      const slash = slashIndex(s, j + 1, end);
      if (slash < 0) return { name, value: s.slice(j + 1, end), mask: undefined };
      return { name, value: s.slice(j + 1, slash), mask: memo ? memo.string(s, slash + 1, end) : s.slice(slash + 1, end) };
    }
    if (c === BRACE_OPEN) throw new OvsParseError(WHAT, s, j, 'expected an attribute name');
    if (c === OPEN) {
      // `flags(-df+csum)` or `geneve({class=…})`: kept as text, formatted back as is.
      if (j === i) throw new OvsParseError(WHAT, s, j, 'expected an attribute name');
      const close = findClose(WHAT, s, j, end);
      if (close !== end - 1) throw new OvsParseError(WHAT, s, close + 1, "expected ',' or ')'");
      return build ? { name: s.slice(i, j), value: s.slice(j + 1, close), paren: true } : undefined;
    }
  }
  throw new OvsParseError(WHAT, s, i, "expected '=' in attribute");
}

/** Freezes a field the memo is about to share, with its attributes (some were seen once, unfrozen). */
function frozenField(f: OdpKeyField): OdpKeyField {
  if (f.kind === 'attrs') {
    for (const a of f.attrs) Object.freeze(a);
    Object.freeze(f.attrs);
  } else if (f.kind === 'encap') deepFreeze(f.fields);
  return Object.freeze(f);
}

export interface FormatKeyOptions {
  /** Write `/mask` where the dump had one. `false` gives a key of exact values (what ofproto/trace takes). */
  readonly masks: boolean;
}

export function formatKey(key: OdpKey, options: FormatKeyOptions = { masks: true }): string {
  return formatKeyFields(key.fields, options.masks, false);
}

/**
 * The key as `ofproto/trace` accepts it: values as dumped, masks dropped. With `-m` the userspace
 * datapath dumps the packet's own values even where the mask is 0, so this replays the packet
 * that caused the upcall. OVS 3.1 prints ct_tuple6 ports as `src_port=`/`dst_port=` but only
 * parses `tp_src=`/`tp_dst=`, so those two are renamed.
 */
export function traceKey(key: OdpKey): string {
  return formatKeyFields(key.fields, false, true);
}

function formatKeyFields(fields: readonly OdpKeyField[], masks: boolean, forTrace: boolean): string {
  let out = '';
  for (let i = 0; i < fields.length; i++) {
    if (i > 0) out += ',';
    out += formatField(fields[i], masks, forTrace);
  }
  return out;
}

export function formatField(f: OdpKeyField, masks = true, forTrace = false): string {
  switch (f.kind) {
    case 'scalar':
      return `${f.name}(${f.value}${masks && f.mask !== undefined ? `/${f.mask}` : ''})`;
    case 'attrs': {
      const rename = forTrace && f.name === 'ct_tuple6';
      let out = `${f.name}(`;
      for (let i = 0; i < f.attrs.length; i++) {
        const a = f.attrs[i];
        if (i > 0) out += ',';
        if (a.paren) {
          out += `${a.name}(${a.value})`;
          continue;
        }
        const name = rename ? CT_TUPLE6_TRACE_NAMES[a.name] ?? a.name : a.name;
        out += `${name}=${a.value}${masks && a.mask !== undefined ? `/${a.mask}` : ''}`;
      }
      return `${out})`;
    }
    case 'encap':
      return `encap(${formatKeyFields(f.fields, masks, forTrace)})`;
    case 'unknown':
      return f.text;
  }
}

const CT_TUPLE6_TRACE_NAMES: Record<string, string> = { src_port: 'tp_src', dst_port: 'tp_dst' };

// The parsed shapes live in odp-types.ts; importers of the parser get them here too.
export type { OdpKey, OdpKeyAttr, OdpKeyField } from './odp-types';
// Accessors a network engineer asks for (keyField, recircId, ctState, geneveOptions, …).
export * from './odp-key-views';
