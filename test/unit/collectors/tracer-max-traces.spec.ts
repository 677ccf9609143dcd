// A session's maxTraces bounds what it stores, and what it remembers of the flows it selected ends
// with them, on a real migrated SQLite store with the real
// session service and trace queue. The tracer does not wait for a pass's store before tracing the
// next (the writer batches), and a session ended only when a store had committed: every pass
// traced while the first maxTraces stores were in flight (up to 256) was stored too. Reproduced
// with includeExisting over 10 installed flows and maxTraces 2: 10 stored. Stand-ins: the poller
// (its installed flows), ofproto/trace (an answer at once) and the path recorder, whose stores
// commit only when the test says (a writer behind other jobs).
import type { LiveFlow } from '../../../src/collectors/datapath-diff';
import type { FlowTracer } from '../../../src/collectors/flow-tracer';
import type { TracerService } from '../../../src/collectors/tracer.service';
import type { PathRecorder } from '../../../src/paths';
import type { TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { installedFlow as flow, sessionTracer } from '../../support/session-tracer';
import { waitFor } from '../../support/wait';

describe('a session’s maxTraces', () => {
  let sessions: TraceSessionsService;
  let tracer: TracerService;
  let close: () => Promise<void> = async () => undefined;

  afterEach(() => close());

  /** The real session service and tracer over a migrated SQLite file (sessionTracer); `installed`: the poller's flows. */
  async function harness(installed: LiveFlow[], traceGate?: Promise<void>) {
    let traced = 0;
    const flowTracer = {
      traceFlow: async () => {
        await traceGate;
        traced++;
        return { kind: 'ok', trace: { ports: [], verdict: { recircIds: [] } }, consistent: true, methodReason: 'trace' };
      },
    } as unknown as FlowTracer;
    const commits: Array<() => void> = [];
    const paths = {
      record: () => new Promise((resolve) => commits.push(() => resolve({ traceId: commits.length, pathId: 1, complete: null }))),
      forgetLater: () => undefined,
    } as unknown as PathRecorder;
    const agent = await sessionTracer('livetrace-maxtraces-', installed, { flowTracer, paths });
    ({ sessions, tracer, close } = agent);
    return { newSession: agent.newSession, poller: agent.poller, commits, traced: () => traced };
  }

  it('stores no more passes than maxTraces, though the stores commit after the next traces', async () => {
    const { newSession, commits, traced } = await harness(Array.from({ length: 10 }, (_, i) => flow(i)));
    const id = await newSession({ maxTraces: 2, includeExisting: true });
    await sessions.onApplicationBootstrap(); // takes the session up: includeExisting queues the 10 flows
    await waitFor('the queue drained', async () => tracer.queueDepth === 0, 10_000);
    await (tracer as unknown as { queue: { stop(): Promise<void> } }).queue.stop();

    // Every store the tracer started commits now.
    expect(commits.length).toBeGreaterThan(0);
    for (const c of commits) c();
    await waitFor('the session ended', async () => ((await sessions.get(id)).state === 'completed' ? true : undefined), 10_000);
    const s = await sessions.get(id);
    expect(s.stats.stored).toBe(2);
    expect(commits.length).toBe(2);
    expect(traced()).toBeGreaterThanOrEqual(2);
  });

  // A session keeps the lifetimes it selected so their recirculations are selected too; it kept
  // every one for as long as it ran, so a long session (no duration, no maxTraces) on a busy port
  // grew the agent's memory with every flow it ever saw.
  it('forgets the flows it selected once they are removed from the datapath', async () => {
    const installed = Array.from({ length: 5 }, (_, i) => flow(i));
    const { newSession, poller, commits } = await harness([]);
    const id = await newSession({});
    await sessions.onApplicationBootstrap();
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_created', flow: f })));
    await waitFor('every flow stored', async () => (commits.length === 5 ? true : undefined), 10_000);
    for (const c of commits) c();
    const s = sessions.active.get(id)!;
    expect(s.selectedFlows.size).toBe(5);
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_removed', flow: f, at: new Date().toISOString(), reason: 'idle' })));
    expect(s.selectedFlows.size).toBe(0);
  });

  // The trace runs after the selection (the queue, ofproto/trace): a flow removed meanwhile was
  // forgotten at its removal, then remembered again once its trace was stored, for good.
  it('forgets a flow removed while its trace waited', async () => {
    const installed = Array.from({ length: 5 }, (_, i) => flow(i));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { newSession, poller, commits } = await harness([], gate);
    const id = await newSession({});
    await sessions.onApplicationBootstrap();
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_created', flow: f })));
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_removed', flow: f, at: new Date().toISOString(), reason: 'idle' })));
    open();
    await waitFor('every flow stored', async () => (commits.length === 5 ? true : undefined), 10_000);
    for (const c of commits) c();
    expect(sessions.active.get(id)!.selectedFlows.size).toBe(0);
  });
});
