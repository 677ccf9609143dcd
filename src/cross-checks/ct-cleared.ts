// Where ovn-trace cannot show what OVS did: after a `ct_commit`. OVS runs it as ct(commit) without
// recirculation and then clears the packet's conntrack fields (the ct_* fields exist only in the
// pass a ct(…,table=…) recirculated into), so the rest of that pass (the switch's egress toward a
// router port, the router, the next switch up to its own ct) sees `!ct.trk`. ovn-trace's
// ct_commit changes nothing and no --ct value can express untracked (every value has `trk`), so
// it simulates those stages with the state of its last ct action. There, a stage where the two
// ran different logical flows is not a difference when it is explained by that state alone:
//  - ovn-trace's flow tests conntrack state (ct.new, ct.est, ct_mark…), and the live flow does not
//    need a tracked packet (an untracked packet matched it in OVS), or
//  - either flow reads a register that an earlier stage excused this way wrote differently
//    (ls_*_acl_hint sets reg0[7] for ct.new but reg0[8] for !ct.trk; the ACL stages test them).
// Anything else (a stale live flow, a flow that ignores conntrack) still diverges.
import type { SimStage } from './ovn-trace-parse';

const CT_FIELD = /\bct\.(?:new|est|rel|rpl|inv|trk|snat|dnat)\b|\bct_(?:state|mark|label)\b/;
const CT_REQUIRES_TRACKED = /(?:^|[^!])\bct\.(?:new|est|rel|rpl|inv|trk|snat|dnat)\b|\bct_(?:state|mark|label)\b/;
/** Assignment targets that later stages read: registers and flags (`reg0[7] = 1;`, `xreg0[0..47] = …`). */
const ASSIGNED = /(?:^|[;{\s])((?:x{0,2}reg\d+|flags)(?:\.\w+)?(?:\[\d+(?:\.\.\d+)?\])?)\s*=(?!=)/g;

export interface LiveFlowShape {
  match: string | null;
  actions: string | null;
  stale: boolean;
}

/** OVS would have cleared conntrack before the live path reached this logical table of the pipeline. */
export function clearedAt(stages: readonly SimStage[], table: number): boolean {
  const after = stages.find((s) => s.table > table);
  if (after) return after.ctCleared;
  const before = stages.at(-1);
  return !!before && (before.ctCleared || before.actions.some((a) => /^ct_commit(?![A-Za-z0-9_])/.test(a)));
}

/** Whether a match tests conntrack state (ct.est, ct_mark…). */
export const testsConntrack = (match: string) => CT_FIELD.test(match);

export function assigned(actions: string): string[] {
  return [...actions.matchAll(ASSIGNED)].map((m) => m[1]);
}

/**
 * Tracks, along one comparison (or, seeded, from a tie: tie.ts), the registers written differently by
 * stages excused for a conntrack state the live path had cleared. ctCleared false: the live packet's
 * conntrack state is ovn-trace's, and only those registers explain a difference.
 */
export class ClearedCtExcuser {
  private readonly tainted: Set<string>;

  constructor(seed: { tainted?: Iterable<string>; ctCleared?: boolean } = {}) {
    this.tainted = new Set(seed.tainted ?? []);
    this.ctCleared = seed.ctCleared ?? true;
  }

  private readonly ctCleared: boolean;

  /** Whether a match reads a register written differently by a stage excused so far. */
  reads(match: string | null | undefined): boolean {
    return !!match && [...this.tainted].some((r) => match.includes(r));
  }

  /**
   * Whether a difference at a stage in the cleared region is explained by conntrack state alone.
   * sim: ovn-trace's stage there (or none); live: the live flows there (or none).
   */
  excuses(sim: SimStage | undefined, live: readonly LiveFlowShape[]): boolean {
    if (live.some((l) => l.stale)) return false;
    // An untracked packet matched the live flows in OVS: one that needs tracked state cannot be there.
    if (this.ctCleared && !live.every((l) => !CT_REQUIRES_TRACKED.test(l.match ?? '') || this.reads(l.match))) return false;
    const ct = (m: string) => this.ctCleared && CT_FIELD.test(m);
    const explained = sim
      ? sim.match !== null && (ct(sim.match) || this.reads(sim.match))
      : live.some((l) => ct(l.match ?? '') || this.reads(l.match));
    if (!explained) return false;
    for (const a of sim?.actions ?? []) for (const r of assigned(a)) this.tainted.add(r);
    for (const l of live) for (const r of assigned(l.actions ?? '')) this.tainted.add(r);
    return true;
  }
}
