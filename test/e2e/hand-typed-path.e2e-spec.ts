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
  async function daemonPasses(f: string, bridge = 'br-int'): Promise<{ recircIds: string[]; lastActions: string }> {
    const text = await t.sb.appctl('ofproto/trace', bridge, f);
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

  describe("an established connection's packet: ctNext gives each pass resumed after ct() its state", () => {
    // lsp2's echo reply to lsp1: as a first packet (ofproto/trace's trk|new) sw0's ACL stage commits it
    // as a new connection (`ip && !ct.est`, ct(commit)); as the reply of an established one
    // (trk,est,rpl) it takes the established-reply flow (priority 65532, `ct.est … && ct.rpl`) and
    // nothing is committed. Both are delivered to lsp1.
    const REPLY = 'in_port=2,icmp,dl_src=50:54:00:00:00:02,dl_dst=50:54:00:00:00:01,nw_src=10.0.0.2,nw_dst=10.0.0.1,nw_ttl=64,icmp_type=0,icmp_code=0';
    interface Owner { table: string; stage?: string | null; priority?: number; match?: string }

    /** The ACL stages' logical flows every pass of the path ran, and every pass's datapath actions. */
    async function aclFlows(a: Answer): Promise<{ flows: Owner[]; actions: string[] }> {
      const flows: Owner[] = [];
      const actions: string[] = [];
      for (const p of a.path.passes) {
        const got = (await t.http.get(`/traces/${p.id}`).expect(200)).body as { datapathActions: string; steps: Array<{ owners: Owner[] }> };
        actions.push(got.datapathActions);
        for (const s of got.steps) for (const o of s.owners) if (o.table === 'Logical_Flow' && /^ls_(in|out)_acl(_eval)?$/.test(o.stage ?? '')) flows.push(o);
      }
      return { flows, actions };
    }
    const establishedReply = (o: Owner) => o.priority === 65532 && /ct\.est/.test(o.match ?? '') && /ct\.rpl/.test(o.match ?? '');
    const newConnection = (o: Owner) => /!ct\.est/.test(o.match ?? '');

    it('takes the established branch with the states given, the new-connection one without; the cross-check hands ovn-trace the same states and matches', async () => {
      // As many states as ct() resumes on this pair (read from the daemon's own reply: it differs between pairs).
      const resumes = (await daemonPasses(REPLY)).recircIds.length - 1;
      expect(resumes).toBeGreaterThan(0);
      const states = Array.from({ length: resumes }, () => 'trk,est,rpl');

      const fresh = await post(REPLY);
      const est = (await t.http.post('/traces').send({ bridge: 'br-int', flow: REPLY, ctNext: states }).expect(201)).body as Answer;
      expect(est.path.passes).toHaveLength(resumes + 1);
      for (const p of est.path.passes.slice(1)) expect(p).toMatchObject({ ctStateAssumed: false, ctState: 'est|rpl|trk' });
      for (const p of fresh.path.passes.slice(1)) expect(p).toMatchObject({ ctStateAssumed: true, ctState: expect.stringMatching(/new/) });
      expect(est.path.conntrack).toMatch(/ct_state=est\|rpl\|trk\).*resumed after ct\(\) with the conntrack state given \(ctNext/);
      expect(est.path.conntrack).not.toMatch(/assumed|unused/);

      const e = await aclFlows(est);
      const f = await aclFlows(fresh);
      expect(e.flows.some(establishedReply)).toBe(true);
      expect(e.flows.some(newConnection)).toBe(false);
      expect(f.flows.some(newConnection)).toBe(true);
      expect(f.flows.some(establishedReply)).toBe(false);
      expect(f.actions.join(' ')).toMatch(/ct\(commit/);
      expect(e.actions.join(' ')).not.toMatch(/ct\(commit/);
      for (const a of [est, fresh]) expect(a.path.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp1'], incomplete: false });

      const xc = (await t.http.post(`/traces/${est.id}/cross-check`).expect(201)).body;
      expect(xc.traceIds).toEqual(est.path.passes.map((p) => p.id));
      expect(xc.result).toBe('match');
      // ovn-trace was told the states given, est and rpl, not its own default nor ofproto/trace's new.
      expect(xc.microflow.ctStates).toHaveLength(resumes);
      for (const s of xc.microflow.ctStates as string[]) expect(s.split(',').sort()).toEqual(['est', 'rpl', 'trk']);
      expect(xc.command.argv).toContain('--ct=est,rpl,trk');
      expect(xc.conntrack).toMatch(/^hand-typed: .*gave ofproto\/trace \(ctNext\)/);
    });

    it('states past the last resume are said unused; fewer leave the rest to ofproto/trace\'s assumption', async () => {
      const resumes = (await daemonPasses(REPLY)).recircIds.length - 1;
      const more = (await t.http.post('/traces').send({ bridge: 'br-int', flow: REPLY, ctNext: Array.from({ length: resumes + 2 }, () => 'trk|est|rpl') }).expect(201)).body as Answer;
      expect(more.path.conntrack).toMatch(new RegExp(`ctNext gave ${resumes + 2} states and 2 went unused: ofproto/trace resumed ${resumes} passes`));
      if (resumes < 2) return;
      const one = (await t.http.post('/traces').send({ bridge: 'br-int', flow: REPLY, ctNext: ['trk,est,rpl'] }).expect(201)).body as Answer;
      expect(one.path.passes.slice(1).map((p) => p.ctStateAssumed)).toEqual([false, ...Array.from({ length: resumes - 1 }, () => true)]);
      expect(one.path.conntrack).toMatch(/given \(ctNext, in order\); passes .* ofproto\/trace assumed \(ct_state=[^)]*new/);
    });

    it('a state OVS would refuse is a 400 naming it, before the daemon is asked', async () => {
      const res = await t.http.post('/traces').send({ bridge: 'br-int', flow: REPLY, ctNext: ['trk,est', 'trk,new,est'] }).expect(400);
      expect(res.body).toMatchObject({ field: 'ctNext', message: 'ctNext[1]: "trk,new,est": "new" and "est" are mutually exclusive' });
    });
  });

  /**
   * The daemon's own queue, read from its reply: ofproto/trace runs the recirculations it queued first in,
   * first out, each pass appending the recirc(0xN) of its Datapath actions. For each pass, the index of
   * the pass that queued it (null for the first).
   */
  function fifoParents(text: string): Array<number | null> {
    const lines = text.split('\n');
    const queue: Array<{ id: string; by: number }> = [];
    const parents: Array<number | null> = [null];
    let pass = 0;
    lines.forEach((l, i) => {
      if (l === RULE && /^recirc\(0x[0-9a-f]+\)/.test(lines[i + 1] ?? '')) {
        const id = /^recirc\((0x[0-9a-f]+)\)/.exec(lines[i + 1])![1];
        const head = queue.shift()!;
        expect(head.id).toBe(id);
        parents.push(head.by);
        pass = parents.length - 1;
      } else if (l.startsWith('Datapath actions: ')) {
        for (const m of l.matchAll(/recirc\((0x[0-9a-f]+)\)/g)) queue.push({ id: m[1], by: pass });
      }
    });
    return parents;
  }

  /** Chain by chain: each pass followed by what it queued, depth first, in the daemon's order. */
  function depthFirst(parents: ReadonlyArray<number | null>): number[] {
    const out: number[] = [];
    const visit = (i: number) => {
      out.push(i);
      parents.forEach((p, c) => p === i && visit(c));
    };
    parents.forEach((p, i) => p === null && visit(i));
    return out;
  }

  describe('on a bridge whose two ct() freeze the same state: ofproto/trace queues one recirc id twice', () => {
    // brx (plainBridge): two ct(table=1) in one pass freeze identical states, so OVS gives both the
    // same recirc id (recirc_alloc_id_ctx finds the first), and each of those passes queues the next
    // id from its own ct(table=2): the reply prints 0x..a twice, then 0x..b twice, each 0x..b queued
    // by a different pass.
    const FLOWS = ['table=0,ip,actions=ct(table=1),ct(table=1)', 'table=1,ip,actions=ct(table=2)', 'table=2,ip,actions=output:xp2'];
    const TWICE = 'in_port=xp1,icmp,nw_src=10.9.0.1,nw_dst=10.9.0.2';

    it('names as each pass\'s queuedBy the pass that queued it, and orders the path chain by chain', async () => {
      await t.sb.plainBridge('netdev');
      for (const f of FLOWS) await t.sb.script('run', 'ovs-ofctl', 'add-flow', 'brx', f);
      const text = await t.sb.appctl('ofproto/trace', 'brx', TWICE);
      const parents = fifoParents(text);
      const ids = (await daemonPasses(TWICE, 'brx')).recircIds;
      // The same id twice, and the two passes of the next id queued by different passes.
      expect(new Set(ids.slice(1)).size).toBeLessThan(ids.length - 1);
      expect(new Set(parents.slice(3)).size).toBe(2);

      const a = (await t.http.post('/traces').send({ bridge: 'brx', flow: TWICE }).expect(201)).body as Answer;
      expect(a.path.passes).toHaveLength(parents.length);
      const stored = [...a.path.passes].sort((x, y) => x.id - y.id);
      expect(stored.map((p) => p.queuedBy)).toEqual(parents.map((p) => (p === null ? null : stored[p].id)));
      expect(a.path.passes.map((p) => p.id)).toEqual(depthFirst(parents).map((i) => stored[i].id));
      const got = (await t.http.get(`/paths/${a.path.id}`).expect(200)).body;
      expect(got.passes.map((p: { id: number }) => p.id)).toEqual(a.path.passes.map((p) => p.id));
    });
  });

  describe('on a bridge that recirculates forever: ofproto/trace stops at its recirculation limit', () => {
    const LOOP = 'in_port=xp1,icmp,nw_src=10.9.1.1,nw_dst=10.9.1.2';

    it('answers the passes it simulated as one chain, the path incomplete, the limit named', async () => {
      // OVS 3.1.0 (Debian 12) has no such limit: the same trace takes ovs-vswitchd down, so it is not sent there.
      const version = /\) (\d+)\.(\d+)\./.exec(await t.sb.appctl('version'))!;
      if (Number(version[1]) * 100 + Number(version[2]) < 302) return;
      if (!(await t.sb.vsctl('list-br')).split('\n').includes('brx')) await t.sb.plainBridge('netdev');
      await t.sb.script('run', 'ovs-ofctl', 'add-flow', 'brx', 'table=0,priority=40000,icmp,nw_src=10.9.1.1,actions=ct(table=0)');
      const text = await t.sb.appctl('ofproto/trace', 'brx', LOOP);
      const parents = fifoParents(text);
      const queued = Number(/Queued but not processed: (\d+) recirculations\./.exec(text)![1]);

      const a = (await t.http.post('/traces').send({ bridge: 'brx', flow: LOOP }).expect(201)).body as Answer & { path: { recirculationLimit?: { queued: number } } };
      expect(a.path.recirculationLimit).toEqual({ queued });
      expect(a.path.passes).toHaveLength(parents.length);
      // One chain: each pass queued the next (the same id every time).
      expect(a.path.passes.map((p) => p.queuedBy)).toEqual(parents.map((p) => (p === null ? null : a.path.passes[p].id)));
      // The last pass queued 0x1 again: that entry has no pass, though 0x1 has thousands.
      expect(a.path.verdict).toMatchObject({ incomplete: true, incompleteReason: expect.stringContaining(`queued by trace ${a.path.passes[a.path.passes.length - 1].id} `) });
      expect((await t.http.get(`/paths/${a.path.id}`).expect(200)).body.verdict).toEqual(a.path.verdict);
    });
  });
});

