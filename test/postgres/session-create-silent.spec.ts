// POST /trace-sessions with PostgreSQL writes the new session's row on the session-creation lock's
// own connection (a pg Client of its own, not the pool's: TraceSessionStore.underCreateLock,
// insertCentral; 12792da). A connection that falls silent after the lock was had (a partition that
// eats the bytes, a frozen host: nothing closes) left that INSERT waiting for good: PostgreSQL's
// statement_timeout is the server's and never reaches us, TCP keepalive takes about two hours, and
// the POST never answered (before 12792da the wait was synced(), given up after 10 s). The lock's
// statements are now bound as the pool's are (pg-client.ts, SILENT_MS). A connection lost once its
// INSERT was sent is settled under the lock again (madeCentrally). Real PostgreSQL; the silence and the
// cut are test/support/silent-proxy.ts, in front of the lock's connections only.
import { storeUnreachable } from '../../src/common/api-error';
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { SESSION_CREATE_LOCK, TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { testConfig } from '../support/app';
import { silentProxy } from '../support/silent-proxy';
import { pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const replicas = { chassisName: () => 'api', status: () => ({ synced: false }), model: { generation: 1 } } as unknown as ReplicasService;

describe('a create whose lock connection falls silent (real PostgreSQL behind a proxy)', () => {
  it('the POST answers (PostgreSQL unreachable), leaves no session behind, and its retry makes the one', async () => {
    const url = await spools.pg().database('session_create_silent');
    const p = await silentProxy(url);
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const store = await spools.storeOn(url, undefined, env);
    // Only the lock's connection goes through the proxy (underCreateLock connects to central.url);
    // the count and the shipper use the store's own pool.
    const sessions = new TraceSessionStore({ query: store.query, db: store.db, central: { ...store.central!, url: p.url } } as never);
    // SILENT_MS is a minute; the test does not wait that long.
    (sessions as unknown as { silentMs: number }).silentMs = 2000;
    const api = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), store, sessions, replicas);
    const real = sessions.insertCentral.bind(sessions);
    // The link is cut once the lock is had and counted, as the INSERT is sent: nothing passes, closes
    // included (with them passed on, the server's idle_session_timeout closing its end would answer).
    const insert = jest.spyOn(sessions, 'insertCentral').mockImplementationOnce((...args) => (p.partition(), real(...args)));
    const answer = (q: Promise<unknown>) => q.then(() => 201, (e: { status?: number; message?: string }) => e.status ?? e.message);
    try {
      // Without a bound the create never ends: a deadline says so instead of jest's timeout.
      let deadline: NodeJS.Timeout | undefined;
      const first = await Promise.race([
        api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }).then(() => 201, (e: Error) => ({ unreachable: storeUnreachable(e), message: e.message })),
        new Promise((r) => (deadline = setTimeout(() => r('still waiting after 30 s'), 30_000))),
      ]);
      clearTimeout(deadline);
      // PostgreSQL unreachable, as the pool's reads say it (the API's 503: retry).
      expect({ first, insert: insert.mock.calls.length }).toEqual({ first: { unreachable: true, message: expect.stringMatching(/^PostgreSQL sent nothing for 2 s/) }, insert: 1 });
      // Nothing made: not in the spool (its copy was muted and is forgotten), not in PostgreSQL (the
      // INSERT never reached it). The server lets the lock go once it ends the idle session
      // (idle_session_timeout); the retry's lock wait outlasts that.
      expect(store.db.prepare(`SELECT id FROM trace_session`).all()).toEqual([]);
      p.heal();
      // The retry's lock wait is a real one (up to the server's statement_timeout): not silence.
      (sessions as unknown as { silentMs: number }).silentMs = 60_000;
      expect(await answer(api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=2' }))).toBe(201);
      expect(await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active'`)).toEqual([{ filter: 'tcp,tp_dst=2' }]);
    } finally {
      insert.mockRestore();
      await p.close();
    }
  });

  // The INSERT reached PostgreSQL and committed, but the connection was lost before its answer came
  // back (a reset on the path): the POST answered an error (PostgreSQL unreachable: retry) for a session
  // that exists, and a retry made a second. Before 12792da the row went by the shipper, which tries a
  // lost batch again (an upsert), and the POST answered 201 once it arrived. The server holds the lock
  // until that statement has ended, so under the lock again PostgreSQL says whether it was made.
  it('an INSERT that committed but whose answer was lost: the POST answers the session it made', async () => {
    const url = await spools.pg().database('session_create_lost_answer');
    const p = await silentProxy(url);
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '2' };
    const store = await spools.storeOn(url, undefined, env);
    const sessions = new TraceSessionStore({ query: store.query, db: store.db, central: { ...store.central!, url: p.url } } as never);
    const api = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), store, sessions, replicas);
    // The INSERT takes a moment on the server (a trigger), time to cut the link while it runs; the
    // server only finds its client gone when it sends the answer, after the commit.
    await pgRows(url, `CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$`);
    await pgRows(url, `CREATE TRIGGER slow_insert AFTER INSERT ON trace_session FOR EACH ROW EXECUTE FUNCTION slow_insert()`);
    const real = sessions.insertCentral.bind(sessions);
    const insert = jest.spyOn(sessions, 'insertCentral').mockImplementationOnce(async (...args) => {
      const sent = real(...args);
      await waitFor('the INSERT running on the server', async () => (await pgRows(url, `SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'`)).length > 0);
      p.reset();
      return sent;
    });
    try {
      const answered = await api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }).then((s) => s.filter, (e: Error) => e.message);
      // What PostgreSQL holds once the cut connection's session has ended (with it the lock): final.
      await waitFor('the lock let go', async () => !(await pgRows(url, `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1`, [SESSION_CREATE_LOCK])).length);
      const made = (await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active'`)).map((r) => r.filter);
      expect({ answered, made, insert: insert.mock.calls.length }).toEqual({ answered: 'tcp,tp_dst=1', made: ['tcp,tp_dst=1'], insert: 1 });
    } finally {
      insert.mockRestore();
      await p.close();
    }
  });
});
