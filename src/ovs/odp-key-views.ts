import { parseGeneveOptions, type GeneveOption } from './odp-geneve';
import { OvsParseError } from './parse-error';
import type { OdpKey, OdpKeyField } from './odp-types';

// The option list parser is odp-geneve.ts (shared with odp-tunnel.ts); its importers get it here too.
export { parseGeneveOptions, type GeneveOption } from './odp-geneve';

/**
 * Views of a parsed ODP key a network engineer asks for: a field by name (inside `encap(…)` too),
 * recirc_id and in_port, ct_state in either printed form, geneve options. Re-exported by odp-key.
 */

/** The first field of that name, looking inside `encap(…)` too. */
export function keyField(key: OdpKey, name: string): OdpKeyField | undefined {
  return findField(key.fields, name);
}

function findField(fields: readonly OdpKeyField[], name: string): OdpKeyField | undefined {
  for (const f of fields) {
    if (f.name === name) return f;
    if (f.kind === 'encap') {
      const inner = findField(f.fields, name);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** Value of `name(value)` or of `field(…,attr=value,…)`; undefined when absent. */
export function keyValue(key: OdpKey, name: string, attr?: string): string | undefined {
  const f = keyField(key, name);
  if (!f) return undefined;
  if (attr === undefined) return f.kind === 'scalar' ? f.value : undefined;
  if (f.kind !== 'attrs') return undefined;
  return f.attrs.find((a) => a.name === attr)?.value;
}

/** recirc_id as a number (0 when the key has none, as the datapath assumes). */
export function recircId(key: OdpKey): number {
  const v = keyValue(key, 'recirc_id');
  if (v === undefined) return 0;
  const n = parseNumber(v);
  // The datapath's recirc_id is a uint32: anything wider is a bad key, said here rather than
  // wherever the id is printed next (ovs/ids.ts recircIdHex refuses it too).
  if (n > 0xffffffff) throw new OvsParseError('recirc_id', v, 0, 'wider than 32 bits');
  return n;
}

/** in_port as printed: a datapath port number (`2`) or, with `-m`, a port name (`vif1`). */
export function inPort(key: OdpKey): string | undefined {
  return keyValue(key, 'in_port');
}

/** Conntrack state bits (include/openvswitch/packets.h order, as odp-util prints them). */
export const CT_STATE_BITS = {
  new: 0x01, est: 0x02, rel: 0x04, rpl: 0x08, inv: 0x10, trk: 0x20, snat: 0x40, dnat: 0x80,
} as const;
export type CtStateFlag = keyof typeof CT_STATE_BITS;

export interface CtState {
  /** Bits set in the value. */
  readonly bits: number;
  /** Bits the flow matches on (all ones when no mask was printed). */
  readonly mask: number;
}

/**
 * ct_state in either printed form: hex `0x21/0x3f` (`-m` dumps) or flags `+new-est+trk`
 * (plain dumps, masked: only the named flags are matched) or `new|trk` (exact value).
 */
export function ctState(key: OdpKey): CtState | undefined {
  const f = keyField(key, 'ct_state');
  if (!f || f.kind !== 'scalar') return undefined;
  return parseCtState(f.value, f.mask);
}

export function parseCtState(value: string, mask?: string): CtState {
  const c = value.charCodeAt(0);
  if (c === 43 /* + */ || c === 45 /* - */) {
    let bits = 0;
    let m = 0;
    let i = 0;
    while (i < value.length) {
      const sign = value[i];
      let j = i + 1;
      while (j < value.length && value[j] !== '+' && value[j] !== '-') j++;
      const bit = CT_STATE_BITS[value.slice(i + 1, j) as CtStateFlag];
      if (bit === undefined) throw new OvsParseError('ct_state', value, i + 1, 'unknown flag');
      m |= bit;
      if (sign === '+') bits |= bit;
      i = j;
    }
    return { bits, mask: m };
  }
  if (value.includes('|') || /^[a-z]+$/.test(value)) {
    let bits = 0;
    for (const name of value.split('|')) {
      const bit = CT_STATE_BITS[name as CtStateFlag];
      if (bit === undefined) throw new OvsParseError('ct_state', value, value.indexOf(name), 'unknown flag');
      bits |= bit;
    }
    return { bits, mask: mask === undefined ? 0xff : parseNumber(mask) };
  }
  return { bits: parseNumber(value), mask: mask === undefined ? 0xff : parseNumber(mask) };
}

/** Flag names set in `bits`, e.g. ['new', 'trk']. */
export function ctStateFlags(bits: number): CtStateFlag[] {
  return (Object.keys(CT_STATE_BITS) as CtStateFlag[]).filter((k) => (bits & CT_STATE_BITS[k]) !== 0);
}

/**
 * A whole decimal or 0x number, as odp-util prints recirc_id and ct_state. parseInt alone stopped at
 * the first bad character: `recirc_id(0x1zz)` was 1, `recirc_id(-1)` -1 (which recircIdHex then threw
 * a RangeError over), `1e3` 1.
 */
function parseNumber(text: string): number {
  if (!/^(?:0x[0-9a-f]+|\d+)$/i.test(text)) throw new OvsParseError('number', text, 0, 'expected a decimal or 0x number');
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new OvsParseError('number', text, 0, 'number too wide');
  return n;
}

/** `tunnel(…,geneve({class=0x102,type=0x80,len=4,0x10002/0x7fffffff}),…)` → its options. */
export function geneveOptions(key: OdpKey): GeneveOption[] {
  const t = keyField(key, 'tunnel');
  if (!t || t.kind !== 'attrs') return [];
  const g = t.attrs.find((a) => a.name === 'geneve');
  return g ? parseGeneveOptions(g.value) : [];
}
