// Cross-check of two sender-side topologies users have, against the real ovn-trace of the pair
// (scripts/ovn-sandbox --chassis 3, multi-topology, plus what beforeAll adds; one service on hv1):
//  - a flood: an ARP request for an address nobody has, from lsp1@hv1 on sw0, which hv1 delivers
//    to lsp5 (a second port of sw0 on hv1) and sends by Geneve to hv2 (lsp2), under sw0's
//    _MC_flood group key; the router port's copy ends in lr0 on hv1; the same flood from lsp5, lr0's
//    first sight of 10.0.0.5, traced while hv1's ovn-controller is paused: the pass runs put_arp and
//    ovn-trace, run once the binding is written, finds it (flood-first-sight);
//  - a VLAN localnet: sw2 has a localnet port ln-sw2 (tag 100, physnet1 mapped to br-vlan on hv1 and
//    hv2), lsp6@hv1 and lsp7@hv2: a packet from lsp6 to lsp7 leaves hv1 by the localnet port with
//    push_vlan(vid=100), as does lsp6's ARP flood; then the tag is set to 200 while hv1's ovn-controller
//    is paused: the datapath still pushes 100, which ovn-trace cannot show (vlan-stale-tag);
//  - a container port: lsp8 (parent lsp5, tag 8) gets the sw0 flood on vif5 with VLAN 8 (flood-container).
// scripts/capture-ovn-trace-fixtures --flood-vlan runs it with LIVETRACE_XC_CAPTURE_DIR: each case's
// passes (with steps), live verdict, microflow and ovn-trace output (<case>-path.json,
// <case>.ovn-trace.txt), the inputs of test/unit/cross-checks/flood-vlan-paths.spec.ts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ThreeChassis, Trace } from '../support/three-chassis';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

const ARP_FLOOD = 'eth(src=50:54:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.99,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)';
// lsp5's ARP request for the same address: lr0 has no MAC_Binding for 10.0.0.5 until this packet's put_arp.
const ARP_FLOOD_LSP5 = 'eth(src=50:54:00:00:00:05,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.0.0.5,tip=10.0.0.99,op=1,sha=50:54:00:00:00:05,tha=00:00:00:00:00:00)';
// Another address nobody has: lr0 learns 10.0.0.1 from it (see the flood case) under another datapath flow key.
const ARP_FLOOD_LEARN = ARP_FLOOD.replace('tip=10.0.0.99', 'tip=10.0.0.98');
// Yet another address nobody has: the flood once lsp8 sits behind lsp5, under a key of its own.
const ARP_FLOOD_CONTAINER = ARP_FLOOD.replace('tip=10.0.0.99', 'tip=10.0.0.97');
const VLAN_ICMP = 'eth(src=50:54:00:00:00:06,dst=50:54:00:00:00:07),eth_type(0x0800),ipv4(src=10.0.2.6,dst=10.0.2.7,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
const VLAN_ARP_FLOOD = 'eth(src=50:54:00:00:00:06,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.0.2.6,tip=10.0.2.99,op=1,sha=50:54:00:00:00:06,tha=00:00:00:00:00:00)';

let hv: ThreeChassis;
let api = '';

const nbctl = (...args: string[]) => hv.sandbox('run', 'ovn-nbctl', '--no-leader-only', ...args);
const vsctl = (k: number, ...args: string[]) => hv.sandbox('run', 'ovs-vsctl', `--db=unix:${hv.dir}/hv${k}/db.sock`, ...args);

beforeAll(async () => {
  hv = await ThreeChassis.start('livetrace-xc-flood-', (dir) => ({ LIVETRACE_DB: `${dir}/xc.sqlite` }));
  await nbctl('lsp-add', 'sw0', 'lsp5', '--', 'lsp-set-addresses', 'lsp5', '50:54:00:00:00:05 10.0.0.5');
  await nbctl(
    'ls-add', 'sw2',
    '--', 'lsp-add', 'sw2', 'ln-sw2', '--', 'lsp-set-type', 'ln-sw2', 'localnet', '--', 'lsp-set-addresses', 'ln-sw2', 'unknown',
    '--', 'lsp-set-options', 'ln-sw2', 'network_name=physnet1', '--', 'set', 'logical_switch_port', 'ln-sw2', 'tag=100',
    '--', 'lsp-add', 'sw2', 'lsp6', '--', 'lsp-set-addresses', 'lsp6', '50:54:00:00:00:06 10.0.2.6',
    '--', 'lsp-add', 'sw2', 'lsp7', '--', 'lsp-set-addresses', 'lsp7', '50:54:00:00:00:07 10.0.2.7',
  );
  for (const k of [1, 2]) {
    await vsctl(k, '--may-exist', 'add-br', 'br-vlan', '--', '--may-exist', 'add-port', 'br-vlan', 'uplink', '--', 'set', 'interface', 'uplink', 'type=dummy',
      '--', 'set', 'open_vswitch', '.', 'external-ids:ovn-bridge-mappings=physnet1:br-vlan');
  }
  await hv.sandbox('bind', '--chassis', '1', 'lsp5', 'vif5', '5');
  await hv.sandbox('bind', '--chassis', '1', 'lsp6', 'vif6', '6');
  await hv.sandbox('bind', '--chassis', '2', 'lsp7', 'vif7', '7');
  await nbctl('--wait=hv', 'sync');
  const port = hv.base + 1;
  api = `http://127.0.0.1:${port}`;
  await hv.service('all-hv1', 1, port, { LIVETRACE_ROLE: 'all' });
  // One session per protocol: a filter is one OpenFlow match.
  for (const filter of ['arp', 'ip']) {
    const res = await fetch(`${api}/trace-sessions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ filter, durationSeconds: 3600, maxTraces: 1000 }),
    });
    expect([res.status, filter]).toEqual([201, filter]);
  }
});

afterAll(async () => {
  await hv?.stop();
});

type Stored = Trace & { verdict: { outputs?: string[]; tunnels?: Array<{ remoteIp: string }> }; datapathActions?: string };

/** Sends `flow` from `vif` on hv1 and waits for its recirc_id 0 pass that `done` accepts. */
async function sentPass(vif: string, flow: string, done: (t: Stored) => boolean): Promise<Stored> {
  const list = async () => ((await (await fetch(`${api}/traces?limit=50`)).json()) as { items: Stored[] }).items;
  const before = new Set((await list()).map((t) => t.id));
  const port = new RegExp(`\\b${vif} \\d+/(\\d+)`).exec(await hv.sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
  await hv.sandbox('inject', '--chassis', '1', vif, `in_port(${port}),${flow}`);
  try {
    return await waitFor(`the pass on hv1 of ${flow}`, async () => (await list()).find((t) => !before.has(t.id) && done(t)));
  } finally {
    await hv.sandbox('ctl', '--chassis', '1', 'revalidator/purge');
  }
}

interface CrossCheck {
  id: number;
  result?: string;
  message?: string;
  divergence?: { explanation: string } | null;
  pipelines?: Array<{ pipeline: string; datapath: string }>;
  notCompared?: { pipelines: Array<{ pipeline: string; datapath: string }> };
  verdicts?: { live: { kinds: string[]; logicalPorts: string[] }; simulated: { outputs: string[] } };
  /** Each localnet port the packet left by, with its tag as the service's southbound replica has it. */
  localnet?: Array<{ port: string; tag: number | null; pushed: number[] }>;
}

/** Cross-checks the trace once its path is complete and, with `until`, once the service's answer satisfies it. */
async function crossCheck(traceId: number, until?: { what: string; ok: (body: CrossCheck) => boolean }) {
  return waitFor(`cross-check of trace ${traceId}${until ? ` with ${until.what}` : ''}`, async () => {
    const res = await fetch(`${api}/traces/${traceId}/cross-check`, { method: 'POST' });
    const body = (await res.json()) as CrossCheck;
    if (res.status === 422 && /incomplete/.test(body.message ?? '')) return undefined;
    if (until && !until.ok(body)) return undefined;
    return { status: res.status, body };
  }, 60_000);
}

/**
 * With LIVETRACE_XC_CAPTURE_DIR: the cross-check's inputs, and for the correlation's own tests hv1's
 * `ofproto/trace` of each pass's flow (<name>.hv1-trace-N.txt: the same translation the service
 * annotated), hv1's dpif/show, and the NB/SB as they are (`ovsdb-client dump --format=json`), under the
 * prefix `dumps` when the databases are not the other cases' (a changed tag).
 */
async function keep(name: string, id: number, dumps = '') {
  const dir = process.env.LIVETRACE_XC_CAPTURE_DIR;
  if (!dir) return;
  const xc = (await (await fetch(`${api}/cross-checks/${id}`)).json()) as { traceIds: number[]; verdicts: { live: unknown }; microflow: unknown; ovnTrace: { output: string } };
  const passes: Array<{ flow: string }> = [];
  for (const t of xc.traceIds) passes.push((await (await fetch(`${api}/traces/${t}`)).json()) as { flow: string });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}-path.json`), JSON.stringify({ verdict: xc.verdicts.live, microflow: xc.microflow, passes }, null, 1) + '\n');
  writeFileSync(join(dir, `${name}.ovn-trace.txt`), xc.ovnTrace.output);
  for (const [i, p] of passes.entries()) writeFileSync(join(dir, `${name}.hv1-trace-${i}.txt`), await hv.sandbox('ctl', '--chassis', '1', 'ofproto/trace', 'br-int', p.flow));
  writeFileSync(join(dir, `${dumps}hv1.dpif-show.txt`), await hv.sandbox('ctl', '--chassis', '1', 'dpif/show'));
  for (const [db, sock] of [['OVN_Northbound', 'ovnnb_db.sock'], ['OVN_Southbound', 'ovnsb_db.sock']]) {
    writeFileSync(join(dir, `${dumps}${db === 'OVN_Northbound' ? 'northbound' : 'southbound'}.json`), await hv.sandbox('run', 'ovsdb-client', 'dump', '--format=json', `unix:${hv.dir}/${sock}`, db));
  }
}

it('flood on sw0 (lsp1@hv1 ARP for 10.0.0.99): lsp5 here, lsp2 by tunnel; the cross-check agrees', async () => {
  // lr0 learns 10.0.0.1 from the router port's copy (put_arp: a MAC_Binding). Until it has, the datapath
  // runs lr_in_learn_neighbor's put_arp where ovn-trace, reading the southbound later, finds the binding
  // learned by that very packet: a first packet differs by state the simulation sees too late.
  // Not the same packet: it comes back under the same UFID with the same actions and counters, and
  // an agent that did not poll between the purge and its return sees one flow and traces it once.
  await sentPass('vif1', ARP_FLOOD_LEARN, (x) => !!x.verdict.tunnels?.length);
  await waitFor('lr0 to learn 10.0.0.1', async () =>
    (await hv.sandbox('run', 'ovn-sbctl', '--no-leader-only', '--bare', '--columns=mac', 'find', 'MAC_Binding', 'ip=10.0.0.1')).trim() || undefined);
  const t = await sentPass('vif1', ARP_FLOOD, (x) => !!x.verdict.tunnels?.length);
  const { status, body } = await crossCheck(t.id);
  await keep('flood', body.id);
  expect([status, body.message, body.divergence?.explanation ?? null]).toEqual([201, undefined, null]);
  expect(body.result).toBe('match');
  expect(body.verdicts?.live).toEqual({ kinds: ['output', 'tunnel'], logicalPorts: ['lsp5'] });
  expect(body.notCompared?.pipelines).toEqual([{ pipeline: 'egress', datapath: 'sw0', outport: 'lsp2' }]);
});

it("flood that is lr0's first sight of lsp5, traced before hv1 applied the binding it learned: the cross-check names the MAC_Binding", async () => {
  // The race users meet, made certain: the service traces the pass while hv1's ovn-controller has not
  // yet written (and installed) the MAC_Binding that the pass's put_arp asked for; ovn-trace runs after.
  const mac = async () => (await hv.sandbox('run', 'ovn-sbctl', '--no-leader-only', '--bare', '--columns=mac', 'find', 'MAC_Binding', 'ip=10.0.0.5')).trim();
  expect(await mac()).toBe('');
  const ctl = `${hv.dir}/hv1/ovn-controller.${readFileSync(`${hv.dir}/hv1/ovn-controller.pid`, 'utf8').trim()}.ctl`;
  await hv.sandbox('run', 'ovs-appctl', '-t', ctl, 'debug/pause');
  let t: Stored;
  try {
    t = await sentPass('vif5', ARP_FLOOD_LSP5, (x) => !!x.verdict.tunnels?.length);
  } finally {
    await hv.sandbox('run', 'ovs-appctl', '-t', ctl, 'debug/resume');
  }
  await waitFor('lr0 to learn 10.0.0.5', async () => (await mac()) || undefined);
  const { status, body } = await crossCheck(t.id);
  await keep('flood-first-sight', body.id, 'flood-first-sight.');
  expect([status, body.result, body.divergence?.explanation]).toEqual([201, 'diverged', expect.stringMatching(/put_arp/)]);
  expect(body.divergence?.explanation).toMatch(/MAC_Binding for 10\.0\.0\.5 learned by this packet \(or since\)/);
});

it.each([
  ['unicast to lsp7@hv2', 'vlan-unicast', VLAN_ICMP],
  ['ARP flood', 'vlan-flood', VLAN_ARP_FLOOD],
])('VLAN localnet on sw2, %s: leaves by ln-sw2 with push_vlan; the cross-check agrees', async (_n, name, flow) => {
  const t = await sentPass('vif6', flow, (x) => /push_vlan/.test(x.datapathActions ?? ''));
  const { status, body } = await crossCheck(t.id);
  await keep(name, body.id);
  expect([status, body.message, body.divergence?.explanation ?? null]).toEqual([201, undefined, null]);
  expect(body.result).toBe('match');
  // The path's own verdict: the uplink has no iface-id, the localnet port is where it left.
  expect(body.verdicts?.live).toEqual({ kinds: ['output'], logicalPorts: ['ln-sw2'] });
  expect(body.notCompared?.pipelines).toEqual([{ pipeline: 'egress', datapath: 'sw2', outport: 'lsp7' }]);
});

it('VLAN tag changed while hv1\'s ovn-controller is paused: the datapath still pushes 100, the southbound says 200; the cross-check names it', async () => {
  const ctl = `${hv.dir}/hv1/ovn-controller.${readFileSync(`${hv.dir}/hv1/ovn-controller.pid`, 'utf8').trim()}.ctl`;
  await hv.sandbox('run', 'ovs-appctl', '-t', ctl, 'debug/pause');
  try {
    await nbctl('set', 'logical_switch_port', 'ln-sw2', 'tag=200');
    await hv.sandbox('ctl', '--chassis', '1', 'revalidator/purge');
    const t = await sentPass('vif6', VLAN_ICMP, (x) => /push_vlan\(vid=100,/.test(x.datapathActions ?? ''));
    // The check reads the service's own southbound replica, not the server ovn-sbctl asks: until the
    // replica has northd's new tag, the cross-check compares 100 with 100.
    const sees200 = { what: "the service's southbound tag of ln-sw2 at 200", ok: (b: CrossCheck) => !!b.localnet?.some((l) => l.port === 'ln-sw2' && l.tag === 200) };
    const { status, body } = await crossCheck(t.id, sees200);
    await keep('vlan-stale-tag', body.id, 'vlan-stale-tag.');
    expect([status, body.result]).toEqual([201, 'diverged']);
    expect(body.divergence?.explanation).toMatch(/"ln-sw2" with VLAN 100 .*tag of "ln-sw2" is 200/);
  } finally {
    await hv.sandbox('run', 'ovs-appctl', '-t', ctl, 'debug/resume');
    await nbctl('set', 'logical_switch_port', 'ln-sw2', 'tag=100');
  }
});

it('untagged localnet whose provider bridge tags it (br-vlan\'s patch port an access port of VLAN 42): no VLAN mismatch', async () => {
  // ovn-controller pushes a localnet port's southbound tag in br-int (table 65, the Port_Binding's rule);
  // a VLAN the provider bridge adds after the patch port is the operator's, and ovn-trace has nothing to say of it.
  await nbctl('--wait=hv', 'clear', 'logical_switch_port', 'ln-sw2', 'tag');
  const patch = (await vsctl(1, 'list-ports', 'br-vlan')).split('\n').find((p) => p.startsWith('patch-'))!;
  await vsctl(1, 'set', 'port', patch, 'tag=42');
  try {
    await hv.sandbox('ctl', '--chassis', '1', 'revalidator/purge');
    const t = await sentPass('vif6', VLAN_ICMP, (x) => /push_vlan\(vid=42,/.test(x.datapathActions ?? ''));
    const { status, body } = await crossCheck(t.id);
    expect([status, body.result, body.divergence?.explanation ?? null]).toEqual([201, 'match', null]);
  } finally {
    await vsctl(1, 'remove', 'port', patch, 'tag', '42');
    await nbctl('--wait=hv', 'set', 'logical_switch_port', 'ln-sw2', 'tag=100');
  }
});

it('flood on sw0 with a container port lsp8 behind lsp5 (parent lsp5, tag 8): hv1 delivers lsp8 on vif5 with VLAN 8; the cross-check agrees', async () => {
  // A container port has no OVS interface: ovn-controller outputs to its parent's VIF with the
  // container's tag pushed (table 65, the container's Port_Binding's rule). The path names lsp8, as ovn-trace does.
  await nbctl('--wait=hv', 'lsp-add', 'sw0', 'lsp8', 'lsp5', '8', '--', 'lsp-set-addresses', 'lsp8', '50:54:00:00:00:08 10.0.0.8');
  try {
    await hv.sandbox('ctl', '--chassis', '1', 'revalidator/purge');
    const t = await sentPass('vif1', ARP_FLOOD_CONTAINER, (x) => !!x.verdict.tunnels?.length && /push_vlan\(vid=8,/.test(x.datapathActions ?? ''));
    const { status, body } = await crossCheck(t.id);
    await keep('flood-container', body.id, 'flood-container.');
    expect([status, body.result, body.divergence?.explanation ?? null]).toEqual([201, 'match', null]);
    expect(body.verdicts?.live.logicalPorts.sort()).toEqual(['lsp5', 'lsp8']);
  } finally {
    await nbctl('--wait=hv', 'lsp-del', 'lsp8');
  }
});
