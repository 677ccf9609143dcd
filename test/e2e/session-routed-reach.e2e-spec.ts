// A session on lsp1 keeps the first pass of a packet sent to lsp1 from two routers away. The far
// VM's switch has an allow-related ACL, so the packet's first pass stops at conntrack in that
// switch's ingress, before any router ran and before the outport is known: it names vmfar only.
// The session selected it by lsp1's address; it is kept because lr1 routes lsp1's subnet toward
// the join switch and lr0 routes it into sw0 (src/trace-sessions/port-target.ts). Kept only one
// router away (f53c670), the path said "incomplete: no first pass". Another tenant on the join
// switch, lrT, holds 10.0.0.0/24 itself (lspT is 10.0.0.1 as lsp1 is): its packets to lspT are
// selected by the address but not kept, since lrT routes that address into its own swT.
//
//   lsp1 (10.0.0.1) ── sw0 ── lr0 ── join (100.64.0.0/24) ── lr1 ── swFar ── vmfar (30.0.0.5)
//                                          └── lrT ── swT ── lspT (10.0.0.1), vmT (10.0.0.7)
// (router port lrN-<switch>, its peer <switch>-lrN)
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

const FAR_MAC = '50:54:00:00:03:05';
const LR1_FAR_MAC = '00:00:00:00:1f:01';
const TENANT_MAC = '50:54:00:00:0a:01';
const VMT_MAC = '50:54:00:00:0a:07';

type Trace = { id: number; pathId: number; recircId: string; flow: string; verdict: { kinds: string[]; logicalPorts: string[] } };

describe('a session on lsp1 and a packet to it from two routers away', () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  /** Router port `<lr>-<ls>` on switch `ls` (made if absent), peered by the switch's `<ls>-<lr>`. */
  async function link(lr: string, ls: string, mac: string, network: string): Promise<void> {
    const [lrp, lsp] = [`${lr}-${ls}`, `${ls}-${lr}`];
    await sb.nbctl('--may-exist', 'ls-add', ls);
    await sb.nbctl('lrp-add', lr, lrp, mac, network);
    await sb.nbctl('lsp-add', ls, lsp, '--', 'lsp-set-type', lsp, 'router', '--', 'lsp-set-addresses', lsp, 'router', '--', 'lsp-set-options', lsp, `router-port=${lrp}`);
  }

  /** A VM port on `ls` with an allow-related ACL from it: its first pass stops at the switch's conntrack. */
  async function vm(ls: string, name: string, addresses: string, iface: string, ofport: number): Promise<void> {
    await sb.nbctl('lsp-add', ls, name, '--', 'lsp-set-addresses', name, addresses);
    await sb.nbctl('acl-add', ls, 'from-lport', '1001', `inport == "${name}" && ip4`, 'allow-related');
    await sb.bind(name, iface, ofport);
  }

  async function twoRouters(): Promise<void> {
    await sb.demoTopology();
    for (const lr of ['lr0', 'lr1', 'lrT']) await sb.nbctl('lr-add', lr);
    await link('lr0', 'sw0', '00:00:00:00:ff:01', '10.0.0.254/24');
    await link('lr0', 'join', '00:00:00:00:0f:01', '100.64.0.1/24');
    await link('lr1', 'join', '00:00:00:00:0f:02', '100.64.0.2/24');
    await link('lr1', 'swFar', LR1_FAR_MAC, '30.0.0.254/24');
    await vm('swFar', 'vmfar', `${FAR_MAC} 30.0.0.5`, 'vif4', 4);
    // lr1 knows lsp1's subnet only by a static route to lr0's join address; lr0 sends the rest back.
    await sb.nbctl('lr-route-add', 'lr1', '10.0.0.0/24', '100.64.0.1');
    await sb.nbctl('lr-route-add', 'lr0', '0.0.0.0/0', '100.64.0.2');
    // The tenant: its own 10.0.0.0/24 behind lrT, whose default route goes to lr0.
    await link('lrT', 'join', '00:00:00:00:0f:03', '100.64.0.3/24');
    await link('lrT', 'swT', '00:00:00:00:2f:01', '10.0.0.254/24');
    await sb.nbctl('lr-route-add', 'lrT', '0.0.0.0/0', '100.64.0.1');
    await sb.nbctl('lsp-add', 'swT', 'lspT', '--', 'lsp-set-addresses', 'lspT', `${TENANT_MAC} 10.0.0.1`);
    await sb.bind('lspT', 'vif5', 5);
    await vm('swT', 'vmT', `${VMT_MAC} 10.0.0.7`, 'vif6', 6);
    await sb.nbctl('--wait=hv', 'sync');
  }

  beforeAll(async () => {
    sb = await Sandbox.start();
    await twoRouters();
    await sb.keepFlows(120_000);
    app = await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200' });
    http = request(app.getHttpServer());
    await waitFor('service healthy', async () => (await http.get('/health')).status === 200, 60_000);
    await http.post('/trace-sessions').send({ logicalPort: 'lsp1' }).expect(201);
    // A flow the poller's first dump finds is an installed one, not a new one the session looks at:
    // packets go in only after a dump has been made.
    const created = new Date().toISOString();
    await waitFor('a poll cycle after the session', async () => (await http.get('/health')).body.info?.vswitchd?.poller?.lastCycle?.at > created, 60_000);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  type Counters = { selected: number; traced: number; stored: number; notSelected: number; dropped: number; failed: Record<string, number>; skipped: Record<string, number> };
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  /** The session's counters once every pass it selected has been traced and stored or let go. */
  const settled = (what: string, done: (c: Counters) => boolean) =>
    waitFor(what, async () => {
      const c: Counters = (await http.get('/trace-sessions/1').expect(200)).body.stats;
      const store = c.failed.store ?? 0;
      const idle = c.selected === c.traced + c.dropped + sum(c.skipped) + sum(c.failed) - store && c.traced === c.stored + c.notSelected + store;
      return idle && done(c) ? c : undefined;
    }, 90_000);

  it("lets another tenant's packets to the same address go: its router routes 10.0.0.0/24 into its own switch", async () => {
    const vif6 = (await sb.dpPorts()).get('vif6');
    await sb.inject('vif6', `in_port(${vif6}),eth(src=${VMT_MAC},dst=${TENANT_MAC}),eth_type(0x0800),ipv4(src=10.0.0.7,dst=10.0.0.1,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`, 1);
    // Each pass is selected by lsp1's address and traced: the first stops at swT's conntrack and
    // names vmT only, the others name lspT. None is lsp1's: all let go, the recirculations too,
    // though their parent was selected (to decide) when they were.
    const passes = (await sb.appctl('dpctl/dump-flows', '-m')).split('\n').filter((l) => l.includes('in_port(vif6)')).length;
    expect(passes).toBeGreaterThanOrEqual(2);
    const c = await settled('every tenant pass traced', (x) => x.notSelected + x.stored >= passes);
    expect({ stored: c.stored, notSelected: c.notSelected }).toEqual({ stored: 0, notSelected: passes });
    const items: Trace[] = (await http.get('/traces').query({ session: 1, limit: 500 }).expect(200)).body.items;
    expect(items.filter((t) => t.flow.includes('nw_src=10.0.0.7'))).toEqual([]);
  });

  it('stores the path whole, its first pass (stopped at conntrack on swFar) at its head, and lists it under lsp1', async () => {
    const vif4 = (await sb.dpPorts()).get('vif4');
    const icmp = `in_port(${vif4}),eth(src=${FAR_MAC},dst=${LR1_FAR_MAC}),eth_type(0x0800),ipv4(src=30.0.0.5,dst=10.0.0.1,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`;
    await sb.inject('vif4', icmp, 1);
    // The pass that outputs to lsp1, on its way through both routers.
    const out = await waitFor('the pass output to lsp1', async () => {
      const items: Trace[] = (await http.get('/traces').query({ logical_port: 'lsp1', limit: 500 }).expect(200)).body.items;
      return items.find((t) => t.flow.includes('nw_src=30.0.0.5') && t.verdict.logicalPorts.includes('lsp1'));
    }, 90_000);
    await settled('no pass of the session in flight', () => true);
    const path = (await http.get(`/paths/${out.pathId}`).expect(200)).body;
    const first = path.passes[0];
    expect({ incomplete: path.verdict.incomplete, reason: path.verdict.incompleteReason, firstRecirc: first.recircId }).toEqual({ incomplete: false, reason: undefined, firstRecirc: '0x0' });
    expect(first.logicalPorts).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'vmfar', role: 'inport', scope: 'pass' })]));
    // It recirculates at swFar's conntrack, before any router: it does not name lsp1 itself.
    expect(first.logicalPorts.filter((p: { scope: string }) => p.scope === 'pass').map((p: { name: string }) => p.name)).not.toContain('lsp1');
    const byLsp1: Trace[] = (await http.get('/traces').query({ logical_port: 'lsp1', limit: 500 }).expect(200)).body.items;
    expect(byLsp1.map((t) => t.id)).toEqual(expect.arrayContaining(path.passes.map((p: { id: number }) => p.id)));
    expect(byLsp1.map((t) => t.id)).toContain(first.id);
  });
});
