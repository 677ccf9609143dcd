// The conntrack side of POST /traces: the `ctNext` body field (the states ofproto/trace gives each
// pass it resumes after ct(), its --ct-next options in order) and what the answer says about the
// state every resumed pass ran with, given or ofproto/trace's own assumption.
import { ApiError, badRequest } from '../common/api-error';
import { ctNextArg, MAX_CT_NEXT } from '../ovs/ct-next';
import { recircIdHex } from '../ovs/ids';
import type { SimulatedPass } from '../ovs/trace-passes';

/** `ctNext` of the body → the --ct-next values to send (`trk,est`), in order; absent: none. */
export function ctNextBody(raw: unknown): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw badRequest('ctNext', 'must be a list of conntrack states, one per pass resumed after ct(), e.g. ["trk,est"]');
  if (raw.length > MAX_CT_NEXT) throw badRequest('ctNext', `at most ${MAX_CT_NEXT} states (got ${raw.length})`);
  return raw.map((v: unknown, i) => {
    const at = `ctNext[${i}]`;
    if (typeof v !== 'string') throw new ApiError(400, `${at}: must be a string of conntrack flags, e.g. "trk,est"`, 'ctNext');
    // Every flag once is 30 characters: a longer value is no state, and is not quoted back whole.
    if (v.length > 64) throw new ApiError(400, `${at}: longer than 64 characters (${JSON.stringify(v.slice(0, 24))}…)`, 'ctNext');
    const r = ctNextArg(v);
    if ('error' in r) throw new ApiError(400, `${at}: ${JSON.stringify(v)}: ${r.error}`, 'ctNext');
    return r.arg;
  });
}

/**
 * Which passes resumed after ct() and with what state, given (ctNext) or assumed (ofproto/trace's
 * trk|new); null when no pass resumed. States given past the last resume were never used: said so,
 * since a caller counting ct() stages differently from this OVN would otherwise not know.
 */
export function conntrackSummary(sims: readonly SimulatedPass[], given: number): string | null {
  const resumed = sims.filter((p) => p.ctState !== null);
  const typed = resumed.filter((p) => !p.ctStateAssumed);
  const assumed = resumed.filter((p) => p.ctStateAssumed);
  const parts: string[] = [];
  if (typed.length) {
    parts.push(`passes ${typed.map((p) => `${recircIdHex(p.recircId)} (ct_state=${p.ctState})`).join(', ')} resumed after ct() with the conntrack state given (ctNext, in order)`);
  }
  if (assumed.length) {
    parts.push(
      `passes ${assumed.map((p) => recircIdHex(p.recircId)).join(', ')} resumed after ct() with the conntrack state ofproto/trace assumed ` +
        `(ct_state=${[...new Set(assumed.map((p) => p.ctState))].join(' / ')}, a first packet's)`,
    );
  }
  if (given > typed.length) parts.push(`ctNext gave ${given} states and ${given - typed.length} went unused: ofproto/trace resumed ${resumed.length} passes after ct()`);
  return parts.length ? `${parts.join('; ')}; not a real connection's` : null;
}
