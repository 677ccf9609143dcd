// Cross-checks of live paths against the real ovn-trace on a real sandbox of the pair under test
// (LIVETRACE_PAIR): same-switch (ICMP echo, a TCP connection's first packet), routed (ICMP from sw0
// to sw1 through lr0, whose egress toward the router port is untracked after the ingress
// ct_commit), SNAT (out of lr0's gateway port) and load-balanced paths match, with the --ct values
// each of ovn-trace's conntrack actions takes derived from the live passes; a paused
// ovn-controller that still runs an allow-related ACL the northbound changed to drop makes every
// one of them diverge at the ACL stage (ls_in_acl, or ls_in_acl_eval with ACL tiers), naming the
// stale live logical flow and ovn-trace's new one, and they match again once resumed; a port named
// with quotes, a backslash and shell metacharacters reaches ovn-trace as data; a packet routed to a
// Static_MAC_Binding diverges after get_arp, naming the binding ovn-trace does not read; a missing
// ovn-trace binary is a 503 naming it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

const WEIRD = 'we"ird\\ $(x);';
const MAC = (n: number) => `50:54:00:00:00:0${n}`;
const IP = (n: number) => `10.0.0.${n}`;
function ip4(from: number, dst: { mac: string; ip: string }, l4: string, proto: number): string {
  return `eth(src=${MAC(from)},dst=${dst.mac}),eth_type(0x0800),ipv4(src=${IP(from)},dst=${dst.ip},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;
}
const TO2 = { mac: MAC(2), ip: IP(2) };
/** lr0's MAC on sw0: routed and SNATed packets are sent to it. */
const ROUTER = { mac: '00:00:00:00:ff:01' };
const TO4 = { ...ROUTER, ip: '20.0.0.4' };
const TO_PUBLIC = { ...ROUTER, ip: '172.16.0.10' };
const VIP = { mac: MAC(2), ip: '10.0.0.100' };
/** The stages that hold an ACL's decision: ls_in_acl before ACL tiers (OVN 23.09), ls_in_acl_eval after. */
const ACL_STAGE = /^ls_in_acl(_eval)?$/;

interface Path {
  id: number;
  verdict: { kinds: string[]; logicalPorts: string[]; incomplete?: boolean };
  passes: Array<{ id: number; recircId: string; flow: string }>;
}

describe('cross-check of live paths against ovn-trace', () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let dbFile = '';
  const dpPort = new Map<string, number>();
  let aclUuid = '';

  const inject = (iface: string, flow: string) => sb.inject(iface, `in_port(${dpPort.get(iface)}),${flow}`, 1);

  /** Sends one packet with a unique L4 source and waits for its whole path (every pass traced, a final verdict). */
  async function pathOf(iface: string, flow: string, marker: RegExp, port = 'lsp1'): Promise<Path> {
    // Megaflows of earlier packets wildcard the IP protocol after conntrack: a TCP packet would
    // reuse an ICMP packet's last pass without an upcall. Fresh flows give every packet its own passes.
    // The poller must see them gone, or a re-created flow with the same UFID looks like the old one.
    await sb.appctl('dpctl/del-flows');
    const deleted = new Date().toISOString();
    await waitFor('a poll cycle after the flush', async () => {
      const cycle = (await http.get('/health')).body.info?.vswitchd?.poller?.lastCycle;
      return cycle && cycle.at > deleted && cycle.flows === 0;
    });
    const newest = (await http.get('/traces').query({ limit: 1 })).body.items?.[0]?.id ?? 0;
    await inject(iface, flow);
    // Done when the first pass and a last pass (output or drop) of this packet are stored. The
    // path row may lack a pass traced before its parent: the cross-check follows the recirculation edges.
    return waitFor(`the passes of ${marker}`, async () => {
      const r = await http.get('/traces').query({ limit: 50 });
      const mine = (r.body.items ?? []).filter((t: { id: number; flow: string }) => t.id > newest && marker.test(t.flow));
      const root = mine.find((t: { recircId: string }) => t.recircId === '0x0');
      const last = mine.find((t: { verdict: { kinds: string[] } }) => t.verdict.kinds.some((k) => k === 'output' || k === 'drop'));
      if (!root?.pathId || !last) return undefined;
      const p = (await http.get(`/paths/${root.pathId}`)).body as Path;
      return { ...p, passes: [root, ...p.passes.filter((x) => x.id !== root.id)], verdict: last.verdict };
    }, 60_000).catch(async (err) => {
      const r = await http.get('/traces').query({ logical_port: port, limit: 20 });
      const seen = r.body.items?.map((t: { id: number; pathId: number; recircId: string; flow: string }) => `${t.id} path ${t.pathId} ${t.recircId} ${t.flow.slice(0, 160)}`);
      throw new Error(`${(err as Error).message}; traces of ${port}: ${JSON.stringify(seen, null, 1)}`);
    });
  }

  async function crossCheck(p: Path, keepAs?: string) {
    const res = await http.post(`/traces/${p.passes[0].id}/cross-check`);
    expect([res.status, res.body?.message]).toEqual([201, undefined]);
    // One path owner: the cross-check compares the passes in the order GET /paths/:id gives them
    // (edge order; a pass stored after the cross-check may only add to the path).
    const path = (await http.get(`/paths/${res.body.pathId}`).expect(200)).body as Path;
    expect(path.passes.map((x) => x.id).filter((id) => res.body.traceIds.includes(id))).toEqual(res.body.traceIds);
    if (keepAs && process.env.LIVETRACE_XC_CAPTURE_DIR) await keep(keepAs, res.body);
    return res.body;
  }

  /**
   * scripts/capture-ovn-trace-fixtures --live runs this suite with LIVETRACE_XC_CAPTURE_DIR: each
   * named cross-check's live passes (with steps), live verdict, microflow and ovn-trace output are
   * written there, the inputs of the compare unit tests on every pair.
   */
  async function keep(name: string, xc: { traceIds: number[]; verdicts: { live: unknown }; microflow: unknown; ovnTrace: { output: string } }) {
    const dir = process.env.LIVETRACE_XC_CAPTURE_DIR!;
    mkdirSync(dir, { recursive: true });
    const passes = [];
    for (const id of xc.traceIds) passes.push((await http.get(`/traces/${id}`).expect(200)).body);
    writeFileSync(join(dir, `${name}-path.json`), JSON.stringify({ verdict: xc.verdicts.live, microflow: xc.microflow, passes }, null, 1) + '\n');
    writeFileSync(join(dir, `${name}.ovn-trace.txt`), xc.ovnTrace.output);
  }

  beforeAll(async () => {
    sb = await Sandbox.start({ prefix: 'livetrace-xc-' });
    await sb.demoTopology();
    // A second stateful ACL keeps sw0 stateful when lsp1's ACL becomes a drop, so the change is
    // one logical flow in ls_in_acl and not the whole conntrack pipeline.
    await sb.nbctl('acl-add', 'sw0', 'from-lport', '1001', 'inport == "lsp2" && ip4', 'allow-related');
    await sb.nbctl('lb-add', 'lb0', '10.0.0.100:80', '10.0.0.2:8080', 'tcp', '--', 'ls-lb-add', 'sw0', 'lb0');
    await sb.nbctl('lsp-add', 'sw0', WEIRD, '--', 'lsp-set-addresses', WEIRD, `${MAC(9)} ${IP(9)}`);
    await sb.bind(WEIRD, 'vif9', 9);
    // lr0 joins sw0, sw1 (lsp4) and public (lsp5, the "outside"); its public port is a distributed
    // gateway port on this chassis that SNATs sw0's subnet.
    await sb.nbctl('ls-add', 'sw1', '--', 'lsp-add', 'sw1', 'lsp4', '--', 'lsp-set-addresses', 'lsp4', `${MAC(4)} 20.0.0.4`);
    await sb.nbctl('ls-add', 'public', '--', 'lsp-add', 'public', 'lsp5', '--', 'lsp-set-addresses', 'lsp5', `${MAC(5)} 172.16.0.10`);
    await sb.bind('lsp4', 'vif4', 4);
    await sb.bind('lsp5', 'vif5', 5);
    await sb.nbctl(
      'lr-add', 'lr0',
      '--', 'lrp-add', 'lr0', 'lr0-sw0', ROUTER.mac, '10.0.0.254/24',
      '--', 'lrp-add', 'lr0', 'lr0-sw1', '00:00:00:00:ff:02', '20.0.0.254/24',
      '--', 'lrp-add', 'lr0', 'lr0-public', '00:00:00:00:ff:03', '172.16.0.254/24',
      '--', 'lrp-set-gateway-chassis', 'lr0-public', 'hv1', '20',
    );
    for (const [sw, lrp] of [['sw0', 'lr0-sw0'], ['sw1', 'lr0-sw1'], ['public', 'lr0-public']]) {
      const lsp = `${sw}-lr0`;
      await sb.nbctl('lsp-add', sw, lsp, '--', 'lsp-set-type', lsp, 'router', '--', 'lsp-set-addresses', lsp, 'router', '--', 'lsp-set-options', lsp, `router-port=${lrp}`);
    }
    await sb.nbctl('lr-nat-add', 'lr0', 'snat', '172.16.0.254', '10.0.0.0/24');
    aclUuid = (await sb.nbctl('--bare', '--columns=_uuid', 'find', 'acl', 'priority=1001', 'match="inport == \\"lsp1\\" && ip4"')).trim();
    await sb.nbctl('--wait=hv', 'sync');
    await sb.keepFlows();
    for (const [name, port] of await sb.dpPorts()) dpPort.set(name, port);
    dbFile = join(sb.dir, 'livetrace.sqlite');
    app = await startApp({ ...sb.env, LIVETRACE_DB: dbFile, LIVETRACE_POLL_INTERVAL_MS: '200' });
    http = request(app.getHttpServer());
    await waitFor('service healthy', async () => (await http.get('/health')).status === 200, 60_000);
    await http.post('/trace-sessions').send({ logicalPort: 'lsp1' }).expect(201);
    await http.post('/trace-sessions').send({ logicalPort: WEIRD }).expect(201);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('the ICMP echo matches, with the live conntrack states (new,trk) passed as --ct', async () => {
    const p = await pathOf('vif1', ip4(1, TO2, 'icmp(type=8,code=0)', 1), /icmp_type=8/);
    const xc = await crossCheck(p, 'icmp');
    expect(xc.result).toBe('match');
    expect(xc.divergence).toBeNull();
    expect(xc.microflow).toMatchObject({ datapath: 'sw0', inport: 'lsp1', ctStates: ['new,trk', 'new,trk'], lbDst: null });
    expect(xc.microflow.expression).toContain('ip.ttl == 64');
    expect(xc.command.argv).toEqual(expect.arrayContaining(['--detailed', '--ct=new,trk', '--', 'sw0']));
    expect(xc.command.argv[0]).toBe('ovn-trace');
    expect(xc.ovnTrace.ctSections.every((s: { defaulted: boolean }) => !s.defaulted)).toBe(true);
    expect(xc.pipelines.map((x: { pipeline: string }) => x.pipeline)).toEqual(['ingress', 'egress']);
    expect(xc.pipelines[0].matched).toBeGreaterThanOrEqual(5);
    expect(xc.verdicts).toEqual({ live: { kinds: ['output'], logicalPorts: ['lsp2'] }, simulated: { outputs: ['lsp2'], dropped: false } });
    // Stored: GET /cross-checks/:id answers the same; the trace knows its latest cross-check.
    const got = await http.get(`/cross-checks/${xc.id}`).expect(200);
    expect(got.body).toMatchObject({ id: xc.id, result: 'match', traceId: p.passes[0].id, pathId: p.id });
    const list = await http.get(`/traces/${p.passes.at(-1)!.id}/cross-checks`).expect(200);
    expect(list.body.latestCrossCheck).toBe(xc.id);
    await http.get('/cross-checks/999999').expect(404);
    await http.post('/traces/999999/cross-check').expect(404);
  });

  it("a TCP connection's first packet matches", async () => {
    const p = await pathOf('vif1', ip4(1, TO2, 'tcp(src=40100,dst=80),tcp_flags(0x002)', 6), /tp_src=40100\b/);
    const xc = await crossCheck(p);
    expect(xc.result).toBe('match');
    expect(xc.microflow.expression).toMatch(/tcp\.src == 40100 && tcp\.dst == 80/);
    expect(xc.microflow.ctStates[0]).toBe('new,trk');
  });

  it('a load-balanced packet matches; the live NAT names the backend', async () => {
    const p = await pathOf('vif1', ip4(1, VIP, 'tcp(src=40200,dst=80),tcp_flags(0x002)', 6), /tp_src=40200\b/);
    const xc = await crossCheck(p, 'lb-vip');
    expect(xc.microflow.liveNat).toBe('10.0.0.2:8080');
    expect(xc.microflow.ctStates).toContain('new,trk,dnat');
    expect(xc.result).toBe('match');
    expect(xc.ovnTrace.output).toContain('ct_lb_mark(backends=10.0.0.2:8080)');
  });

  it('a routed packet matches: the egress toward the router port, untracked after ct_commit, is not a difference', async () => {
    const p = await pathOf('vif1', ip4(1, TO4, 'icmp(type=8,code=0)', 1), /nw_dst=20\.0\.0\.4\b/);
    const xc = await crossCheck(p, 'routed');
    expect(xc.divergence).toBeNull();
    expect(xc.result).toBe('match');
    expect(xc.pipelines.map((x: { pipeline: string; datapath: string }) => `${x.pipeline}/${x.datapath}`)).toEqual([
      'ingress/sw0', 'egress/sw0', 'ingress/lr0', 'egress/lr0', 'ingress/sw1', 'egress/sw1',
    ]);
    // ovn-trace keeps the ingress conntrack state through sw0's egress (ct_commit is a no-op there); OVS untracks it.
    const egress = xc.pipelines[1];
    expect(egress.excused.ctClearedByCommit?.length ?? 0).toBeGreaterThanOrEqual(1);
    expect(xc.verdicts).toEqual({ live: { kinds: ['output'], logicalPorts: ['lsp4'] }, simulated: { outputs: ['lsp4'], dropped: false } });
    expect(xc.microflow.ctStates[0]).toBe('new,trk');
  });

  // ovn-trace reads no Static_MAC_Binding (its get_arp reads the southbound's MAC_Binding only): the
  // datapath's get_arp finds the row's rule, ovn-trace's finds nothing and asks for the MAC.
  it("a packet routed to a Static_MAC_Binding diverges after get_arp, naming the binding ovn-trace does not read", async () => {
    const [ip, mac] = ['20.0.0.80', '50:54:00:00:00:80'];
    await sb.nbctl('--wait=hv', 'static-mac-binding-add', 'lr0-sw1', ip, mac);
    const p = await pathOf('vif1', ip4(1, { ...ROUTER, ip }, 'icmp(type=8,code=0)', 1), /nw_dst=20\.0\.0\.80\b/);
    const xc = await crossCheck(p, 'routed-static');
    expect(xc).toMatchObject({ result: 'diverged', divergence: { pipeline: 'ingress', datapath: 'lr0', stage: 'lr_in_arp_request' } });
    expect(xc.divergence.explanation).toContain(`the datapath used Static_MAC_Binding ${ip} → ${mac} on lr0-sw1, which ovn-trace does not read`);
    expect(xc.divergence.explanation).toMatch(/get_arp.*no MAC binding for 20\.0\.0\.80/);
  });

  it('a packet SNATed out of the gateway port matches', async () => {
    const p = await pathOf('vif1', ip4(1, TO_PUBLIC, 'udp(src=40400,dst=53)', 17), /tp_src=40400\b/);
    const xc = await crossCheck(p, 'snat');
    expect(xc.divergence).toBeNull();
    expect(xc.result).toBe('match');
    expect(xc.verdicts.simulated).toEqual({ outputs: ['lsp5'], dropped: false });
    expect(xc.verdicts.live.logicalPorts).toContain('lsp5');
    // The router's SNAT (ct_snat, or ct_snat_in_czone printed `ct_snatin_czone`) comes after sw0's
    // conntrack: ovn-trace holds the packet tracked there and takes no --ct for it.
    const snat = xc.ovnTrace.ctSections.find((s: { title: string }) => /^ct_snat(_?in_czone)?\(ip4\.src=172\.16\.0\.254\)/.test(s.title));
    expect(snat).toMatchObject({ consumesCt: false, flag: null });
  });

  it('a session with crossCheck: true cross-checks its completed paths by itself', async () => {
    await http.post('/trace-sessions').send({ logicalPort: 'lsp3', crossCheck: true }).expect(201);
    const p = await pathOf('vif3', ip4(3, TO2, 'icmp(type=8,code=0)', 1), /nw_src=10\.0\.0\.3\b/, 'lsp3');
    const latest = await waitFor('an automatic cross-check of the path', async () => {
      const r = await http.get(`/traces/${p.passes[0].id}/cross-checks`);
      return r.body.latestCrossCheck ?? undefined;
    }, 60_000);
    const xc = (await http.get(`/cross-checks/${latest}`).expect(200)).body;
    expect(xc).toMatchObject({ result: 'match', pathId: p.id });
    expect(xc.microflow.inport).toBe('lsp3');
  });

  it('a port named with quotes, a backslash and $(…) reaches ovn-trace as data', async () => {
    const p = await pathOf('vif9', ip4(9, TO2, 'icmp(type=8,code=0)', 1), /nw_src=10\.0\.0\.9\b/, WEIRD);
    const xc = await crossCheck(p);
    expect(xc.microflow.inport).toBe(WEIRD);
    expect(xc.microflow.expression.startsWith('inport == "we\\"ird\\\\ $(x);" && ')).toBe(true);
    expect(xc.command.argv.at(-1)).toBe(xc.microflow.expression);
    expect(xc.ovnTrace.output).toContain(`ingress(dp="sw0", inport="${WEIRD}")`);
    expect(xc.result).toBe('match');
  });

  // A path whose later passes were not traced (no session took the packet; one pass traced on
  // demand) stops at its first recirculation: ovn-trace goes on where the live path has nothing to
  // compare. That was stored and answered as a divergence ("a stage the live path did not visit"),
  // a disagreement of the two tools that nothing showed; it is a 422 saying the path is incomplete.
  it('an incomplete path (its recirculations not traced) is a 422 saying so, not a divergence', async () => {
    await sb.appctl('dpctl/del-flows');
    await inject('vif2', ip4(2, TO4, 'icmp(type=8,code=0)', 1));
    const root = await waitFor('the root flow of lsp2 to lsp4', async () => {
      const text = await sb.appctl('dpctl/dump-flows', '-m');
      const line = text.split('\n').find((l) => l.includes('in_port(vif2)') && l.includes('recirc_id(0)') && l.includes('dst=20.0.0.4') && l.includes('recirc('));
      return line?.slice(5, 41);
    });
    const t = await waitFor('the on-demand trace of it', async () => {
      const r = await http.post(`/datapath-flows/${root}/trace`);
      return r.status === 201 ? r.body : undefined;
    });
    const path = (await http.get(`/paths/${t.pathId}`).expect(200)).body as Path;
    expect(path.verdict.incomplete).toBe(true);
    const res = await http.post(`/traces/${t.id}/cross-check`);
    expect([res.status, res.body.message]).toEqual([422, expect.stringMatching(/incomplete/)]);
    expect((await http.get(`/traces/${t.id}/cross-checks`).expect(200)).body.items).toEqual([]);
  });

  it('a paused ovn-controller behind an ACL change: same-switch, routed, SNAT and load-balanced paths diverge at the ACL stage; resumed, a new path matches', async () => {
    const pid = readFileSync(join(sb.dir, 'ovn-controller.pid'), 'utf8').trim();
    const ctl = join(sb.env.OVN_RUNDIR, `ovn-controller.${pid}.ctl`);
    const before = (await sb.sbctl('--bare', '--columns=_uuid', 'find', 'logical_flow', 'match="reg0[7] == 1 && (inport == \\"lsp1\\" && ip4)"')).trim();
    expect(before).toMatch(/^[0-9a-f-]{36}$/);
    /** The ACL's logical flows, in ls_in_acl (23.03) or ls_in_acl_eval (ACL tiers). */
    const aclFlows = async () => {
      const rows: string[] = [];
      for (const stage of ['ls_in_acl', 'ls_in_acl_eval']) {
        const out = JSON.parse(await sb.sbctl('--format=json', '--columns=_uuid,match', 'find', 'logical_flow', `external_ids:stage-name=${stage}`));
        for (const [[, uuid], match] of out.data as Array<[[string, string], string]>) if (match.includes('(inport == "lsp1" && ip4)')) rows.push(uuid);
      }
      return rows;
    };
    const old = new Set(await aclFlows());
    await sb.tool('ovs-appctl', '-t', ctl, 'debug/pause');
    try {
      await sb.nbctl('set', 'acl', aclUuid, 'action=drop');
      const dropFlows = await waitFor('the southbound flows of the ACL turned drop', async () => {
        const now = (await aclFlows()).filter((u) => !old.has(u));
        return now.length && !(await aclFlows()).includes(before) ? now : undefined;
      });
      const cases: Array<[string, string, string, RegExp]> = [
        ['same-switch', 'vif1', ip4(1, TO2, 'udp(src=40300,dst=7000)', 17), /tp_src=40300\b/],
        ['routed', 'vif1', ip4(1, TO4, 'udp(src=40310,dst=7000)', 17), /tp_src=40310\b/],
        ['SNAT', 'vif1', ip4(1, TO_PUBLIC, 'udp(src=40320,dst=53)', 17), /tp_src=40320\b/],
        ['load-balanced', 'vif1', ip4(1, VIP, 'tcp(src=40330,dst=80),tcp_flags(0x002)', 6), /tp_src=40330\b/],
      ];
      for (const [what, iface, flow, marker] of cases) {
        const p = await pathOf(iface, flow, marker);
        expect([what, p.verdict.kinds]).toEqual([what, expect.arrayContaining(['output'])]); // the old OpenFlow rules still let it through
        const xc = await crossCheck(p, `acl-changed-${what.toLowerCase()}`);
        expect([what, xc.result]).toEqual([what, 'diverged']);
        expect(xc.divergence).toMatchObject({ pipelineIndex: 0, pipeline: 'ingress', datapath: 'sw0', stage: expect.stringMatching(ACL_STAGE) });
        expect(xc.divergence.live).toMatchObject({ uuid: before, stale: true });
        expect(dropFlows).toContain(xc.divergence.simulated.uuid);
        expect(xc.divergence.explanation).toMatch(/stale/);
        expect(xc.verdicts).toMatchObject({ live: { kinds: expect.arrayContaining(['output']) }, simulated: { dropped: true } });
      }
    } finally {
      await sb.tool('ovs-appctl', '-t', ctl, 'debug/resume');
    }
    await sb.nbctl('--wait=hv', 'sync');
    const p2 = await pathOf('vif1', ip4(1, TO2, 'udp(src=40301,dst=7000)', 17), /tp_src=40301\b/);
    expect(p2.verdict.kinds).toContain('drop');
    const xc2 = await crossCheck(p2);
    expect(xc2.result).toBe('match');
    expect(xc2.verdicts.simulated.dropped).toBe(true);
  });

  it('a missing ovn-trace is a 503 naming the binary, and the service stays up', async () => {
    const anyTrace = (await http.get('/traces').query({ limit: 1 })).body.items[0].id;
    await app.close();
    app = await startApp({ ...sb.env, LIVETRACE_DB: dbFile, LIVETRACE_POLLER: 'false', LIVETRACE_OVN_TRACE: '/nonexistent/ovn-trace' });
    http = request(app.getHttpServer());
    const res = await http.post(`/traces/${anyTrace}/cross-check`).expect(503);
    expect(res.body.message).toMatch(/^\/nonexistent\/ovn-trace: not found/);
    await http.get(`/traces/${anyTrace}`).expect(200);
  });
});
