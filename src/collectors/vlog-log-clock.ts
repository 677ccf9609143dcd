// When a vswitchd log line's event happened, on the agent's clock: what the vlog source orders it by
// against its own checks (dpctl/get-flow, timed by Date.now()). The line's own time is vswitchd's
// clock, which may be minutes apart; when it was read is late by the log's lag (the file is read 200 ms
// at a time, a syslog later still), and a check reads the datapath ahead of the log
// (vlog-counters-reset-race.spec.ts). So: the line's time moved by the clocks' offset, taken as the
// smallest (read - logged) of the lines read in the last minute or two (the least-delayed line is
// the best measure of the offset; a window, so that a vswitchd clock stepped back is followed),
// never later than the line was read. The times a vlog lifetime shows are the other way round, all on
// vswitchd's clock (shownAt): its log gives its first seen and most of its ends.
const WINDOW_MS = 60_000;

export class LogClock {
  private bucketStart = -Infinity;
  private current = Infinity;
  private previous = Infinity;
  /** The offset (agent's clock - vswitchd's, ms) last measured; null before a line is read. */
  private measured: number | null = null;

  /** A line logged at `logged` (vswitchd's clock, ms) read at `read` (the agent's): when it happened on the agent's clock. */
  heard(logged: number, read: number): number {
    if (Number.isNaN(logged)) return read;
    if (read - this.bucketStart >= WINDOW_MS) {
      this.previous = read - this.bucketStart >= 2 * WINDOW_MS ? Infinity : this.current;
      this.current = Infinity;
      this.bucketStart = read;
    }
    this.current = Math.min(this.current, read - logged);
    this.measured = Math.min(this.current, this.previous);
    return Math.min(read, logged + this.measured);
  }

  /** The clocks' offset as last measured (a quiet log keeps it: clocks drift slowly); null: no line read since the start. */
  offset(): number | null {
    return this.measured;
  }
}

/**
 * When a stored lifetime began, and when its end was heard, on the agent's clock (heard_at: what its
 * events are ordered by); a row of before heard_at was set, by its own times.
 */
export const began = (l: { heardAt: string | null; firstSeen: string }): number => Date.parse(l.heardAt ?? l.firstSeen);
export const ended = (l: { heardAt: string | null; removedAt: string | null }): number => (l.removedAt === null ? NaN : Date.parse(l.heardAt ?? l.removedAt));

/**
 * A check's time `at` (the agent's clock) as vlog lifetime `l` shows its times: on vswitchd's clock,
 * that of the log line that began it, the agent's time less the clocks' `offset`. None measured since
 * the start (read back, no line read since): the one its begin was heard with (`heard`, its heard_at,
 * less first_seen; 0 for a row from before heard_at). Never before its first or last seen: the offset
 * is measured from the log's lag, and mixing the two clocks, with vswitchd's ahead, showed a lifetime
 * ending before it began (a negative duration).
 */
export function shownAt(at: number, offset: number | null | undefined, l: { firstSeen: string; lastSeen?: string; heard: number | null }): string {
  const off = offset ?? (l.heard === null ? 0 : l.heard - Date.parse(l.firstSeen));
  return new Date(Math.max(at - off, Date.parse(l.firstSeen), Date.parse(l.lastSeen ?? l.firstSeen))).toISOString();
}

/**
 * When an open lifetime was last seen, on the agent's clock, read back at a start (no check in memory):
 * its last_seen, vswitchd's clock, moved by the offset its begin was heard with (heard_at less
 * first_seen: shownAt's own, the other way; 0 for a row from before heard_at). Taken as it was, a
 * vswitchd minutes behind had every lifetime read back checked at the first tick, minutes ahead one
 * long idle waited a max-idle more.
 */
export const lastHeard = (l: { firstSeen: string; lastSeen: string; heardAt: string | null }): number =>
  Date.parse(l.lastSeen) + (l.heardAt === null ? 0 : Date.parse(l.heardAt) - Date.parse(l.firstSeen));
