// LIVETRACE_MAX_SESSIONS across api instances sharing PostgreSQL. Each instance writes its new
// session into its own spool and the shipper copies it to PostgreSQL; the in-transaction count
// (session-limit.ts) sees the other instances' sessions only as its spool last pulled them (every
// 500 ms), so two instances asked at once both counted none and both made a session. The count and
// the insert, up to the row's arrival in PostgreSQL, now run under one PostgreSQL advisory lock.
// Real PostgreSQL (a cluster of the file's own), two api instances' stores on it.
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { testConfig } from '../support/app';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

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

  // Under the lock PostgreSQL's count decides (a384aa1), but a create of this instance's own that timed
  // out waiting to ship (ESPOOLBEHIND, answered 503: retry) is in its spool only, and ships later. The
  // retry then counted none and made a second session: both in PostgreSQL once shipped, over the limit.
  it("this instance's own session not yet shipped counts: the retry of a create answered 503 is 409", async () => {
    const url = await spools.pg().database('session_limit_unshipped');
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '1' };
    const store = await spools.storeOn(url, undefined, env);
    const api = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), store, new TraceSessionStore(store), replicas);
    const shipper = store.shipper!;
    // PostgreSQL slow to take the spool's writes: nothing ships, and synced gives up as its timeout does.
    const held = jest.spyOn(shipper, 'shipSome').mockResolvedValue(0);
    const behind = jest.spyOn(shipper, 'synced').mockRejectedValue(Object.assign(new Error('PostgreSQL has not taken this process\'s last writes'), { code: 'ESPOOLBEHIND' }));
    const answer = (p: Promise<unknown>) => p.then(() => 201, (e: { status?: number; code?: string }) => e.status ?? e.code);
    try {
      expect(await answer(api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }))).toBe('ESPOOLBEHIND');
      expect(await answer(api.create({ bridge: 'br-int', filter: 'tcp,tp_dst=2' }))).toBe(409);
    } finally {
      held.mockRestore();
      behind.mockRestore();
    }
    await shipper.synced();
    expect(await pgRows(url, `SELECT filter FROM trace_session WHERE state = 'active'`)).toEqual([{ filter: 'tcp,tp_dst=1' }]);
  });
});
