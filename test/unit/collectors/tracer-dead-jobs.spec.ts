// The trace queue's jobs whose sessions want nothing more (ended, or maxTraces reached by what is
// stored and on its way) must not spend the token bucket that protects ovs-vswitchd
// (LIVETRACE_TRACE_RATE): includeExisting over the installed flows queues one job a flow, and a
// session with a small maxTraces leaves nearly all of them dead. Each took a token before it was
// found dead, so at the configured 200/s and 10,000 installed flows another session's new flows
// waited ~50 s behind them (and were dropped once the queue was full). The real session service,
// trace queue and token bucket (its take() counted, not replaced) on a real migrated SQLite store
// (sessionTracer); stand-ins for the poller's installed flows, ofproto/trace (an answer at once) and
// the path recorder (a store that commits at once).
import { TokenBucket } from '../../../src/common/token-bucket';
import type { FlowTracer } from '../../../src/collectors/flow-tracer';
import type { TracerMetrics } from '../../../src/collectors/tracer-metrics';
import type { PathRecorder } from '../../../src/paths';
import { installedFlow as flow, sessionTracer } from '../../support/session-tracer';
import { waitFor } from '../../support/wait';

describe('trace jobs no session wants any more', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => {
    jest.restoreAllMocks();
    await close();
  });

  it('take no token of the rate that protects ovs-vswitchd', async () => {
    const installed = Array.from({ length: 20 }, (_, i) => flow(i));
    const take = jest.spyOn(TokenBucket.prototype, 'take');
    let traced = 0;
    const flowTracer = { traceFlow: async () => (traced++, { kind: 'ok', trace: { ports: [], verdict: { recircIds: [] } }, consistent: true, methodReason: 'trace' }) } as unknown as FlowTracer;
    let stored = 0;
    const paths = { record: async () => ({ traceId: ++stored, pathId: 1, complete: null }), forgetLater: () => undefined } as unknown as PathRecorder;
    const skipped: string[] = [];
    const metrics = { queueDepth: () => undefined, count: (what: string) => skipped.push(what), stored: () => undefined } as unknown as TracerMetrics;
    const { sessions, tracer, newSession, ...agent } = await sessionTracer('livetrace-dead-jobs-', installed, { flowTracer, paths, metrics });
    close = agent.close;
    const id = await newSession({ maxTraces: 1, includeExisting: true });
    take.mockClear();
    await sessions.onApplicationBootstrap(); // takes the session up: includeExisting queues the 20 flows
    await waitFor('the queue drained', async () => (tracer.queueDepth === 0 ? true : undefined), 10_000);
    await (tracer as unknown as { queue: { stop(): Promise<void> } }).queue.stop();
    await waitFor('the session completed', async () => ((await sessions.get(id)).state === 'completed' ? true : undefined), 10_000);

    expect(traced).toBe(1);
    expect(stored).toBe(1);
    expect(skipped.filter((s) => s === 'skipped_session_ended')).toHaveLength(19);
    // One token for the one pass traced; the 19 dead jobs none.
    expect(take.mock.results.filter((r) => r.value === 0)).toHaveLength(1);
  });
});
