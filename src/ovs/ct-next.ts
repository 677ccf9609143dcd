// ofproto/trace's `--ct-next FLAGS`: the conntrack state the next pass resumed after ct() gets, one
// option per resume, in order (past the last, its default trk|new). Checked here as OVS checks it
// (lib/flow.c parse_ct_state + validate_ct_state, the same in 3.1, 3.5 and 4.0), so a bad value is a
// 400 naming it before anything reaches the daemon, and what is sent is only flag names and commas.
import { CT_STATE_BITS, type CtStateFlag } from './odp-key-views';

/** More resumes than a pipeline has ct() stages in any OVN we know of; past this a list is a mistake. */
export const MAX_CT_NEXT = 16;

/**
 * One value (`trk,est`, or `trk|est` as our answers and OVS's own flows print it) → the argument OVS
 * takes (`trk,est`: OVS splits on commas and spaces only, a `|` is an unknown flag to it), or why not.
 */
export function ctNextArg(value: string): { arg: string } | { error: string } {
  const names = value.split(/[,|]/);
  let bits = 0;
  for (const name of names) {
    const bit = CT_STATE_BITS[name as CtStateFlag];
    if (!Object.hasOwn(CT_STATE_BITS, name)) {
      return { error: name ? `unknown conntrack flag ${JSON.stringify(name.slice(0, 16))} (known: ${Object.keys(CT_STATE_BITS).join(', ')})` : 'an empty flag (flags are joined by "," or "|")' };
    }
    if (bits & bit) return { error: `flag "${name}" given twice` };
    bits |= bit;
  }
  const why = ctStateInvalid(bits);
  return why ? { error: why } : { arg: names.join(',') };
}

/** validate_ct_state's rules (ovs-fields(7)): what OVS would refuse, in its words. */
function ctStateInvalid(bits: number): string | null {
  const B = CT_STATE_BITS;
  if (!(bits & B.trk)) return '"trk" is required (without it no other flag may be set)';
  if (bits & B.inv && bits & ~(B.trk | B.inv)) return 'when "inv" is set, only "trk" may also be set';
  if (bits & B.new && bits & B.est) return '"new" and "est" are mutually exclusive';
  if (bits & B.new && bits & B.rpl) return '"new" and "rpl" are mutually exclusive';
  return null;
}
