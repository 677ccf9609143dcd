// A `crossCheck: true` session with maxTraces, carried out by two agents: the one whose trace
// reached maxTraces ends it as completed; the other lets go of it at its next poll. Its last paths,
// still settling, are within the session and are cross-checked, as they are on the agent that
// completed it (auto-cross-check.service.ts asks again when their turn comes: a session stopped or
// expired has them no more, a completed one does). On the other agent the poll only dropped the
// session, whose state it held still read 'active': neither carried out here nor completed, so
// those paths were skipped. Real TraceSessionsService on a real migrated SQLite file shared by two
// agents (hv1, hv2); stand-ins: the tracer's pathUpdated events and ovn-trace.
import { EventEmitter } from 'node:events';
import { AutoCrossCheckService } from '../../../src/cross-checks/auto-cross-check.service';
import type { CrossChecksService } from '../../../src/cross-checks/cross-checks.service';
import type { TracerService } from '../../../src/collectors/tracer.service';
import { emptyStats } from '../../../src/trace-sessions/trace-session-store';
import { sessionAgentsOnOneFile } from '../../support/session-agents';
import { waitFor } from '../../support/wait';

describe('automatic cross-checks of a session completed on another agent', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(() => close());

  async function twoAgents() {
    const { store, sessions, agents: [hv1, hv2], close: closeAgents } = await sessionAgentsOnOneFile('livetrace-auto-xc-');
    const tracer = new EventEmitter() as unknown as TracerService;
    const started: number[] = [];
    const crossChecks = { crossCheck: async (traceId: number) => (started.push(traceId), { result: 'match' }) } as unknown as CrossChecksService;
    const auto = new AutoCrossCheckService(tracer, hv1, crossChecks);
    close = async () => {
      auto.onApplicationShutdown();
      await closeAgents();
    };
    const id = await store.writer.submit((tx) =>
      sessions.insert(tx, {
        chassis: 'api-1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: 'icmp', logicalPort: null, maxTraces: 2,
        durationSeconds: null, includeExisting: false, crossCheck: true, expiresAt: null, onChassis: null, state: 'active', endedAt: null,
        stats: emptyStats(), perChassis: {},
      }),
    );
    await hv1.onApplicationBootstrap();
    await hv2.onApplicationBootstrap();
    auto.onApplicationBootstrap();
    return { hv1, hv2, id, sessions, tracer, started, auto };
  }

  it('still cross-check the last paths this agent traced for it', async () => {
    const { hv1, hv2, id, sessions, tracer, started } = await twoAgents();
    expect([hv1.active.has(id), hv2.active.has(id)]).toEqual([true, true]);

    // hv1 stores its one trace of the session, whose path completes (and settles for a second)...
    hv1.count(hv1.active.get(id)!, 'stored');
    tracer.emit('pathUpdated', { pathId: 1, traceId: 201, sessionIds: [id], complete: true });
    // ...while hv2 stores the trace that reaches maxTraces (hv1's counted as of its last poll) and ends it.
    await (hv1 as unknown as { flush(): Promise<void> }).flush();
    await (hv2 as unknown as { poll(): Promise<void> }).poll();
    hv2.count(hv2.active.get(id)!, 'stored');
    await waitFor('the session completed by hv2', async () => (await sessions.get(id))?.state === 'completed' || undefined, 10_000);
    // hv1's next poll lets go of it.
    await (hv1 as unknown as { poll(): Promise<void> }).poll();
    expect(hv1.active.has(id)).toBe(false);

    await waitFor('hv1 cross-checked its last path', async () => started.length === 1 || undefined, 10_000);
    expect(started).toEqual([201]);
  }, 30_000);

  it("check a path whose settle ends while the poll is reading the session's stored end", async () => {
    // The poll let go of the session (no longer in the active map) and then read its stored end,
    // one round trip per session: a path's settle ending in between found it neither carried out
    // here nor completed, and was dropped.
    const { hv1, hv2, id, sessions, tracer, started, auto } = await twoAgents();
    hv1.count(hv1.active.get(id)!, 'stored');
    await (hv1 as unknown as { flush(): Promise<void> }).flush();
    await (hv2 as unknown as { poll(): Promise<void> }).poll();
    hv2.count(hv2.active.get(id)!, 'stored');
    await waitFor('the session completed by hv2', async () => (await sessions.get(id))?.state === 'completed' || undefined, 10_000);
    // hv1's path completes; hv1's poll reads the session's end until that path's settle has ended.
    const pending = (auto as unknown as { pending: Map<number, unknown> }).pending;
    const endOf = sessions.endOf.bind(sessions);
    sessions.endOf = async (sid: number) => {
      await waitFor('the settle to end', async () => pending.size === 0 || undefined, 10_000);
      return endOf(sid);
    };
    tracer.emit('pathUpdated', { pathId: 1, traceId: 201, sessionIds: [id], complete: true });
    await (hv1 as unknown as { poll(): Promise<void> }).poll();
    expect(hv1.active.has(id)).toBe(false);

    await waitFor('hv1 cross-checked its last path', async () => started.length === 1 || undefined, 10_000).catch(() => undefined);
    expect(started).toEqual([201]);
  }, 30_000);
});
