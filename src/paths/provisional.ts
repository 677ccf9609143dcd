// Whether a tunnel hop's pick may still change: candidates its look did not read (`sure`, the look's
// bound: docs/multi-chassis.md stop 23) or passes a chassis has not stored yet (issue 19). A path is
// built when it is read, from what each chassis's agent has stored by then. Read before the
// receiving chassis stored this packet's arrival, the hop links the nearest arrival stored that
// fits, maybe an earlier packet's (an ICMP arrival fits a TCP packet sent after it through hv1's
// protocol-wildcarded megaflow); read from an arrival before the sending chassis stored this
// packet's sender, the same way an earlier packet's sender. A chassis's chassis_mark M says every
// pass its agent first saw at or before M is stored (collectors/traced-mark.ts); one not stored yet
// starts after M. One rule for both sides, `near` the flow the link looked from (the sender for its
// arrival, the arrival for its sender) and M the other side's: the pick stands once no such pass
// could be linked instead:
// - linked or not: M past near's lifetime end plus the skew (later passes are outside the window);
// - linked: M past near's start by more than the pick's distance from it (`nearer` ranks the start
//   first: a pass starting after M is farther, and a tie is not counted as settled).
// Times compared as the link compares them (each chassis's own clock; the skew covers the rest).
// A chassis that is unknown for the tunnel, never told a mark, or told none reaching that point
// would keep the hop provisional for good (a chassis deleted after it sent): once the reader's clock
// is past the point by the silent bound (LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS, the same
// "gone for good" as the central retention's; 0: wait for good) the hop is settled without it. The
// reader's clock against an agent's time is off by their offset only, nothing next to hours.
// Into the arrival a path was asked for, that arrival is the receiver side's pick.
import type { LinkLook } from './path-store';
import type { LinkFlow } from './tunnel-link';

export interface HopTimes {
  /** The flow the link looked from: the sender when its arrival is picked, the arrival when its sender is. */
  near: Pick<LinkFlow, 'from' | 'to'>;
  /** The pass linked on the other side (its start), undefined when none was. */
  pick?: Pick<LinkFlow, 'from'>;
}

/** The other side's mark (epoch ms) a hop waits for: settled once the mark is past it. */
export function settlesAt(t: HopTimes, skewMs: number): number {
  const windowEnd = t.near.to + skewMs;
  return t.pick ? Math.min(windowEnd, t.near.from + Math.abs(t.pick.from - t.near.from)) : windowEnd;
}

/** Provisional: the other side's chassis never told a mark, or it has not passed settlesAt. */
export function isProvisional(t: HopTimes, mark: number | null, skewMs: number): boolean {
  return mark === null || !(mark > settlesAt(t, skewMs));
}

/**
 * Whether a look's pick stands whatever it did not read: the look was not bounded, or the pick
 * started nearer `near` than where every bounded side stopped (a candidate not read started at or
 * beyond that; `nearer` ranks the start first, and a tie there may go either way).
 */
export function sure(look: LinkLook | undefined, near: number, pick: { from: number } | undefined): boolean {
  if (!look?.bounded) return true;
  if (!pick) return false;
  const d = Math.abs(pick.from - near);
  const { before, after } = look.reach;
  if (before !== null && d >= near - Date.parse(before)) return false;
  if (after !== null && d >= Date.parse(after) - near) return false;
  return true;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Which side of a hop a pass may still be stored on: the arrival's chassis, or (read from an arrival) the sender's. */
export type LinkSide = 'receiver' | 'sender';

const WAITS_FOR: Record<LinkSide, { who: string; hop: string; what: string }> = {
  receiver: { who: 'the receiving chassis', hop: 'from', what: 'an arrival' },
  sender: { who: 'the sending chassis', hop: 'into', what: 'a sender' },
};

/**
 * What one hop says of its judging (TunnelHop's fields, LinkMarks.judge): `provisional` while a side
 * may still link another pass, `settledWithout` whom it was settled without (a chassis name, or the
 * tunnel IP of one unknown); each present only when it says something.
 */
export interface HopMarks {
  provisional?: true;
  settledWithout?: string[];
}

/** Both sides' marks of one hop (the hop into an asked arrival is judged from each side): provisional if either is. */
export function bothSides(a: HopMarks, b: HopMarks = {}): HopMarks {
  const without = [...new Set([...(a.settledWithout ?? []), ...(b.settledWithout ?? [])])];
  return { ...(a.provisional || b.provisional ? { provisional: true as const } : {}), ...(without.length ? { settledWithout: without } : {}) };
}

/** A path verdict's fields from the marks (LinkMarks.verdictFields): each present only when it says something. */
export interface MarkFields {
  provisional?: true;
  provisionalReason?: string;
  settledReason?: string;
  settledWithout?: string[];
}

/**
 * The marks of the chassis one path reaches, read once each, and why its hops are provisional: the
 * verdict's `provisionalReason` names each chassis waited for, its mark, and what it waits for.
 */
export class LinkMarks {
  private readonly marks = new Map<string, Promise<string | null>>();
  private readonly reasons: string[] = [];
  private readonly settled: string[] = [];
  /** Whom those were settled without, for a reader to name before the reason (web/describe.ts). */
  private readonly without = new Set<string>();

  constructor(
    private readonly read: (chassis: string) => Promise<string | null>,
    private readonly skewMs: number,
    /** How long after a hop's point a chassis that has not passed it is waited for; 0: for good. */
    private readonly silentMs = 0,
  ) {}

  /**
   * Whether a hop may still change while `chassis` (on `side`; null: none known for the tunnel's
   * IP, `ip`) has not stored a pass that would be picked instead, or was settled without it; the
   * reason kept. `traceId`: the pass the link looked from (the sender's for the receiver side, the
   * arrival's for the sender side).
   */
  async judge(side: LinkSide, chassis: string | null, traceId: number, t: HopTimes, ip?: string): Promise<HopMarks> {
    const w = WAITS_FOR[side];
    const hop = `the hop ${w.hop} trace ${traceId}`;
    return this.judged(w.who, chassis, t, { pending: `${hop} may still link ${w.what} stored later`, settled: `${hop} was settled without it: ${w.what} stored later is linked when the path is read again` }, ip);
  }

  /**
   * Read from an arrival no stored sender fits (`near`, the arrival): the path starts there, and
   * may start at a sender `chassis` stores later, the same rule with nothing picked (the window's end).
   */
  async judgeUnsent(chassis: string | null, traceId: number, srcIp: string, near: HopTimes['near']): Promise<HopMarks> {
    const starts = `trace ${traceId} arrived through a tunnel from ${srcIp} and no sender of it is stored: the path starts at that arrival`;
    return this.judged(WAITS_FOR.sender.who, chassis, { near }, { pending: `${starts} and may still start at a sender stored later`, settled: `${starts}, settled without it: a sender stored later is linked when the path is read again` }, srcIp);
  }

  /** `what`: what the hop (or the path's start) may still do while waited for, and what settling it meant. */
  private async judged(unknown: string, chassis: string | null, t: HopTimes, what: { pending: string; settled: string }, ip?: string): Promise<HopMarks> {
    const text = chassis === null ? null : await this.markOf(chassis);
    const mark = text === null ? null : Date.parse(text);
    if (!isProvisional(t, Number.isNaN(mark) ? null : mark, this.skewMs)) return {};
    const who = chassis === null ? `${unknown} (unknown for this tunnel)` : `chassis ${chassis}`;
    const told = text === null ? `${who} has not told what its agent stored` : `${who} has stored what its agent traced through ${text} only`;
    const point = settlesAt(t, this.skewMs);
    if (this.silentMs > 0 && Date.now() > point + this.silentMs) {
      const silent = chassis === null ? 'unknown' : 'silent';
      this.settled.push(`${told}, ${silent} for more than ${this.silentMs / 3_600_000} h past ${iso(point)}: ${what.settled}`);
      // A chassis unknown for the tunnel is known by the tunnel's far IP only.
      const whom = chassis ?? ip ?? 'an unknown chassis';
      this.without.add(whom);
      return { settledWithout: [whom] };
    }
    this.reasons.push(`${told}: ${what.pending}, until that mark passes ${iso(point)}`);
    return { provisional: true };
  }

  /**
   * What the verdict says of the hops judged: `provisional` with every such hop's reason, joined;
   * `settledReason` and `settledWithout` for hops settled without their chassis (unknown or silent
   * past the bound): why, and whom (each chassis once; one unknown for the tunnel by its IP).
   */
  verdictFields(): MarkFields {
    return {
      ...(this.reasons.length ? { provisional: true as const, provisionalReason: this.reasons.join('; ') } : {}),
      ...(this.settled.length ? { settledReason: this.settled.join('; '), settledWithout: [...this.without] } : {}),
    };
  }

  private markOf(chassis: string): Promise<string | null> {
    let m = this.marks.get(chassis);
    if (!m) this.marks.set(chassis, (m = this.read(chassis)));
    return m;
  }
}
