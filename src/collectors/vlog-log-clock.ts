// When a vswitchd log line's event happened, on the agent's clock: what the vlog source orders it by
// against its own checks (dpctl/get-flow, timed by Date.now()). The line's own time is vswitchd's
// clock, which may be minutes apart; when it was read is late by the log's lag (the file is read 200 ms
// at a time, a syslog later still), and a check reads the datapath ahead of the log
// (vlog-counters-reset-race.spec.ts). So: the line's time moved by the clocks' offset, taken as the
// smallest (read - logged) of the lines read in the last minute or two (the least-delayed line is
// the best measure of the offset; a window, so that a vswitchd clock stepped back is followed),
// never later than the line was read.
const WINDOW_MS = 60_000;

export class LogClock {
  private bucketStart = -Infinity;
  private current = Infinity;
  private previous = Infinity;

  /** A line logged at `logged` (vswitchd's clock, ms) read at `read` (the agent's): when it happened on the agent's clock. */
  heard(logged: number, read: number): number {
    if (Number.isNaN(logged)) return read;
    if (read - this.bucketStart >= WINDOW_MS) {
      this.previous = read - this.bucketStart >= 2 * WINDOW_MS ? Infinity : this.current;
      this.current = Infinity;
      this.bucketStart = read;
    }
    this.current = Math.min(this.current, read - logged);
    return Math.min(read, logged + Math.min(this.current, this.previous));
  }
}
