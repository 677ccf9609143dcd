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
 * The passes in the reply's order: the traced one, then ofproto/trace's recirculation queue, which it
 * runs first in, first out, so a pass always comes after the pass that queued it. A continuation whose
 * recirc id no earlier pass queued (never seen) keeps parent null rather than a guessed one.
 */
export function simulatedPasses(trace: OfprotoTrace): SimulatedPass[] {
  const out: SimulatedPass[] = [{ pass: trace.pass, recircId: flowRecircId(trace.pass.flow), parent: null, ctState: null, ctStateAssumed: false }];
  // Actions that did not parse queue nothing we can read: their continuations keep parent null.
  const queuedBy = (p: TracePass): number[] => recircTargets(p.datapathActionsParsed ?? []);
  const queued: number[][] = [queuedBy(trace.pass)];
  for (const c of trace.continuations) {
    const id = recircNumber(c.recircId);
    const parent = queued.findIndex((q) => q.includes(id));
    out.push({ pass: c, recircId: id, parent: parent < 0 ? null : parent, ctState: c.ctState, ctStateAssumed: c.ctStateAssumed });
    queued.push(queuedBy(c));
  }
  return out;
}
