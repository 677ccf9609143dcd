// POST /traces on a real sandbox of the pair under test (LIVETRACE_PAIR): a hand-typed flow through
// conntrack (sw0's allow-related ACL) is stored as one path holding every pass ofproto/trace
// simulated, in order, with the last pass's fate as its one verdict (output to lsp2; a drop by the
// drop ACL); GET /paths/:id gives the same passes, ?logical_port= lists every one of them, and the
// cross-check compares the whole path against ovn-trace. How many passes there are is read from the
// daemon's own reply to the same ofproto/trace, not assumed: it differs between pairs.
import { startDemoApp, startedForAll } from '../support/app';

jest.setTimeout(240_000);

const RULE = '='.repeat(79);
// The protocol first, its L4 fields last (ofproto/trace checks each field's prerequisites as it reads it).
const flow = (to: number, proto: string, l4: string) =>
  `in_port=1,${proto},dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:0${to},nw_src=10.0.0.1,nw_dst=10.0.0.${to},nw_ttl=64,${l4}`;
const ECHO = flow(2, 'icmp', 'icmp_type=8,icmp_code=0');
const DNS = flow(3, 'udp', 'udp_src=5353,udp_dst=53');

interface PassRef {
  id: number;
  recircId: string;
  queuedBy: number | null;
  ctState: string | null;
  ctStateAssumed: boolean;
  kinds: string[];
}
interface Answer {
  id: number;
  origin: string;
  pathId: number;
  recircId: string;
  path: { id: number; verdict: { kinds: string[]; logicalPorts: string[]; incomplete: boolean; logicalFlow: string | null; passes: number }; passes: PassRef[]; conntrack?: string };
}

describe('POST /traces: a hand-typed flow through conntrack is one path of every simulated pass', () => {
  const t = startedForAll(async () => {
    const s = await startDemoApp();
    return { ...s, close: async () => (await s.app.close(), await s.sb.stop()) };
  });

  /**
   * The daemon's own reply to the same flow: how many passes, and the last pass's Datapath actions
   * (each ofproto/trace allocates its own recirculation ids: the numbers differ from call to call).
   */
  async function daemonPasses(f: string): Promise<{ recircIds: string[]; lastActions: string }> {
    const text = await t.sb.appctl('ofproto/trace', 'br-int', f);
    const lines = text.split('\n');
    const recircIds = ['0x0'];
    lines.forEach((l, i) => {
      if (l === RULE && /^recirc\(0x[0-9a-f]+\)/.test(lines[i + 1] ?? '')) recircIds.push(/^recirc\((0x[0-9a-f]+)\)/.exec(lines[i + 1])![1]);
    });
    const actions = lines.filter((l) => l.startsWith('Datapath actions: '));
    return { recircIds, lastActions: actions[actions.length - 1].slice('Datapath actions: '.length) };
  }

  async function post(f: string): Promise<Answer> {
    return (await t.http.post('/traces').send({ bridge: 'br-int', flow: f }).expect(201)).body as Answer;
  }

  it('stores every pass, in order, and answers the path with the final verdict; GET /paths/:id the same', async () => {
    const daemon = await daemonPasses(ECHO);
    // The allow-related ACL sends the echo through conntrack: more than one pass on every pair.
    expect(daemon.recircIds.length).toBeGreaterThan(1);
    const a = await post(ECHO);
    expect(a).toMatchObject({ origin: 'hand-typed', recircId: '0x0', pathId: a.path.id });
    expect(a.path.passes.map((p) => p.id)[0]).toBe(a.id);
    expect(a.path.passes.length).toBe(daemon.recircIds.length);
    expect(a.path.passes[0].recircId).toBe('0x0');
    const got = (await t.http.get(`/paths/${a.path.id}`).expect(200)).body;
    // Each pass after the first was queued by an earlier one (its recirc(0xN)), and ran with the state ofproto/trace assumed.
    a.path.passes.slice(1).forEach((p, i) => {
      const at = a.path.passes.findIndex((q) => q.id === p.queuedBy);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(at).toBeLessThanOrEqual(i);
      expect(got.passes[at].verdict.recircIds).toContain(p.recircId);
      expect(p).toMatchObject({ ctStateAssumed: true, ctState: expect.stringMatching(/new/) });
    });
    expect(a.path.conntrack).toMatch(/ofproto\/trace assumed \(ct_state=[^)]*new/);
    // One verdict, the last pass's: delivered to lsp2, nothing missing.
    expect(daemon.lastActions).not.toMatch(/recirc\(/);
    expect(a.path.passes[a.path.passes.length - 1].kinds).toContain('output');
    expect(a.path.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp2'], incomplete: false, passes: daemon.recircIds.length });

    expect(got.passes.map((p: { id: number }) => p.id)).toEqual(a.path.passes.map((p) => p.id));
    expect(got.passes.every((p: { origin: string; ufid: string | null }) => p.origin === 'hand-typed' && p.ufid === null)).toBe(true);
    expect(got.verdict).toEqual(a.path.verdict);
    expect(got.edges).toEqual([]);

    // Every pass is listed under the ports the packet touched, the first pass's inport included.
    for (const port of ['lsp1', 'lsp2']) {
      const listed = (await t.http.get('/traces').query({ logical_port: port, limit: 500 }).expect(200)).body.items.map((t: { id: number }) => t.id);
      for (const p of a.path.passes) expect(listed).toContain(p.id);
    }
  });

  it('ends in the drop of the pass that dropped it, with the ACL that decided', async () => {
    const daemon = await daemonPasses(DNS);
    expect(daemon.recircIds.length).toBeGreaterThan(1);
    expect(daemon.lastActions).toBe('drop');
    const aclUuid = (await t.sb.nbctl('--bare', '--columns=_uuid', 'find', 'acl', 'priority=1002')).trim();
    const a = await post(DNS);
    expect(a.path.passes.length).toBe(daemon.recircIds.length);
    expect(a.path.verdict).toMatchObject({ kinds: ['drop'], incomplete: false, northbound: expect.objectContaining({ uuid: aclUuid }) });
  });

  it("cross-checks the whole hand-typed path against ovn-trace, with the conntrack states ofproto/trace assumed", async () => {
    const a = await post(ECHO);
    const xc = (await t.http.post(`/traces/${a.id}/cross-check`).expect(201)).body;
    expect(xc.traceIds).toEqual(a.path.passes.map((p) => p.id));
    expect(xc.result).toBe('match');
    // ovn-trace was told each pass's assumed state (new), not its own default est.
    expect(xc.microflow.ctStates.length).toBeGreaterThan(0);
    expect(xc.microflow.ctStates.every((s: string) => /new/.test(s))).toBe(true);
    expect(xc.conntrack).toMatch(/^hand-typed: .*what ofproto\/trace assumed/);
  });
});
