// A session's counters account for every flow it selected. The tracer skips a selected flow's job
// when no session of it may store one more pass (maxTraces reached by what is stored and on its way,
// past its expiry, ended); those skips were counted only in the agent's metrics
// (skipped_session_ended), so GET /trace-sessions/:id of a session with maxTraces 1 over 20
// installed flows said selected 20, traced 1, stored 1, dropped 0, failed {}: 19 flows unexplained.
// Real session service, trace queue and SQLite store (sessionTracer); stand-ins for the poller's
// installed flows, ofproto/trace (an answer at once) and the path recorder (a store that commits at once).
import type { FlowTracer } from '../../../src/collectors/flow-tracer';
import type { PathRecorder } from '../../../src/paths';
import type { SessionStats } from '../../../src/trace-sessions/trace-session-store';
import { installedFlow as flow, sessionTracer } from '../../support/session-tracer';
import { waitFor } from '../../support/wait';

const sum = (r: Record<string, number> | undefined) => Object.values(r ?? {}).reduce((a, b) => a + b, 0);

describe('a session’s counters of the flows the tracer skipped', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(() => close());

  it('count each skipped job by reason, so selected = traced + dropped + failed + skipped', async () => {
    const installed = Array.from({ length: 20 }, (_, i) => flow(i));
    const flowTracer = { traceFlow: async () => ({ kind: 'ok', trace: { ports: [], verdict: { recircIds: [] } }, consistent: true, methodReason: 'trace' }) } as unknown as FlowTracer;
    let stored = 0;
    const paths = { record: async () => ({ traceId: ++stored, pathId: 1, complete: null }), forgetLater: () => undefined } as unknown as PathRecorder;
    const { sessions, tracer, newSession, ...agent } = await sessionTracer('livetrace-skipped-counts-', installed, { flowTracer, paths });
    close = agent.close;
    const id = await newSession({ maxTraces: 1, includeExisting: true });
    await sessions.onApplicationBootstrap(); // takes the session up: includeExisting queues the 20 flows
    await waitFor('the queue drained', async () => (tracer.queueDepth === 0 ? true : undefined), 10_000);
    await (tracer as unknown as { queue: { stop(): Promise<void> } }).queue.stop();
    await waitFor('the session completed', async () => ((await sessions.get(id)).state === 'completed' ? true : undefined), 10_000);

    const s = (await sessions.get(id)).stats as SessionStats & { skipped?: Record<string, number> };
    expect(s).toMatchObject({ selected: 20, traced: 1, stored: 1, dropped: 0, failed: {} });
    expect(s.skipped).toEqual({ max_traces: 19 });
    expect(s.selected).toBe(s.traced + s.dropped + sum(s.failed) + sum(s.skipped));
  });
});
