// An agent on PostgreSQL takes a session up and is restarted before its spool shipped the counter
// row of the take-up (PostgreSQL slow or away): the restarted agent reloads the session, from the
// row its own spool holds, rather than taking it up as new again (a second includeExisting,
// duplicate traces). And a session past its duration reads as expired from PostgreSQL with no
// agent running. Real PostgreSQL and spool; the replicas are a stand-in (the chassis name only).
import { emptyStats } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import type { ReplicasService } from '../../src/replicas/replicas.service';
import type { StoreService } from '../../src/storage/store.service';
import { testConfig } from '../support/app';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

/** A session as an api instance writes it into PostgreSQL. */
async function apiSession(url: string, over: { expiresAt?: string } = {}): Promise<number> {
  const [{ id }] = await pgRows(
    url,
    `INSERT INTO trace_session (id, chassis, created_at, bridge, filter, include_existing, cross_check, duration_seconds, expires_at, state, stats)
     VALUES (7, 'api-1', $1, 'br-int', 'icmp', 1, 0, $2, $3, 'active', '{}') RETURNING id::int AS id`,
    [new Date().toISOString(), over.expiresAt ? 1 : null, over.expiresAt ?? null],
  );
  return id as number;
}

function agent(s: StoreService, url: string) {
  const cfg = testConfig({ LIVETRACE_DB: url, LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv1' });
  const replicas = { chassisName: () => 'hv1', status: () => ({ synced: true }) } as unknown as ReplicasService;
  const svc = new TraceSessionsService(cfg, s, new TraceSessionStore(s), replicas);
  const events: string[] = [];
  svc.on('created', () => events.push('created'));
  svc.on('reloaded', () => events.push('reloaded'));
  return { svc, events };
}

const stopTimer = (svc: TraceSessionsService) => clearInterval((svc as unknown as { timer: NodeJS.Timeout }).timer);

describe('sessions on PostgreSQL', () => {
  it('an agent restarted before its take-up shipped reloads the session from its spool', async () => {
    const url = await spools.pg().database('session_takeup');
    const s = await spools.storeOn(url);
    const id = await apiSession(url);
    // PostgreSQL takes nothing more from this spool in this test: the restart comes first.
    await s.shipper!.stop();
    const first = agent(s, url);
    await first.svc.onApplicationBootstrap();
    stopTimer(first.svc);
    expect(first.events).toEqual(['created']);
    expect(await pgRows(url, 'SELECT * FROM trace_session_counter')).toEqual([]);
    const again = agent(s, url);
    await again.svc.onApplicationBootstrap();
    stopTimer(again.svc);
    expect(again.events).toEqual(['reloaded']);
    expect(again.svc.active.get(id)!.local).toEqual(emptyStats());
  });

  it('a session past its duration reads as expired from PostgreSQL, no agent running', async () => {
    const url = await spools.pg().database('session_expired');
    const s = await spools.storeOn(url);
    const expiresAt = new Date(Date.now() - 1000).toISOString();
    const id = await apiSession(url, { expiresAt });
    const sessions = new TraceSessionStore(s);
    expect(await sessions.get(id)).toMatchObject({ state: 'expired', endedAt: expiresAt });
    expect((await sessions.list({ state: 'expired', limit: 5 })).map((x) => x.id)).toEqual([id]);
    expect(await sessions.list({ state: 'active', limit: 5 })).toEqual([]);
  });
  it("an expired session's end is tried again when the spool had not pulled it yet at the first poll", async () => {
    const url = await spools.pg().database('session_expired_late_pull');
    const s = await spools.storeOn(url);
    // The agent's first polls come before its shipper pulls the session (a backlog shipped first).
    await s.shipper!.stop();
    const id = await apiSession(url, { expiresAt: new Date(Date.now() - 1000).toISOString() });
    const { svc } = agent(s, url);
    await svc.onApplicationBootstrap();
    stopTimer(svc);
    const poll = () => (svc as unknown as { poll(): Promise<void> }).poll();
    await poll();
    await s.shipper!.pullSessions();
    await poll();
    expect(s.db.prepare('SELECT state FROM trace_session WHERE id = ?').get(id)).toEqual({ state: 'expired' });
  });
});
