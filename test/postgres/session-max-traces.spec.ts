// maxTraces across agents on one PostgreSQL: each agent counts the others' stored traces as of its
// last poll (their counter rows, shipped), so two agents each storing one of maxTraces 2 before
// seeing the other's reach it only together. The session must then end in PostgreSQL and on both
// agents, not stay active with no agent having room. Real PostgreSQL, two real spools and shippers;
// the replicas are a stand-in (the chassis name only).
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import type { ReplicasService } from '../../src/replicas/replicas.service';
import type { StoreService } from '../../src/storage/store.service';
import { testConfig } from '../support/app';
import { pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

function agent(s: StoreService, url: string, chassis: string): TraceSessionsService {
  const cfg = testConfig({ LIVETRACE_DB: url, LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: chassis });
  const replicas = { chassisName: () => chassis, status: () => ({ synced: true }), model: { generation: 1 } } as unknown as ReplicasService;
  return new TraceSessionsService(cfg, s, new TraceSessionStore(s), replicas);
}

describe('maxTraces on PostgreSQL', () => {
  it('ends the session everywhere once two agents together stored it', async () => {
    const url = await spools.pg().database('session_max_traces');
    const agents = [agent(await spools.storeOn(url), url, 'hv1'), agent(await spools.storeOn(url), url, 'hv2')];
    const [{ id }] = await pgRows(
      url,
      `INSERT INTO trace_session (id, chassis, created_at, bridge, filter, include_existing, cross_check, max_traces, state, stats)
       VALUES (7, 'api-1', $1, 'br-int', 'icmp', 0, 0, 2, 'active', '{}') RETURNING id::int AS id`,
      [new Date().toISOString()],
    );
    for (const a of agents) await a.onApplicationBootstrap();
    await waitFor('both agents took it up', () => agents.every((a) => a.active.has(id as number)), 30_000);
    // Each stores one trace before it has seen the other's: neither reaches 2 alone.
    for (const a of agents) expect(a.active.get(id as number)!.storedElsewhere).toBe(0);
    const held = agents.map((a) => a.active.get(id as number)!);
    for (const a of agents) a.count(a.active.get(id as number)!, 'stored');
    // Their housekeeping (each second: counters written and shipped, then the poll) ends it.
    await waitFor('the session completed in PostgreSQL', async () => (await pgRows(url, 'SELECT state FROM trace_session WHERE id = $1', [id]))[0].state === 'completed', 30_000);
    await waitFor('both agents let go of it', () => agents.every((a) => !a.active.has(id as number)), 30_000);
    expect(await agents[0].get(id as number)).toMatchObject({ state: 'completed', stats: { stored: 2 }, perChassis: { hv1: { stored: 1 }, hv2: { stored: 1 } } });
    // The jobs each agent had still queued for it are skipped, counted in its own row and summed.
    agents.forEach((a, i) => a.skip(held[i], 'max_traces'));
    // hv2's row arrives with its next housekeeping (each second: written, then shipped).
    const summed = await waitFor('both rows counted', async () => {
      const s = await agents[0].get(id as number);
      return s.stats.skipped.max_traces === 2 ? s : undefined;
    }, 30_000);
    expect(summed).toMatchObject({ perChassis: { hv1: { skipped: { max_traces: 1 } }, hv2: { skipped: { max_traces: 1 } } } });
    for (const a of agents) await a.beforeApplicationShutdown();
  });
});
