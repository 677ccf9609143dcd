// The reconnect delay policy of OVS lib/reconnect.c (and python/ovs/reconnect.py), as a pure
// state machine so it can be tested without sockets or clocks.
//
// - The first attempt, and one attempt per remote after it ("free tries"), go out immediately:
//   with a list of remotes every one is tried once before any waiting.
// - Then the delay starts at minMs and doubles up to maxMs.
// - A connection that stayed up at least as long as the current backoff resets it to minMs,
//   so a server restart after a long healthy session is retried after 1 s, not 8 s.

export interface BackoffOptions {
  minMs?: number;
  maxMs?: number;
  /** Attempts allowed without delay after a failure (OVS: the number of remotes). */
  freeTries?: number;
}

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  private freeTries: number;
  private current = 0;

  constructor(options: BackoffOptions = {}) {
    this.minMs = options.minMs ?? 1000;
    this.maxMs = Math.max(options.maxMs ?? 8000, this.minMs);
    this.freeTries = options.freeTries ?? 1;
  }

  /** Delay before the next attempt, given how the last one ended. */
  next(outcome: { connected: boolean; upForMs?: number }): number {
    if (this.freeTries > 1) {
      this.freeTries--;
      this.current = 0;
    } else if (outcome.connected && (outcome.upForMs ?? 0) >= this.current) {
      this.current = this.minMs;
    } else if (this.current < this.minMs) {
      this.current = this.minMs;
    } else if (this.current < this.maxMs / 2) {
      this.current *= 2;
    } else {
      this.current = this.maxMs;
    }
    return this.current;
  }

  /** After a session is declared up: later failures start from the remotes' free tries again. */
  reset(freeTries: number): void {
    this.freeTries = freeTries;
  }

  get currentMs(): number {
    return this.current;
  }
}

/** Fisher–Yates; `random` is injectable for tests. */
export function shuffle<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
