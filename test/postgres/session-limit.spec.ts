// LIVETRACE_MAX_SESSIONS across api instances sharing PostgreSQL. Each instance writes its new
// session into its own spool and the shipper copies it to PostgreSQL; the in-transaction count
// (session-limit.ts) sees the other instances' sessions only as its spool last pulled them (every
// 500 ms), so two instances asked at once both counted none and both made a session. The count and
// the insert, up to the row's arrival in PostgreSQL, now run under one PostgreSQL advisory lock.
// Real PostgreSQL (a cluster of the file's own), two api instances' stores on it.
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { pgUnreachable } from '../../src/storage/postgres';
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { testConfig } from '../support/app';
import { pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const replicas = { chassisName: () => 'api', status: () => ({ synced: false }), model: { generation: 1 } } as unknown as ReplicasService;
const outcome = (r: PromiseSettledResult<unknown>) => (r.status === 'fulfilled' ? 201 : ((r.reason as { status?: number }).status ?? String(r.reason)));

describe('LIVETRACE_MAX_SESSIONS across api instances (real PostgreSQL)', () => {
  it('two instances asked at once under a limit of 1: one session made, the other answered 409', async () => {
    const url = await spools.pg().database('session_limit');
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const apis = [await spools.storeOn(url, undefined, env), await spools.storeOn(url, undefined, env)].map(
      (s) => new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), s, new TraceSessionStore(s), replicas),
    );
    const results = await Promise.allSettled(apis.map((a, i) => a.create({ bridge: 'br-int', filter: `tcp,tp_dst=${i + 1}` })));
    expect(results.map(outcome).sort()).toEqual([201, 409]);
    expect(await pgRows(url, `SELECT count(*)::int AS n FROM trace_session WHERE state = 'active'`)).toEqual([{ n: 1 }]);
  });

  // The count in the insert's transaction is the spool's: another instance's session as the shipper last
  // pulled it (every 500 ms). One stopped elsewhere just now still counted there, and under a limit
  // reached refused a session PostgreSQL's own count, under the lock, had let through: a false 409.
  it('a session stopped on another instance just now no longer counts: the next one is made (201, not 409)', async () => {
    const url = await spools.pg().database('session_limit_stopped');
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const stores = [await spools.storeOn(url, undefined, env), await spools.storeOn(url, undefined, env)];
    const [a, b] = stores.map((s) => new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), s, new TraceSessionStore(s), replicas));
    const first = await b.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' });
    await stores[0].shipper!.pullSessions(); // A's spool holds B's session, active
    // A's spool stays as of that pull (its shipper pulls every 500 ms; it still ships).
    const pulls = jest.spyOn(stores[0].shipper!, 'pullSessions').mockResolvedValue(undefined);
    try {
      expect(await a.create({ bridge: 'br-int', filter: 'tcp,tp_dst=2' }).then(() => 201, (e: { status?: number }) => e.status)).toBe(409);
      expect((await b.stop(first.id)).state).toBe('stopped'); // answered once PostgreSQL has the stop
      const made = await a.create({ bridge: 'br-int', filter: 'tcp,tp_dst=3' }).then(() => 201, (e: { status?: number; message?: string }) => e.status ?? e.message);
      expect(made).toBe(201);
    } finally {
      pulls.mockRestore();
    }
    expect(await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active'`)).toEqual([{ filter: 'tcp,tp_dst=3' }]);
  });

  // A create whose row waited to ship past synced's timeout (answered 503) let go of the lock with the row
  // in its own spool only: another instance counting then read PostgreSQL without it and made a session
  // too, and once the first shipped PostgreSQL held the limit + 1, one of them answered 503 (refused) yet made.
  it("another instance's create not yet in PostgreSQL counts: never past the limit, and what was answered is what is made", async () => {
    const url = await spools.pg().database('session_limit_other_unshipped');
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const stores = [await spools.storeOn(url, undefined, env), await spools.storeOn(url, undefined, env)];
    const [a, b] = stores.map((s) => new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), s, new TraceSessionStore(s), replicas));
    // A's shipper takes nothing to PostgreSQL (slow, or its link failing), and synced gives up as its timeout does.
    const held = jest.spyOn(stores[0].shipper!, 'shipSome').mockResolvedValue(0);
    const behind = jest.spyOn(stores[0].shipper!, 'synced').mockRejectedValue(Object.assign(new Error('PostgreSQL has not taken this process\'s last writes'), { code: 'ESPOOLBEHIND' }));
    const answer = (p: Promise<unknown>) => p.then(() => 201, (e: { status?: number; code?: string }) => e.status ?? e.code);
    const answered: Record<string, unknown> = {};
    try {
      answered['tcp,tp_dst=1'] = await answer(a.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }));
      answered['tcp,tp_dst=2'] = await answer(b.create({ bridge: 'br-int', filter: 'tcp,tp_dst=2' })); // after A's, in this order
    } finally {
      held.mockRestore();
      behind.mockRestore();
    }
    for (const s of stores) await s.shipper!.synced(); // whatever A's spool still held is in PostgreSQL now
    const made = (await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active' ORDER BY id`)).map((r) => r.filter);
    expect({ made, answered }).toEqual({ made: ['tcp,tp_dst=1'], answered: { 'tcp,tp_dst=1': 201, 'tcp,tp_dst=2': 409 } });
  });

  // The row goes to PostgreSQL under the lock (not by the shipper): a create PostgreSQL refused is no
  // session anywhere, now or later. Its spool copy, written muted, never ships; left there it would still
  // count as active in the spool (what the count reads while PostgreSQL is away) and in the api's pulls.
  it('a create whose row PostgreSQL refused leaves no session behind: its retry makes the one', async () => {
    const url = await spools.pg().database('session_limit_refused');
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const store = await spools.storeOn(url, undefined, env);
    const api = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), store, new TraceSessionStore(store), replicas);
    // PostgreSQL refuses the next session's row (a check failing, a constraint: any error of the INSERT's own).
    // Once: a sequence's nextval is not rolled back with the refused INSERT.
    await pgRows(url, `CREATE SEQUENCE refused`);
    await pgRows(url, `CREATE FUNCTION refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF nextval('refused') = 1 THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$`);
    await pgRows(url, `CREATE TRIGGER refuse_once BEFORE INSERT ON trace_session FOR EACH ROW EXECUTE FUNCTION refuse_once()`);
    const answer = (p: Promise<unknown>) => p.then(() => 201, (e: Error) => e.message);
    expect(await answer(api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }))).toBe('refused for the test');
    expect(store.db.prepare(`SELECT filter FROM trace_session`).all()).toEqual([]);
    expect(await answer(api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=2' }))).toBe(201);
    await store.shipper!.synced();
    expect(await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active'`)).toEqual([{ filter: 'tcp,tp_dst=2' }]);
  });

  // Under the lock PostgreSQL's count decides (a384aa1), but a create of this instance's own made while
  // PostgreSQL was away (no lock to take: the spool's count, the row ships later; its wait to ship timed
  // out, ESPOOLBEHIND, answered 503: retry) is in its spool only. The retry, PostgreSQL back, then counted
  // none and made a second session: both in PostgreSQL once shipped, over the limit (a303b73).
  it("this instance's own session not yet shipped counts: the retry of a create answered 503 is 409", async () => {
    const url = await spools.pg().database('session_limit_unshipped');
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const store = await spools.storeOn(url, undefined, env);
    const api = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), store, new TraceSessionStore(store), replicas);
    const shipper = store.shipper!;
    // Nothing ships until the retry has been answered; synced gives up as its timeout does (10 s).
    const held = jest.spyOn(shipper, 'shipSome').mockResolvedValue(0);
    const behind = jest.spyOn(shipper, 'synced').mockRejectedValue(Object.assign(new Error('PostgreSQL has not taken this process\'s last writes'), { code: 'ESPOOLBEHIND' }));
    const answer = (p: Promise<unknown>) => p.then(() => 201, (e: { status?: number; code?: string }) => e.status ?? e.code);
    try {
      spools.pg().stopServer();
      try {
        // The pool's idle connections were ended by the shutdown (57P01): gone once each has said so.
        await waitFor('the pool to find PostgreSQL away', () => store.query.all('SELECT 1 AS one').then(() => false, (e) => pgUnreachable(e)));
        expect(await answer(api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }))).toBe('ESPOOLBEHIND');
      } finally {
        spools.pg().startServer();
      }
      // The api's own reads of PostgreSQL answer again (its quick count is PostgreSQL's then: none).
      await waitFor('the pool to reach PostgreSQL again', () => store.query.all('SELECT 1 AS one').then(() => true, () => false));
      expect(await answer(api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=2' }))).toBe(409);
    } finally {
      held.mockRestore();
      behind.mockRestore();
    }
    await shipper.synced();
    expect(await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active'`)).toEqual([{ filter: 'tcp,tp_dst=1' }]);
  });
});
