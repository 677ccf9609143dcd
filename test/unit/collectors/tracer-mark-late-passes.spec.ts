// Passes of flows installed before they were asked for, dated by their first seen: a session's
// includeExisting, an on-demand trace (POST /datapath-flows/:ufid/trace). Until such a pass is stored
// this chassis's mark (chassis_mark, traced-mark.ts) must not pass it, or a path read meanwhile
// settles a hop into that flow as "none stored" and changes once the pass lands.
// Real session service, tracer, trace queue and mark on a migrated SQLite file (session-tracer.ts);
// the path recorder's stores commit when the test says.
import type { FlowTracer } from '../../../src/collectors/flow-tracer';
import type { PathRecorder } from '../../../src/paths';
import { installedFlow, sessionTracer } from '../../support/session-tracer';
import { waitFor } from '../../support/wait';

const T = (s: number) => new Date(Date.parse('2026-12-07T03:00:00.000Z') + s * 1000).toISOString();
const justBefore = (iso: string) => new Date(Date.parse(iso) - 1).toISOString();

describe('the mark and passes of flows installed before they were asked for', () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(() => close());

  /** hv1's tracer with one flow installed, first seen at T(1); its store commits when `commits[i]()` is called. */
  async function agentWithInstalledFlow() {
    const installed = [{ ...installedFlow(0), firstSeen: T(1), lastSeen: T(1) }];
    const flowTracer = { traceFlow: async () => ({ kind: 'ok', trace: { ports: [], verdict: { recircIds: [] } }, consistent: true, methodReason: 'trace' }) } as unknown as FlowTracer;
    const commits: Array<() => void> = [];
    const paths = {
      record: () => new Promise((resolve) => commits.push(() => resolve({ traceId: 1, pathId: 1, complete: null }))),
      forgetLater: () => undefined,
    } as unknown as PathRecorder;
    const agent = await sessionTracer('livetrace-mark-late-', installed, { flowTracer, paths });
    // A store left open would hold the tracer's shutdown.
    close = async () => (commits.forEach((c) => c()), agent.close());
    const dump = (at: string) => (Object.assign(agent.poller, { lastCycle: { at } }), agent.poller.emit('cycle', []));
    return { ...agent, installed, commits, dump };
  }

  it('a session’s includeExisting: stays below the flow’s first seen until its pass is stored', async () => {
    const agent = await agentWithInstalledFlow();
    await agent.newSession({ includeExisting: true });
    await agent.sessions.onApplicationBootstrap(); // takes the session up: includeExisting queues the installed flow
    await waitFor('its store started', async () => (agent.commits.length === 1 ? true : undefined), 10_000);
    agent.dump(T(3));
    // Before: T(3), a mark past the flow while its pass was still on its way.
    expect(agent.tracer.mark.through()).toBe(justBefore(T(1)));
    agent.commits[0]();
    await waitFor('the hold released', async () => (agent.tracer.mark.through() === T(3) ? true : undefined), 10_000);
  });

  it('an on-demand trace: the same', async () => {
    const agent = await agentWithInstalledFlow();
    await agent.sessions.onApplicationBootstrap();
    const traced = agent.tracer.traceNow(agent.installed[0]);
    await waitFor('its store started', async () => (agent.commits.length === 1 ? true : undefined), 10_000);
    agent.dump(T(3));
    // Before: T(3).
    expect(agent.tracer.mark.through()).toBe(justBefore(T(1)));
    agent.commits[0]();
    await traced;
    expect(agent.tracer.mark.through()).toBe(T(3));
  });
});
