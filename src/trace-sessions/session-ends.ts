// The end of a session this agent decided (maxTraces reached, its expiry, a DELETE), written with its
// last counters. The agent lets go of the session at once (no more traces for it), so an end whose
// write failed (a full disk, another process's write lock past the writer's wait) is kept and written
// again at each housekeeping: dropped, the session stayed active in the store for good (the agent's
// polls skip a session it ended), counted under LIVETRACE_MAX_SESSIONS and carried out by the others.
import type { StoreWriter } from '../storage/writer';
import type { SessionStats, TraceSessionStore } from './trace-session-store';

export type EndState = 'completed' | 'expired' | 'stopped';

/** What the end's write reads of a session (the service's ActiveSession). */
export interface Ending {
  json: { id: number };
  chassis: string;
  local: SessionStats;
}

export class SessionEnds {
  private readonly unwritten = new Map<Ending, { state: EndState; at: string }>();

  constructor(
    private readonly writer: Pick<StoreWriter, 'submit'>,
    private readonly sessions: Pick<TraceSessionStore, 'saveStats' | 'end'>,
  ) {}

  /** The end's write; one that fails is kept for `retry` and thrown. */
  async write(s: Ending, state: EndState, at: string): Promise<void> {
    try {
      await this.writer.submit((tx) => {
        this.sessions.saveStats(tx, s.json.id, s.chassis, s.local);
        this.sessions.end(tx, s.json.id, state, at);
      });
      this.unwritten.delete(s);
    } catch (err) {
      this.unwritten.set(s, { state, at });
      throw err;
    }
  }

  /** The ends whose write failed, at the time they were decided (an end at or after the expiry is the expiry). */
  async retry(): Promise<void> {
    for (const [s, e] of [...this.unwritten]) await this.write(s, e.state, e.at);
  }
}
