// The writes of this chassis's session counters (its own row per session, trace_session_counter):
// the service counts in memory on the hot path (every flow selected, trace stored, dropped) and
// marks the session changed; its changed counters are written each second and before an answer
// read from the store. Apart from the service because the write's ordering is its own concern: one
// write after the other, so whoever awaits flush() reads every count made before the call.
import type { StoreWriter } from '../storage/writer';
import type { Ending } from './session-ends';
import type { TraceSessionStore } from './trace-session-store';

export class LocalCounters {
  /**
   * Sessions whose counters changed since they were last written. Ended ones stay until written:
   * a trace job in flight when its session ended still counts what it stored.
   */
  private readonly unflushed = new Set<Ending>();
  /**
   * The counter write under way: writes run one after the other, so whoever awaits flush() reads
   * every count made before the call. A reader whose flush found nothing to write while the
   * timer's write had not committed yet read the counters of the write before (issue 19).
   */
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly writer: Pick<StoreWriter, 'submit'>,
    private readonly sessions: Pick<TraceSessionStore, 'saveStats'>,
  ) {}

  /** `s.local` changed: written by the next flush. */
  changed(s: Ending): void {
    this.unflushed.add(s);
  }

  /** Writes the changed counters; resolves once committed. */
  flush(): Promise<void> {
    const next = this.flushing.then(() => this.flushOnce());
    this.flushing = next.catch(() => undefined);
    return next;
  }

  private async flushOnce(): Promise<void> {
    const due = [...this.unflushed];
    if (!due.length) return;
    this.unflushed.clear();
    try {
      await this.writer.submit((tx) => {
        for (const s of due) this.sessions.saveStats(tx, s.json.id, s.chassis, s.local);
      });
    } catch (err) {
      // Not written: the next flush writes them (the counts themselves are in memory).
      for (const s of due) this.unflushed.add(s);
      throw err;
    }
  }
}
