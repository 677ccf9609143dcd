// LIVETRACE_MAX_SESSIONS: every active session is checked against every new datapath flow, so their
// number bounds that work. Checked twice: before anything (the central database's count, where other
// api instances' sessions are, for a quick 409), and again in the write job that inserts the session,
// so that requests at once cannot all pass a count read before any of them inserted (the read and
// the insert were apart across awaits). That second count is the writer's own database's
// (TraceSessionStore.activeCount): with SQLite exact across every process on the file. With
// PostgreSQL the spool holds other instances' sessions only as the shipper last pulled them (500 ms):
// there the count (PostgreSQL's, with this instance's own sessions not yet shipped) and the insert of
// the row into PostgreSQL itself run under an advisory lock every instance takes (createWithinLimit).
import { Logger } from '@nestjs/common';
import { ApiError, storeUnreachable } from '../common/api-error';
import type { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import { CreateLockBusy, type TraceSessionJson, type TraceSessionStore } from './trace-session-store';

const log = new Logger('TraceSessions');

export const tooManySessions = (active: number, max: number) =>
  new ApiError(409, `${active} trace sessions are active (LIVETRACE_MAX_SESSIONS=${max}): stop one first (DELETE /trace-sessions/:id)`, 'body');

/** The quick check, on what every instance reads; the ids of the sessions it counted. */
export async function checkSessionLimit(sessions: Pick<TraceSessionStore, 'active'>, max: number): Promise<number[]> {
  const ids = (await sessions.active()).filter((s) => s.state === 'active').map((s) => Number(s.id));
  if (ids.length >= max) throw tooManySessions(ids.length, max);
  return ids;
}

/**
 * Counted and inserted under the create lock (PostgreSQL's, across api instances: TraceSessionStore
 * underCreateLock); with PostgreSQL the row is written there on the lock's connection before the lock
 * is let go, where the next instance's count reads it. Resolves to the new session's id; a 409 past
 * the limit; a 503 when the lock is not had in time (another instance holds it: retry).
 *
 * The row goes to PostgreSQL directly, not by this instance's shipper: a create that waited for its
 * row to ship let go of the lock when that wait timed out (answered 503) with the row in its spool
 * only, shipped later; another instance counting meanwhile read PostgreSQL without it, and both were
 * made, past the limit, one of them answered 503 (test/postgres/session-limit.spec.ts). Now the
 * session exists once PostgreSQL committed its row: the answer is 201, or an error and nothing made
 * (its spool copy, muted, is forgotten). A connection lost during that statement: the server lets go
 * of the lock only once the statement has ended, so under the lock again PostgreSQL says whether it
 * was made (madeCentrally: 201 if so; test/postgres/session-create-silent.spec.ts); with PostgreSQL
 * unreachable the outcome stays unknown here (an error), but the next count, whoever's, reads the row.
 *
 * Under the lock PostgreSQL's count decides, with this instance's own sessions not shipped yet (made
 * while PostgreSQL was away, below: they ship later): the spool's whole count, in the insert's
 * transaction, holds the other instances' sessions as its shipper last pulled them (500 ms), so one
 * stopped elsewhere just now still counted there and refused a session PostgreSQL had room for.
 * Without the lock (SQLite: the one shared file, exact; PostgreSQL away: the spool is all there is) the
 * count in the insert's transaction decides, and the row ships as every other write.
 */
export async function createWithinLimit(
  store: Pick<StoreService, 'writer' | 'shipper'>,
  sessions: Pick<TraceSessionStore, 'active' | 'activeCount' | 'unshippedActive' | 'insert' | 'insertCentral' | 'madeCentrally' | 'forget' | 'underCreateLock'>,
  json: Omit<TraceSessionJson, 'id'>,
  max: number,
): Promise<number> {
  try {
    return await sessions.underCreateLock(async (lock) => {
      const central = lock ? await checkSessionLimit(sessions, max) : undefined; // PostgreSQL's, under the lock
      const made = await store.writer.submit((tx) => insertWithinLimit(tx, sessions, json, max, central));
      if ('refused' in made) throw tooManySessions(made.refused, max);
      if (!lock) {
        await store.shipper?.synced();
        return made.id;
      }
      try {
        await sessions.insertCentral(lock, made.id, json);
      } catch (err) {
        // The connection lost with the INSERT sent: it may have committed. Made, it is answered as made
        // (a 503 would have its retry make a second); its spool copy, muted, stays.
        const e = err as Error & { code?: string };
        const known = storeUnreachable(err) ? await sessions.madeCentrally(made.id) : false;
        if (known) log.warn(`session ${made.id}: the connection its INSERT went on was lost (${e.message}); PostgreSQL holds it: answered as made`);
        if (known) return made.id;
        await store.writer.submit((tx) => sessions.forget(tx, made.id)).catch(() => undefined);
        if (known === false) throw err;
        // Not known (PostgreSQL unreachable again): the 503 names the id, so that the client (and the
        // log) can ask before retrying; a retry alone may make a second session.
        const unknown = `session ${made.id} may have been made (the connection was lost after its INSERT was sent): GET /trace-sessions/${made.id} says, once PostgreSQL answers`;
        log.warn(`${unknown}; ${e.message}`);
        throw Object.assign(new Error(`${e.message}; ${unknown}`), { code: e.code, cause: err });
      }
      return made.id;
    });
  } catch (err) {
    if (err instanceof CreateLockBusy) throw new ApiError(503, err.message);
    throw err;
  }
}

/**
 * Inside a write job: the new session's id, or the count that refused it. `central`: the active
 * sessions PostgreSQL holds (read under the lock), counted with this process's own not yet shipped;
 * the row is then written muted (the caller puts it in PostgreSQL). Without it the writer's own
 * database's count.
 */
export function insertWithinLimit(
  tx: WriteContext,
  sessions: Pick<TraceSessionStore, 'activeCount' | 'unshippedActive' | 'insert'>,
  json: Omit<TraceSessionJson, 'id'>,
  max: number,
  central?: number[],
): { id: number } | { refused: number } {
  const n = central ? new Set([...central, ...sessions.unshippedActive(tx, json.createdAt)]).size : sessions.activeCount(tx, json.createdAt);
  return n >= max ? { refused: n } : { id: sessions.insert(tx, json, !!central) };
}
