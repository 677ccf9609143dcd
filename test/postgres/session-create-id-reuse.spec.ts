// A POST /trace-sessions whose outcome stayed unknown (its INSERT's connection lost, the re-check
// unable to reach PostgreSQL: session-limit.ts createWithinLimit, 1fb5d65) forgets its spool copy,
// though PostgreSQL may have committed the row. The spool's id sequence must still never give that id
// again: a session pull that copies in another instance's session of a higher writer slot moves the
// AUTOINCREMENT sequence out of this slot's range, and ownSequence, putting it back, then counted only
// the rows left (the forgotten one gone), so the next create got the same id. PostgreSQL holding it
// (ended there meanwhile, so no pull brings it back) refused that INSERT (23505) and every later one:
// the instance could make no session again. And that unknown answer (503, 'retry') named no session:
// the client could only retry, maybe into a second one; it names the id now. Real PostgreSQL, two api instances' stores; the cut is
// test/support/silent-proxy.ts in front of the low slot's lock connections only.
import { storeUnreachable } from '../../src/common/api-error';
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { testConfig } from '../support/app';
import { silentProxy } from '../support/silent-proxy';
import { pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const replicas = { chassisName: () => 'api', status: () => ({ synced: false }), model: { generation: 1 } } as unknown as ReplicasService;

describe('a create whose outcome stayed unknown (real PostgreSQL behind a proxy)', () => {
  it("its id is not given again once another slot's session is pulled: the next create is made", async () => {
    const url = await spools.pg().database('session_create_id_reuse');
    const p = await silentProxy(url);
    const env = { LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: '3' };
    const [lo, hi] = [await spools.storeOn(url, undefined, env), await spools.storeOn(url, undefined, env)].sort((x, y) => x.central!.slot - y.central!.slot);
    expect(hi.central!.slot).toBeGreaterThan(lo.central!.slot);
    const sessions = new TraceSessionStore({ query: lo.query, db: lo.db, central: { ...lo.central!, url: p.url } } as never);
    const a = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), lo, sessions, replicas);
    const b = new TraceSessionsService(testConfig({ LIVETRACE_DB: url, ...env }), hi, new TraceSessionStore(hi), replicas);
    // The INSERT takes a moment on the server, time to cut the link while it runs (it commits); the
    // re-check then finds PostgreSQL unreachable (the path partitioned): unknown.
    await pgRows(url, `CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$`);
    await pgRows(url, `CREATE TRIGGER slow_insert AFTER INSERT ON trace_session FOR EACH ROW EXECUTE FUNCTION slow_insert()`);
    // A's spool pulls nothing meanwhile, as across the partition (its pulls fail).
    const pulls = jest.spyOn(lo.shipper!, 'pullSessions').mockResolvedValue(undefined);
    const real = sessions.insertCentral.bind(sessions);
    const insert = jest.spyOn(sessions, 'insertCentral').mockImplementationOnce(async (...args) => {
      const sent = real(...args);
      await waitFor('the INSERT running on the server', async () => (await pgRows(url, `SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'`)).length > 0);
      p.reset();
      p.partition();
      return sent;
    });
    try {
      const first = await a.create({ bridge: 'br-int', filter: 'tcp,tp_dst=1' }).then(() => 201, (e: Error) => ({ unreachable: storeUnreachable(e), message: e.message }));
      // PostgreSQL made it (the outcome this instance could not learn); an agent ends it meanwhile.
      const [made] = await waitFor('the lost INSERT committed', () => pgRows(url, `SELECT id FROM trace_session WHERE filter = 'tcp,tp_dst=1'`).then((r) => r.length > 0 && r));
      // Still PostgreSQL unreachable (the API's 503), and the answer names the session that may exist, so
      // the client can ask (GET) rather than retry into a second one.
      expect(first).toEqual({ unreachable: true, message: expect.stringContaining(`GET /trace-sessions/${made.id} says`) });
      await pgRows(url, `UPDATE trace_session SET state = 'stopped', ended_at = $2 WHERE id = $1`, [made.id, new Date().toISOString()]);
      await pgRows(url, `DROP TRIGGER slow_insert ON trace_session`);
      await b.create({ bridge: 'br-int', filter: 'tcp,tp_dst=2' }); // the higher slot's session
      p.heal();
      pulls.mockRestore();
      await lo.shipper!.pullSessions(); // A's spool holds B's session
      const next = await a.create({ bridge: 'br-int', filter: 'tcp,tp_dst=3' }).then((s) => s.filter, (e: Error) => e.message);
      expect(next).toBe('tcp,tp_dst=3');
      expect(await pgRows(url, `SELECT filter, state FROM trace_session ORDER BY filter`)).toEqual([
        { filter: 'tcp,tp_dst=1', state: 'stopped' },
        { filter: 'tcp,tp_dst=2', state: 'active' },
        { filter: 'tcp,tp_dst=3', state: 'active' },
      ]);
    } finally {
      insert.mockRestore();
      pulls.mockRestore();
      await p.close();
    }
  });
});
