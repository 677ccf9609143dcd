import type { OdpKeyAttr } from './odp-types';
import { OvsParseError } from './parse-error';

/**
 * Geneve option lists, the one parser of them: the key views (odp-key-views.ts geneveOptions, read by
 * session selection) and the tunnel parts (odp-tunnel.ts, read by the cross-chassis link) both take
 * theirs from here, so the two accept and refuse the same text.
 *
 * The grammar is lib/odp-util.c format_geneve_opts (the key's `tunnel(…,geneve(…))`, the kernel
 * action's `set(tunnel(…,geneve(…)))` and tnl_push's `options(…)`): options back to back with no
 * separator, each `{class=0x…,type=0x…,len=N,0x…}`, in that order; a field partly masked carries
 * `/mask`, a field whose mask is all zeros is left out (non-verbose), the data is left out when its
 * mask is all zeros, and data and mask are ds_put_hex text (`0x…`, or `0` when all zeros).
 */

export interface GeneveOption {
  /** Each `name=value[/mask]` of the option (class, type, len), in order. */
  readonly attrs: readonly OdpKeyAttr[];
  /** The option data in hex (`0x10002`), with its mask when printed. */
  readonly data?: string;
  readonly dataMask?: string;
}

/** Where the list sits in a caller's text, so an error points into that text rather than the list. */
export interface GeneveListAt {
  readonly what: string;
  readonly input: string;
  readonly offset: number;
}

/**
 * Option data or its mask as ds_put_hex prints them (`0x…`, or `0` when all zeros). Their readers take
 * them with BigInt (session-selector.ts, odp-tunnel.ts, the signatures), which throws a SyntaxError on
 * other text.
 */
export const isGeneveOptionData = (v: string): boolean => /^(?:0|0x[0-9a-fA-F]+)$/.test(v);

/** The fields format_geneve_opts prints, in its order, with the largest value each holds. */
const FIELDS: ReadonlyArray<readonly [string, number]> = [['class', 0xffff], ['type', 0xff], ['len', 0xff]];

const NUMBER = /^(?:0x[0-9a-fA-F]+|\d+)$/;

/** `{class=0x102,type=0x80,len=4,0x10002/0x7fffffff}{…}` → its options; '' → none. */
export function parseGeneveOptions(text: string, at?: GeneveListAt): GeneveOption[] {
  const fail = (i: number, reason: string): OvsParseError =>
    at ? new OvsParseError(at.what, at.input, at.offset + i, `Geneve option: ${reason}`) : new OvsParseError('geneve options', text, i, reason);
  const out: GeneveOption[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '{') throw fail(i, "expected '{'");
    const close = text.indexOf('}', i);
    if (close < 0) throw fail(text.length, "expected '}'");
    const attrs: OdpKeyAttr[] = [];
    let data: string | undefined;
    let dataMask: string | undefined;
    let next = 0; // index in FIELDS of the first field still allowed
    let p = i + 1;
    // `{}`: every field and the data wildcarded (non-verbose prints none of them).
    const body = text.slice(i + 1, close);
    for (const part of body === '' ? [] : body.split(',')) {
      if (data !== undefined) throw fail(p, `'${part}' after the option data`);
      const eq = part.indexOf('=');
      const [v, m, more] = (eq < 0 ? part : part.slice(eq + 1)).split('/');
      if (more !== undefined) throw fail(p, `'${part}' has two masks`);
      if (eq < 0) {
        for (const x of m === undefined ? [v] : [v, m]) if (!isGeneveOptionData(x)) throw fail(p, `option data ${JSON.stringify(x.slice(0, 40))} is not hex as OVS prints it (0x…, or 0)`);
        data = v;
        dataMask = m;
      } else {
        const name = part.slice(0, eq);
        const f = FIELDS.findIndex(([n]) => n === name);
        if (f < 0) throw fail(p, `unknown field '${name}'`);
        if (f < next) throw fail(p, `'${name}' out of place (OVS prints class, type, len)`);
        for (const x of m === undefined ? [v] : [v, m]) if (!NUMBER.test(x) || Number(x) > FIELDS[f][1]) throw fail(p, `${name} '${x.slice(0, 40)}' is not a number up to ${FIELDS[f][1]}`);
        next = f + 1;
        attrs.push(m === undefined ? { name, value: v } : { name, value: v, mask: m });
      }
      p += part.length + 1;
    }
    out.push({ attrs, data, dataMask });
    i = close + 1;
  }
  return out;
}
