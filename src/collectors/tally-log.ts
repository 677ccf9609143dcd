// A warning about things counted by kind (log events given up, log records refused) said at most
// once each interval: the first at once, then one line with the counts since. A flood (a log of
// garbage, datagrams arriving while another process holds the store's lock) would otherwise be
// repeated line by line into our own log, drowning what that log is for. The counters (metrics)
// still count each one; this only bounds the lines.

/** What a line says: the counts since the last line by kind (sorted), and the latest detail given. */
export interface Tally {
  total: number;
  kinds: Array<[kind: string, n: number]>;
  /** No line was said before this one. */
  first: boolean;
  /** The detail given with the latest add (e.g. which record, and what was wrong with it). */
  last?: string;
}

export class TallyLog {
  private pending = new Map<string, number>();
  private last: string | undefined;
  private lastAt = -Infinity;

  constructor(
    private readonly everyMs: number,
    private readonly say: (t: Tally) => string,
  ) {}

  /** Counts by kind at `now` (`last`: a detail for the line); the line to log now, if one is due. */
  add(kinds: Iterable<[string, number]>, now: number, last?: string): string | null {
    for (const [k, n] of kinds) this.pending.set(k, (this.pending.get(k) ?? 0) + n);
    if (last !== undefined) this.last = last;
    return this.due(now);
  }

  /** The line for what is pending, if one is due at `now` (`force`: a stop, no later line). */
  due(now: number, force = false): string | null {
    if (!this.pending.size || (!force && now - this.lastAt < this.everyMs)) return null;
    const kinds = [...this.pending].sort(([a], [b]) => a.localeCompare(b));
    const t: Tally = { total: kinds.reduce((s, [, n]) => s + n, 0), kinds, first: this.lastAt === -Infinity, last: this.last };
    this.pending = new Map();
    this.lastAt = now;
    return this.say(t);
  }
}
