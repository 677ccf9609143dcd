// Live tracing on a real sandbox: a session on lsp1 follows every datapath flow of lsp1's
// packets (allowed and dropped), with recirculation edges and a consistent trace for each, and
// stores nothing of lsp2<->lsp3. Flows that idle out are closed; the same UFID re-created later
// is a new lifetime, traced again.
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

const MAC = (n: number) => `50:54:00:00:00:0${n}`;
const IP = (n: number) => `10.0.0.${n}`;
function ip4(from: number, to: number, l4: string, proto: number): string {
  return `eth(src=${MAC(from)},dst=${MAC(to)}),eth_type(0x0800),ipv4(src=${IP(from)},dst=${IP(to)},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;
}

describe('live tracing of lsp1 on a real sandbox', () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  const dpPort = new Map<string, number>();
  let aclUuid = '';

  const inject = (iface: string, flow: string, n = 1) => sb.inject(iface, `in_port(${dpPort.get(iface)}),${flow}`, n);
  async function dump(): Promise<Array<{ ufid: string; line: string }>> {
    const text = await sb.appctl('dpctl/dump-flows', '-m');
    return text
      .split('\n')
      .filter((l) => l.startsWith('ufid:'))
      .map((line) => ({ ufid: line.slice(5, 41), line }));
  }

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
    await sb.nbctl('acl-add', 'sw0', 'to-lport', '1003', 'outport == "lsp2" && tcp.dst == 22', 'drop');
    aclUuid = (await sb.nbctl('--bare', '--columns=_uuid', 'find', 'acl', 'priority=1003')).trim();
    await sb.nbctl('--wait=hv', 'sync');
    // The injected packets' flows stay until the idle test lowers max-idle itself: at the default
    // 10 s a loaded machine let them idle out before a dump counted them (Debian 13, stop 27's CI).
    await sb.keepFlows(120_000);
    for (const [name, port] of await sb.dpPorts()) dpPort.set(name, port);
    app = await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200' });
    http = request(app.getHttpServer());
    await waitFor('service healthy', async () => (await http.get('/health')).status === 200, 60_000);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('creates a session on lsp1 (201) and refuses bad ones naming the field', async () => {
    const res = await http.post('/trace-sessions').send({ bridge: 'br-int', logicalPort: 'lsp1' }).expect(201);
    expect(res.body).toMatchObject({ id: 1, logicalPort: 'lsp1', state: 'active' });
    expect((await http.post('/trace-sessions').send({ filter: 'tcp,tp_dst=99999' }).expect(400)).body).toMatchObject({ field: 'filter' });
    expect((await http.post('/trace-sessions').send({}).expect(400)).body.message).toMatch(/filter: give a filter, a logicalPort, or both/);
    expect((await http.post('/trace-sessions').send({ logicalPort: 'nope' }).expect(404)).body.message).toMatch(/"nope"/);
    expect((await http.post('/trace-sessions').send({ logicalPort: 'lsp1', maxTraces: -1 }).expect(400)).body.field).toBe('maxTraces');
  });

  it('traces every datapath flow of lsp1 packets, with recirculation edges and consistent traces; nothing of lsp2<->lsp3', async () => {
    await inject('vif1', ip4(1, 2, 'icmp(type=8,code=0)', 1), 2);
    await inject('vif1', ip4(1, 2, 'tcp(src=40000,dst=80),tcp_flags(0x002)', 6), 2);
    await inject('vif1', ip4(1, 2, 'tcp(src=40001,dst=22),tcp_flags(0x002)', 6), 2);
    await inject('vif2', ip4(2, 3, 'icmp(type=8,code=0)', 1), 2);
    await inject('vif3', ip4(3, 2, 'udp(src=5000,dst=6000)', 17), 2);

    const lsp1Flows = (await dump()).filter((f) => f.line.includes('in_port(vif1)'));
    expect(lsp1Flows.length).toBeGreaterThanOrEqual(6);
    const lifetimes = await waitFor('a consistent trace for every flow of lsp1', async () => {
      const all = [];
      for (const f of lsp1Flows) {
        const r = await http.get(`/datapath-flows/${f.ufid}`);
        if (r.status !== 200) return undefined;
        const lt = r.body.lifetimes[0];
        if (!lt.traces.length) return undefined;
        all.push({ ...lt, line: f.line });
      }
      return all;
    }, 60_000);
    for (const lt of lifetimes) {
      expect(lt.traces[0].consistent).toBe(true);
      if (lt.recircId !== '0x0') expect(lt.parents.length).toBeGreaterThanOrEqual(1);
    }
    const withChildren = lifetimes.filter((lt) => lt.children.length);
    expect(withChildren.length).toBeGreaterThanOrEqual(3);

    // Nothing of lsp2 <-> lsp3 (flows entering from vif2/vif3 towards each other) is stored.
    const others = (await dump()).filter((f) => /in_port\(vif[23]\)/.test(f.line) && !f.line.includes(`dst=${MAC(1)}`));
    expect(others.length).toBeGreaterThan(0);
    for (const f of others) {
      const r = await http.get(`/datapath-flows/${f.ufid}`);
      const traces = r.status === 200 ? r.body.lifetimes.flatMap((l: { traces: unknown[] }) => l.traces) : [];
      expect(traces).toEqual([]);
    }
    const lsp3 = await http.get('/traces').query({ logical_port: 'lsp3', role: 'inport' }).expect(200);
    expect(lsp3.body.items).toEqual([]);
    const session = await http.get('/trace-sessions/1').expect(200);
    expect(session.body.stats.stored).toBeGreaterThanOrEqual(lsp1Flows.length);
  });

  it('the path of the SSH packet ends in a drop attributed to the ACL and its logical flow', async () => {
    const drops = await waitFor('a dropped trace of lsp1', async () => {
      const r = await http.get('/traces').query({ logical_port: 'lsp1', verdict: 'drop', include: 'steps' });
      return r.body.items?.length ? r.body.items : undefined;
    }).catch(async (err) => {
      const all = (await http.get('/traces').query({ limit: 100 })).body.items.map((t: { id: number; recircId: string; verdict: { kinds: string[] }; flow: string; logicalPorts: Array<{ name: string }> }) =>
        `${t.id} ${t.recircId} ${t.verdict.kinds} ${t.logicalPorts.map((p) => p.name)} ${t.flow.slice(0, 120)}`);
      const s = (await http.get('/trace-sessions/1')).body.stats;
      throw new Error(`${err.message}: ${JSON.stringify(s)}\n${all.join('\n')}\n${(await dump()).map((d) => d.line.slice(0, 200)).join('\n')}`);
    });
    const ssh = drops.find((t: { flow: string }) => /tp_dst=22\b/.test(t.flow));
    expect(ssh).toBeDefined();
    const path = await http.get(`/paths/${ssh.pathId}`).expect(200);
    expect(path.body.verdict.kinds).toContain('drop');
    expect(path.body.verdict.northbound).toMatchObject({ table: 'ACL', uuid: aclUuid });
    const lflow = path.body.verdict.logicalFlow;
    expect(lflow).toMatch(/^[0-9a-f-]{36}$/);
    const step = ssh.steps.find((s: { owners: Array<{ uuid: string }> }) => s.owners.some((o) => o.uuid === lflow));
    expect(step.owners[0]).toMatchObject({ table: 'Logical_Flow', stage: expect.stringMatching(/^ls_out_acl(_eval)?$/), stale: false }); // ACL tiers (OVN >= 23.09): the acl_eval flow decided
    expect(path.body.passes.length).toBeGreaterThanOrEqual(2);
    expect(path.body.passes[0].recircId).toBe('0x0');
    // The audit by the ACL finds the trace.
    const byAcl = await http.get('/traces').query({ northbound_uuid: aclUuid }).expect(200);
    expect(byAcl.body.items.map((t: { id: number }) => t.id)).toContain(ssh.id);
  });

  it('stores a reply to lsp1 whole: the first pass from lsp2, which stops at conntrack before the outport is known, heads its path', async () => {
    // Through conntrack both ways: the echo request commits the connection, the reply is +est+rpl.
    await inject('vif1', ip4(1, 2, 'icmp(type=8,code=0)', 1), 1);
    await inject('vif2', ip4(2, 1, 'icmp(type=0,code=0)', 1), 1);
    type Trace = { id: number; pathId: number; flow: string; verdict: { kinds: string[]; logicalPorts: string[] } };
    const reply = await waitFor('the reply output to lsp1', async () => {
      const items: Trace[] = (await http.get('/traces').query({ logical_port: 'lsp1', limit: 500 }).expect(200)).body.items;
      return items.find((t) => t.flow.includes('icmp_type=0') && t.verdict.logicalPorts.includes('lsp1'));
    }, 60_000);
    type Counters = { selected: number; traced: number; stored: number; notSelected: number; dropped: number; failed: Record<string, number>; skipped: Record<string, number> };
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    await waitFor('no pass of the session in flight', async () => {
      const c: Counters = (await http.get('/trace-sessions/1').expect(200)).body.stats;
      const store = c.failed.store ?? 0;
      return c.selected === c.traced + c.dropped + sum(c.skipped) + sum(c.failed) - store && c.traced === c.stored + c.notSelected + store;
    }, 30_000);
    const path = (await http.get(`/paths/${reply.pathId}`).expect(200)).body;
    const first = path.passes[0];
    expect({ incomplete: path.verdict.incomplete, reason: path.verdict.incompleteReason, firstRecirc: first.recircId }).toEqual({ incomplete: false, reason: undefined, firstRecirc: '0x0' });
    expect(first.logicalPorts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'lsp2', role: 'inport', scope: 'pass' })]));
    // The packet entered from lsp2: its passes are found by lsp2 as inport too.
    const fromLsp2: Trace[] = (await http.get('/traces').query({ logical_port: 'lsp2', role: 'inport', limit: 500 }).expect(200)).body.items;
    expect(fromLsp2.map((t) => t.id)).toEqual(expect.arrayContaining(path.passes.map((p: { id: number }) => p.id)));
  });

  it('marks idle flows removed, and a re-created UFID is a new lifetime traced again', async () => {
    const first = (await dump()).find((f) => f.line.includes('in_port(vif1)') && f.line.includes('recirc_id(0)') && f.line.includes('proto=1'))!;
    expect(first).toBeDefined();
    await sb.vsctl('set', 'open_vswitch', '.', 'other_config:max-idle=500');
    await waitFor('the flow to be removed', async () => {
      const r = await http.get(`/datapath-flows/${first.ufid}`);
      return r.body.lifetimes?.[0]?.state === 'removed';
    }, 60_000);
    await sb.vsctl('remove', 'open_vswitch', '.', 'other_config', 'max-idle');
    await inject('vif1', ip4(1, 2, 'icmp(type=8,code=0)', 1), 1);
    const lts = await waitFor('a second, traced lifetime', async () => {
      const r = await http.get(`/datapath-flows/${first.ufid}`);
      const l = r.body.lifetimes;
      return l?.length === 2 && l[0].state === 'live' && l[0].traces.length ? l : undefined;
    }, 60_000);
    expect(lts[1].removalReason).toBe('gone');
    expect(lts[0].id).not.toBe(lts[1].id);
  });
});
