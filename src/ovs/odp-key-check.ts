import { OvsParseError } from './parse-error';
import { BRACE_CLOSE, BRACE_OPEN, CLOSE, COMMA, EQUALS, OPEN, SPACE, findBraceClose, findClose } from './odp-scan';

/**
 * The fast path of the ODP key grammar: checks key text in one pass, building nothing.
 *
 * A dump of 200,000 flows is ~120 MB of keys; the building parser (odp-key.ts) finds each
 * field's closing parenthesis first and then walks its items, reading every character two or
 * three times. This checker reads each character once and accepts exactly what the building
 * parser accepts (a property test holds the two to that), so a checked line always builds.
 */

const WHAT = 'ODP key';
const enum Kind { Scalar, Attrs, Encap, Unknown }

const KINDS = new Map<number, { name: string; kind: Kind }[]>();
function register(names: string[], kind: Kind): void {
  for (const name of names) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
    const list = KINDS.get(h) ?? [];
    list.push({ name, kind });
    KINDS.set(h, list);
  }
}
register(['skb_priority', 'skb_mark', 'recirc_id', 'dp_hash', 'ct_state', 'ct_zone', 'ct_mark', 'ct_label',
  'in_port', 'eth_type', 'tcp_flags'], Kind.Scalar);
register(['tunnel', 'ct_tuple4', 'ct_tuple6', 'packet_type', 'eth', 'vlan', 'mpls', 'ipv4', 'ipv6', 'tcp',
  'udp', 'sctp', 'icmp', 'icmpv6', 'arp', 'nd', 'nd_ext', 'nsh'], Kind.Attrs);
register(['encap'], Kind.Encap);

function kindOf(s: string, start: number, end: number, hash: number): Kind {
  const list = KINDS.get(hash);
  if (list) {
    for (const k of list) if (k.name.length === end - start && s.startsWith(k.name, start)) return k.kind;
  }
  return Kind.Unknown;
}

/** Checks the fields in s[i, end); returns how many there are. */
export function checkFields(s: string, i: number, end: number): number {
  let count = 0;
  while (i < end && s.charCodeAt(i) === SPACE) i++;
  while (i < end) {
    const nameStart = i;
    let h = 0;
    let c = 0;
    while (i < end) {
      c = s.charCodeAt(i);
      if (c === OPEN || c === COMMA || c === CLOSE || c === SPACE) break;
      h = (h * 31 + c) | 0;
      i++;
    }
    if (i === nameStart) throw new OvsParseError(WHAT, s, i, 'expected a field name');
    if (i >= end || c !== OPEN) throw new OvsParseError(WHAT, s, i, "expected '('");
    const kind = kindOf(s, nameStart, i, h);
    if (kind === Kind.Attrs) i = checkAttrs(s, i + 1, end);
    else {
      // Scalars, unknown fields and encap (rare) are bounded first, as the building parser does.
      const close = findClose(WHAT, s, i, end);
      if (kind === Kind.Encap) checkFields(s, i + 1, close);
      i = close;
    }
    count++;
    i++;
    while (i < end && s.charCodeAt(i) === SPACE) i++;
    if (i >= end) break;
    c = s.charCodeAt(i);
    if (c !== COMMA) throw new OvsParseError(WHAT, s, i, "expected ','");
    i++;
    while (i < end && s.charCodeAt(i) === SPACE) i++;
    if (i >= end) throw new OvsParseError(WHAT, s, i, "expected a field after ','");
  }
  return count;
}

/** Checks `name=value[/mask]` and `name(…)` items from `i`; returns the index of the field's ')'. */
function checkAttrs(s: string, i: number, end: number): number {
  while (i < end && s.charCodeAt(i) === SPACE) i++;
  if (i < end && s.charCodeAt(i) === CLOSE) return i;
  let itemStart = i;
  let named = false;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === EQUALS) {
      if (!named) {
        if (i === itemStart) throw new OvsParseError(WHAT, s, i, 'expected an attribute name');
        named = true;
      }
    } else if (c === OPEN) {
      if (named) {
        i = findClose(WHAT, s, i, end);
        continue;
      }
      // `flags(…)` / `geneve({…})`: only spaces may follow, up to ',' or ')'.
      if (i === itemStart) throw new OvsParseError(WHAT, s, i, 'expected an attribute name');
      const close = findClose(WHAT, s, i, end);
      let j = close + 1;
      while (j < end && s.charCodeAt(j) === SPACE) j++;
      const next = j < end ? s.charCodeAt(j) : -1;
      if (next !== COMMA && next !== CLOSE) throw new OvsParseError(WHAT, s, close + 1, "expected ',' or ')'");
      named = true;
      i = j - 1;
    } else if (c === BRACE_OPEN) {
      if (!named) throw new OvsParseError(WHAT, s, i, 'expected an attribute name');
      i = findBraceClose(WHAT, s, i, end);
    } else if (c === COMMA || c === CLOSE) {
      if (!named) throw new OvsParseError(WHAT, s, itemStart, "expected '=' in attribute");
      if (c === CLOSE) return i;
      i++;
      while (i < end && s.charCodeAt(i) === SPACE) i++;
      if (i >= end || s.charCodeAt(i) === CLOSE) throw new OvsParseError(WHAT, s, i, "expected an attribute after ','");
      itemStart = i;
      named = false;
      i--;
    } else if (c === BRACE_CLOSE) {
      throw new OvsParseError(WHAT, s, i, "unexpected '}'");
    }
  }
  throw new OvsParseError(WHAT, s, end, "expected ')' before end");
}
