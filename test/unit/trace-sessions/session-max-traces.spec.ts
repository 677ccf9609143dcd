// maxTraces across chassis: each agent counts the others' stored traces as of its last poll, so
// two agents can each store their share before either sees the other's. The session must still
// end once the chassis together reached it, on every agent, and not stay active (its state, its
// place under LIVETRACE_MAX_SESSIONS) while no agent has room to store anything more. Two real
// TraceSessionsService agents (hv1, hv2) on one real migrated SQLite file; the replicas are a
// stand-in (the chassis name, the local OVS database synced).
import { emptyStats } from '../../../src/trace-sessions/trace-session-store';
import type { TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { sessionAgentsOnOneFile } from '../../support/session-agents';

describe('maxTraces reached by several chassis together', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(() => close());

  async function twoAgents(maxTraces: number, rows: Record<string, number> = {}) {
    const { store, sessions, agents, close: closeAll } = await sessionAgentsOnOneFile('livetrace-max-traces-');
    const id = await store.writer.submit((tx) => {
      const made = sessions.insert(tx, {
        chassis: 'api-1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: 'icmp', logicalPort: null, maxTraces,
        durationSeconds: null, includeExisting: true, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null,
        stats: emptyStats(), perChassis: {},
      });
      for (const [c, stored] of Object.entries(rows)) sessions.saveStats(tx, made, c, { ...emptyStats(), selected: stored, traced: stored, stored });
      return made;
    });
    const created: string[] = [];
    agents.forEach((a, i) => a.on('created', () => created.push(`hv${i + 1}`)));
    for (const a of agents) {
      await a.onApplicationBootstrap();
      // The housekeeping's steps are taken by hand below, in the order that shows the race.
      clearInterval((a as unknown as { timer: NodeJS.Timeout }).timer);
    }
    close = closeAll;
    const housekeeping = async (a: TraceSessionsService) => {
      await a.flush();
      await (a as unknown as { poll(): Promise<void> }).poll();
    };
    return { agents, id, sessions, housekeeping, created };
  }

  it('ends the session on every agent once their traces together reach it', async () => {
    const { agents, id, sessions, housekeeping } = await twoAgents(2);
    const [hv1, hv2] = agents;
    // Each stores one trace before its next poll: neither sees the other's, neither reaches 2 alone.
    hv1.count(hv1.active.get(id)!, 'stored');
    hv2.count(hv2.active.get(id)!, 'stored');
    for (const a of agents) await housekeeping(a);
    for (const a of agents) await housekeeping(a);
    const answer = await sessions.get(id);
    expect(answer).toMatchObject({ state: 'completed', stats: { stored: 2 } });
    expect(answer?.endedAt).not.toBeNull();
    expect(agents.map((a) => a.active.has(id))).toEqual([false, false]);
  });

  it('an agent that comes once the others reached it ends it instead of taking it up', async () => {
    // Stored by hv3 and hv4 (their rows), whose ends never came (killed after their counter write).
    const { agents, id, sessions, created } = await twoAgents(2, { hv3: 1, hv4: 1 });
    expect(created).toEqual([]); // no includeExisting for a session with no room left
    expect(agents.map((a) => a.active.has(id))).toEqual([false, false]);
    expect(await sessions.get(id)).toMatchObject({ state: 'completed', stats: { stored: 2 } });
  });
});
