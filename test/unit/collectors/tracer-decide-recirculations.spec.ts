// A port session selects a pass addressed to the port to decide it, and its recirculations with it:
// they are kept when their first pass was (a6230fe). The first pass's verdict must reach them
// whatever became of its lifetime meanwhile. The tracer read it from selectedFlows, where a kept pass
// goes only while installed (else it would stay there for good): a first pass that idled out while
// it waited in the queue (a slow queue, a long LIVETRACE_TRACE_RATE backlog) was stored, and its
// recirculations, traced next, were let go: a path with its head and without its body. And a pass
// whose trace failed stayed among the deciding flows until its lifetime ended. A first pass put aside
// for a detrace retry was decided after its recirculations, which were let go. The real session
// service, tracer and queue (test/support/session-tracer.ts); stand-ins for the poller's
// recirculation index, ofproto/trace (a gate holds the first pass's answer) and the path recorder.
import type { LiveFlow } from '../../../src/collectors/datapath-diff';
import type { FlowTracer } from '../../../src/collectors/flow-tracer';
import type { PathRecorder } from '../../../src/paths';
import { parseDumpLine } from '../../../src/ovs/dump-flows';
import { sessionTracer } from '../../support/session-tracer';
import { waitFor } from '../../support/wait';

/** A pass from vif6 to lsp1's 10.0.0.1 (not from lsp1's interface, vif1): selected to decide. */
function pass(i: number, recircId: number): LiveFlow {
  const line = `ufid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}, recirc_id(0x${recircId.toString(16)}),in_port(vif6),eth(src=50:54:00:00:0a:07,dst=50:54:00:00:00:01),eth_type(0x0800),ipv4(src=10.0.0.7,dst=10.0.0.1,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0), packets:1, bytes:98, used:0.1s, actions:2`;
  const d = parseDumpLine(line)!;
  const at = new Date().toISOString();
  return { ufid: d.ufid!, dbId: i, firstSeen: at, lastSeen: at, inPort: 'vif6', recircId, key: '', actions: '2', packets: 1, bytes: 98, used: at, recircTargets: [], flow: d };
}

const lsp1 = { name: 'lsp1', interfaces: new Set(['vif1']), dpPorts: new Set<string>(), macs: new Set(['50:54:00:00:00:01']), ips: new Set(['10.0.0.1']), datapaths: new Set(['sw0']) };
/** The first pass stops at sw0's conntrack before the outport is known: lsp1's by where it ran. */
const firstPass = { ports: [{ logicalPort: 'vm7', datapath: 'sw0', role: 'inport' }], verdict: { recircIds: ['0x1'] } };
/** The recirculation names no port of lsp1's (its verdict alone would let it go). */
const recirculation = { ports: [], verdict: { recircIds: [] } };

describe("a recirculation of a pass a port session decides", () => {
  let close: () => Promise<void> = async () => undefined;
  afterEach(async () => close());

  async function setUp(firstAnswer: () => Promise<object>, env?: Record<string, string>) {
    const parent = pass(1, 0);
    const child = pass(2, 1);
    const stored: string[] = [];
    const flowTracer = {
      traceFlow: async (f: LiveFlow) => (f === parent ? firstAnswer() : { kind: 'ok', trace: recirculation, consistent: true, methodReason: 'trace' }),
    } as unknown as FlowTracer;
    const paths = { record: async (r: { flow: LiveFlow }) => (stored.push(r.flow.ufid), { traceId: stored.length, pathId: 1, complete: null }), forgetLater: () => undefined } as unknown as PathRecorder;
    const agent = await sessionTracer('livetrace-decide-recirc-', [], { flowTracer, paths, env });
    close = agent.close;
    const id = await agent.newSession({});
    await agent.sessions.onApplicationBootstrap();
    const s = agent.sessions.active.get(id)!;
    s.port = lsp1; // the session's filter is icmp; lsp1's target as port-target.ts would compute it
    agent.poller.table.parentsOf = ((f: LiveFlow) => (f === child ? [parent] : [])) as never;
    agent.poller.table.live.set(parent.ufid, parent);
    agent.poller.table.live.set(child.ufid, child);
    agent.poller.emit('cycle', [{ type: 'ukey_created', flow: parent }, { type: 'ukey_created', flow: child }]);
    return { ...agent, s, id, parent, child, stored };
  }

  it('is kept when its first pass was, though that pass idled out before its trace', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { s, poller, parent, child, stored, sessions, id } = await setUp(async () => (await gate, { kind: 'ok', trace: firstPass, consistent: true, methodReason: 'trace' }));
    // The first pass idles out while its trace is under way (the queue was slow to reach it).
    poller.table.live.delete(parent.ufid);
    poller.emit('cycle', [{ type: 'ukey_removed', flow: parent, reason: 'idle', at: new Date().toISOString() }]);
    open();
    await waitFor('both passes decided', async () => ((await sessions.get(id)).stats.traced === 2 ? true : undefined), 10_000);
    expect(stored).toEqual([parent.ufid, child.ufid]);
    expect(s.decidingFlows.size).toBe(0);
    // Not installed any more: not kept among the flows whose recirculations are taken whole.
    expect(s.selectedFlows.has(parent.dbId!)).toBe(false);
  });

  it('is decided by itself when its first pass failed, and the failed pass does not stay among the deciding flows', async () => {
    const { s, child, stored, sessions, id } = await setUp(async () => ({ kind: 'failed', reason: 'vswitchd_error', message: 'gone' }));
    await waitFor('both passes done', async () => ((await sessions.get(id)).stats.traced === 1 ? true : undefined), 10_000);
    expect(stored).toEqual([]);
    expect((await sessions.get(id)).stats).toMatchObject({ selected: 2, traced: 1, notSelected: 1, failed: { vswitchd_error: 1 } });
    // The lifetime of the first pass goes on: its entry must not wait for its end.
    expect([...s.decidingFlows]).toEqual([]);
    expect(child.dbId).toBe(2);
  });

  it('waits for its first pass put aside for a detrace retry (LIVETRACE_TRACE_METHOD=detrace), and is kept with it', async () => {
    let asked = 0;
    const first = async () =>
      ++asked === 1 ? { kind: 'cache_pending', message: 'Cache was not found' } : { kind: 'ok', trace: firstPass, consistent: null, methodReason: 'ofproto/detrace answered after 1 "Cache was not found"' };
    const { parent, child, stored, sessions, id, s } = await setUp(first, { LIVETRACE_TRACE_METHOD: 'detrace' });
    await waitFor('both passes decided', async () => ((await sessions.get(id)).stats.traced === 2 ? true : undefined), 10_000);
    expect(stored).toEqual([parent.ufid, child.ufid]);
    expect((await sessions.get(id)).stats).toMatchObject({ selected: 2, traced: 2, stored: 2, notSelected: 0 });
    expect(s.decidingFlows.size).toBe(0);
  });
});
