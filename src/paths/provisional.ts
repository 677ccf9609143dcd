// Whether a tunnel hop's pick may still change: candidates its look did not read (`sure`, the look's
// bound: docs/multi-chassis.md stop 23) or arrivals the receiver has not stored yet (issue 19). A
// path is built when it is read, from what each chassis's agent has stored by then: read before the
// receiving chassis stored this packet's arrival, the hop links the nearest arrival stored that fits,
// maybe an earlier packet's (an ICMP arrival fits a TCP packet sent after it through hv1's
// protocol-wildcarded megaflow). The receiver's chassis_mark M says every arrival its agent first saw
// at or before M is stored (collectors/traced-mark.ts); one not stored yet starts after M. The hop
// stands once no such arrival could be linked instead:
// - linked or not: M past the sender's lifetime end plus the skew (later arrivals are outside the
//   link's window);
// - linked: M past the sender's start by more than the pick's distance from it (`nearer` ranks the
//   start first: an arrival starting after M is farther, and a tie is not counted as settled).
// Times compared as the link compares them (each chassis's own clock; the skew covers the rest). One
// rule whichever way the hop was reached: into the arrival a path was asked for, that arrival is its pick.
import type { LinkLook } from './path-store';
import type { LinkFlow } from './tunnel-link';

export interface HopTimes {
  sender: Pick<LinkFlow, 'from' | 'to'>;
  /** The arrival linked (its start), undefined when none was. */
  pick?: Pick<LinkFlow, 'from'>;
}

/** The receiver's mark (epoch ms) a hop waits for: settled once the mark is past it. */
export function settlesAt(t: HopTimes, skewMs: number): number {
  const windowEnd = t.sender.to + skewMs;
  return t.pick ? Math.min(windowEnd, t.sender.from + Math.abs(t.pick.from - t.sender.from)) : windowEnd;
}

/** Provisional: the receiver never told a mark, or it has not passed settlesAt. */
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

/**
 * The marks of the chassis one path reaches, read once each, and why its hops are provisional: the
 * verdict's `provisionalReason` names each receiving chassis, its mark, and what it waits for.
 */
export class ReceiverMarks {
  private readonly marks = new Map<string, Promise<string | null>>();
  private readonly reasons: string[] = [];

  constructor(
    private readonly read: (chassis: string) => Promise<string | null>,
    private readonly skewMs: number,
  ) {}

  /** Whether the hop into `receiver` (null: no chassis known for the remote IP) may still change; the reason kept. */
  async judge(receiver: string | null, fromTraceId: number, t: HopTimes): Promise<boolean> {
    const text = receiver === null ? null : await this.markOf(receiver);
    const mark = text === null ? null : Date.parse(text);
    if (!isProvisional(t, Number.isNaN(mark) ? null : mark, this.skewMs)) return false;
    const who = receiver === null ? 'the receiving chassis (unknown for this tunnel)' : `chassis ${receiver}`;
    const told = text === null ? `${who} has not told what its agent stored` : `${who} has stored what its agent traced through ${text} only`;
    this.reasons.push(`${told}: the hop from trace ${fromTraceId} may still link an arrival stored later, until that mark passes ${iso(settlesAt(t, this.skewMs))}`);
    return true;
  }

  /** Every provisional hop's reason, joined; undefined when none is. */
  reason(): string | undefined {
    return this.reasons.length ? this.reasons.join('; ') : undefined;
  }

  private markOf(chassis: string): Promise<string | null> {
    let m = this.marks.get(chassis);
    if (!m) this.marks.set(chassis, (m = this.read(chassis)));
    return m;
  }
}
