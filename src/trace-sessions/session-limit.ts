// LIVETRACE_MAX_SESSIONS: every active session is checked against every new datapath flow, so their
// number bounds that work. Checked twice: before anything (the central database's count, where other
// api instances' sessions are, for a quick 409), and again in the write job that inserts the session,
// so that requests at once cannot all pass a count read before any of them inserted (the read and
// the insert were apart across awaits). That second count is the writer's own database's
// (TraceSessionStore.activeCount): with SQLite exact across every process on the file; with
// PostgreSQL exact within this process and as of the shipper's last pull (500 ms) for other instances.
import { ApiError } from '../common/api-error';
import type { WriteContext } from '../storage/writer';
import type { TraceSessionJson, TraceSessionStore } from './trace-session-store';

export const tooManySessions = (active: number, max: number) =>
  new ApiError(409, `${active} trace sessions are active (LIVETRACE_MAX_SESSIONS=${max}): stop one first (DELETE /trace-sessions/:id)`, 'body');

/** The quick check, on what every instance reads. */
export async function checkSessionLimit(sessions: Pick<TraceSessionStore, 'active'>, max: number): Promise<void> {
  const activeNow = (await sessions.active()).filter((s) => s.state === 'active').length;
  if (activeNow >= max) throw tooManySessions(activeNow, max);
}

/** Inside a write job: the new session's id, or the count that refused it. */
export function insertWithinLimit(tx: WriteContext, sessions: Pick<TraceSessionStore, 'activeCount' | 'insert'>, json: Omit<TraceSessionJson, 'id'>, max: number): { id: number } | { refused: number } {
  const n = sessions.activeCount(tx, json.createdAt);
  return n >= max ? { refused: n } : { id: sessions.insert(tx, json) };
}
