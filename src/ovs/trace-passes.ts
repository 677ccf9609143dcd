// Every pass one ofproto/trace reply simulated, in the order the daemon ran them, each linked to
// the pass whose recirc(0xN) queued it. A hand-typed flow (POST /traces) has no datapath flows, so
// these links, read from the reply itself, are the only recirculation edges its path has.
import type { OfprotoTrace, TracePass } from './ofproto-trace';
import { recircTargets } from './odp-actions';

export interface SimulatedPass {
  readonly pass: TracePass;
  /** The recirc_id the pass ran with: 0 for the traced flow unless typed otherwise, 0xN for a continuation. */
  readonly recircId: number;
  /** Index (in this list) of the pass whose datapath actions queued this one; null for the traced pass. */
  readonly parent: number | null;
  /** The conntrack state the pass resumed with (`trk|new`), null for the traced pass and a plain recirc(). */
  readonly ctState: string | null;
  /** True when that state is ofproto/trace's default, not a `--ct-next` given with the flow. */
  readonly ctStateAssumed: boolean;
}

// OVS prints recirc_id in hex; a decimal of up to 9 digits (hand-typed flows) always fits 32 bits.
const RECIRC_FIELD = /(?:^|,)recirc_id=(0x[0-9a-f]{1,8}|\d{1,9})(?=,|$)/;
const recircNumber = (s: string): number => (s.startsWith('0x') ? parseInt(s.slice(2), 16) : parseInt(s, 10));

/** The recirc_id of a `Flow:` line (OpenFlow syntax), 0 when it has none. */
export function flowRecircId(flow: string): number {
  const m = RECIRC_FIELD.exec(flow);
  return m ? recircNumber(m[1]) : 0;
}

/**
 * ofproto/trace's recirculation queue replayed over passes in the order the daemon ran them (each with
 * the recirc id it ran with and the ids its Datapath actions queued): for each pass, the index of the
 * pass whose queue entry it took. The daemon runs its queue first in, first out, so a pass takes the
 * oldest entry not yet taken with its id: OVS gives identical frozen states one recirc id, so the same
 * id can be queued twice (two ct() of one pass, or a loop up to the recirculation limit), each time by
 * another pass. Parent null for the first pass and for one whose id no earlier pass queued (never
 * guessed); `untaken`, the entries no pass took (the recirculation limit stopped the trace before them).
 */
export function replayQueue(passes: readonly { readonly recircId: number; readonly queued: readonly number[] }[]): {
  parents: Array<number | null>;
  untaken: Array<{ by: number; id: number }>;
} {
  const waiting = new Map<number, number[]>();
  const parents = passes.map((p, i) => {
    const parent = i === 0 ? null : (waiting.get(p.recircId)?.shift() ?? null);
    for (const id of p.queued) waiting.get(id)?.push(i) ?? waiting.set(id, [i]);
    return parent;
  });
  const untaken = [...waiting].flatMap(([id, by]) => by.map((b) => ({ by: b, id }))).sort((a, b) => a.by - b.by);
  return { parents, untaken };
}

/**
 * The passes in the reply's order: the traced one, then ofproto/trace's recirculation queue, which it
 * runs first in, first out, so a pass always comes after the pass that queued it (replayQueue).
 */
export function simulatedPasses(trace: OfprotoTrace): SimulatedPass[] {
  // Actions that did not parse queue nothing we can read: their continuations keep parent null.
  const queuedBy = (p: TracePass): number[] => recircTargets(p.datapathActionsParsed ?? []);
  const all = [trace.pass, ...trace.continuations];
  const ids = [flowRecircId(trace.pass.flow), ...trace.continuations.map((c) => recircNumber(c.recircId))];
  const { parents } = replayQueue(all.map((p, i) => ({ recircId: ids[i], queued: queuedBy(p) })));
  return all.map((pass, i) => {
    const c = i === 0 ? null : trace.continuations[i - 1];
    return { pass, recircId: ids[i], parent: parents[i], ctState: c?.ctState ?? null, ctStateAssumed: c?.ctStateAssumed ?? false };
  });
}
