// LIVETRACE_MAX_SESSIONS: every active session is checked against every new datapath flow, so their
// number bounds that work. Checked twice: before anything (the central database's count, where other
// api instances' sessions are, for a quick 409), and again in the write job that inserts the session,
// so that requests at once cannot all pass a count read before any of them inserted (the read and
// the insert were apart across awaits). That second count is the writer's own database's
// (TraceSessionStore.activeCount): with SQLite exact across every process on the file. With
// PostgreSQL the spool holds other instances' sessions only as the shipper last pulled them (500 ms):
// there the count (PostgreSQL's, which alone decides then) and the insert, until the row has shipped,
// run under an advisory lock every instance takes (createWithinLimit).
import { ApiError } from '../common/api-error';
import type { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import { CreateLockBusy, type TraceSessionJson, type TraceSessionStore } from './trace-session-store';

export const tooManySessions = (active: number, max: number) =>
  new ApiError(409, `${active} trace sessions are active (LIVETRACE_MAX_SESSIONS=${max}): stop one first (DELETE /trace-sessions/:id)`, 'body');

/** The quick check, on what every instance reads. */
export async function checkSessionLimit(sessions: Pick<TraceSessionStore, 'active'>, max: number): Promise<void> {
  const activeNow = (await sessions.active()).filter((s) => s.state === 'active').length;
  if (activeNow >= max) throw tooManySessions(activeNow, max);
}

/**
 * Counted and inserted under the create lock (PostgreSQL's, across api instances: TraceSessionStore
 * underCreateLock), and with PostgreSQL held until the row has arrived there, where the next
 * instance's count reads it. Resolves to the new session's id; a 409 past the limit; a 503 when the
 * lock is not had in time (another instance holds it: retry).
 *
 * Under the lock PostgreSQL's count alone decides: the spool's, in the insert's transaction, holds the
 * other instances' sessions as its shipper last pulled them (500 ms), so one stopped elsewhere just
 * now still counted there and refused a session PostgreSQL had room for (test/postgres/session-limit.spec.ts).
 * Without the lock (SQLite: the one shared file, exact; PostgreSQL away: the spool is all there is) the
 * count in the insert's transaction decides.
 */
export async function createWithinLimit(
  store: Pick<StoreService, 'writer' | 'shipper'>,
  sessions: Pick<TraceSessionStore, 'active' | 'activeCount' | 'insert' | 'underCreateLock'>,
  json: Omit<TraceSessionJson, 'id'>,
  max: number,
): Promise<number> {
  try {
    return await sessions.underCreateLock(async (locked) => {
      if (locked) await checkSessionLimit(sessions, max); // PostgreSQL's count, under the lock
      const made = await store.writer.submit((tx) => insertWithinLimit(tx, sessions, json, locked ? Infinity : max));
      if ('refused' in made) throw tooManySessions(made.refused, max);
      await store.shipper?.synced();
      return made.id;
    });
  } catch (err) {
    if (err instanceof CreateLockBusy) throw new ApiError(503, err.message);
    throw err;
  }
}

/** Inside a write job: the new session's id, or the count that refused it. */
export function insertWithinLimit(tx: WriteContext, sessions: Pick<TraceSessionStore, 'activeCount' | 'insert'>, json: Omit<TraceSessionJson, 'id'>, max: number): { id: number } | { refused: number } {
  const n = sessions.activeCount(tx, json.createdAt);
  return n >= max ? { refused: n } : { id: sessions.insert(tx, json) };
}
