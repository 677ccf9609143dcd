// Cross-check of a sending chassis's path against the real ovn-trace of the pair
// (scripts/ovn-sandbox --chassis 3, multi-topology: lsp1@hv1, lsp2@hv2 on sw0, lsp3@hv3 behind
// lr0). One service (LIVETRACE_ROLE=all) on hv1: its path of a packet to lsp2 or lsp3 ends in the
// Geneve tunnel, and the egress pipeline of the last switch runs on the receiving chassis, where
// hv1's path has no pass. ovn-trace simulates that pipeline too; the two tools agree on every
// stage hv1 ran, so the answer is a match of what hv1 did, naming the pipeline left to the
// receiver, not a divergence. scripts/capture-ovn-trace-fixtures --tunnel runs it with
// LIVETRACE_XC_CAPTURE_DIR: each case's passes (with steps), live verdict, microflow and ovn-trace
// output are written there (tunnel-<case>-path.json, tunnel-<case>.ovn-trace.txt), the unit tests'
// inputs (test/unit/cross-checks/tunnel-paths.spec.ts). Last, lsp2 moves from hv2 to hv3 while hv1's
// ovn-controller is paused: hv1 still tunnels lsp2's packet to hv2, the southbound binds it on hv3.
// And hv2 changes its encap IP while hv1's ovn-controller is paused: hv1 still tunnels lsp2's packet,
// and an ARP flood's copy for lsp2, to hv2's old IP, which no Encap names any more (stale-encap,
// stale-encap-flood); lsp2 stays bound on hv2.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ICMP_ROUTED, ICMP_SAME, ThreeChassis, Trace } from '../support/three-chassis';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

let hv: ThreeChassis;
let api = '';

beforeAll(async () => {
  hv = await ThreeChassis.start('livetrace-xc-tun-', (dir) => ({ LIVETRACE_DB: `${dir}/xc.sqlite` }));
  const port = hv.base + 1;
  api = `http://127.0.0.1:${port}`;
  await hv.service('all-hv1', 1, port, { LIVETRACE_ROLE: 'all' });
  const res = await fetch(`${api}/trace-sessions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 }),
  });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await hv?.stop();
});

async function inject(flow: string) {
  const port = /\bvif1 \d+\/(\d+)/.exec(await hv.sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
  await hv.sandbox('inject', '--chassis', '1', 'vif1', `in_port(${port}),${flow}`);
}

async function sentPass(flow: string): Promise<Trace> {
  const list = async () => ((await (await fetch(`${api}/traces?limit=50`)).json()) as { items: Trace[] }).items;
  const before = new Set((await list()).map((t) => t.id));
  await inject(flow);
  try {
    return await waitFor('the pass on hv1 that leaves by the tunnel', async () => (await list()).find((t) => !before.has(t.id) && t.verdict.tunnels?.length));
  } finally {
    await hv.sandbox('ctl', '--chassis', '1', 'revalidator/purge');
  }
}

async function crossCheck(traceId: number) {
  // The path's passes settle (a recirculation traced after the tunnel pass).
  return waitFor(`cross-check of trace ${traceId}`, async () => {
    const res = await fetch(`${api}/traces/${traceId}/cross-check`, { method: 'POST' });
    const body = (await res.json()) as { result?: string; message?: string; divergence?: { explanation: string } | null; pipelines?: Array<{ pipeline: string; datapath: string }>; notCompared?: unknown };
    if (res.status === 422 && /incomplete/.test(body.message ?? '')) return undefined;
    return { status: res.status, body };
  }, 60_000);
}

async function keep(name: string, id: number) {
  const dir = process.env.LIVETRACE_XC_CAPTURE_DIR;
  if (!dir) return;
  const xc = (await (await fetch(`${api}/cross-checks/${id}`)).json()) as { traceIds: number[]; verdicts: { live: unknown }; microflow: unknown; ovnTrace: { output: string } };
  const passes = [];
  for (const t of xc.traceIds) passes.push(await (await fetch(`${api}/traces/${t}`)).json());
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `tunnel-${name}-path.json`), JSON.stringify({ verdict: xc.verdicts.live, microflow: xc.microflow, passes }, null, 1) + '\n');
  writeFileSync(join(dir, `tunnel-${name}.ovn-trace.txt`), xc.ovnTrace.output);
}

// A flood not of IP: an IP broadcast's copy to the router port meets two priority-110 flows of
// ls_out_pre_lb (eth.mcast; ip && outport == "sw0-lr0"), which OVS and ovn-trace may pick apart.
const ARP_FLOOD = 'eth(src=50:54:00:00:00:01,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=10.0.0.1,tip=10.0.0.99,op=1,sha=50:54:00:00:00:01,tha=00:00:00:00:00:00)';
const vsctl = (k: number, ...args: string[]) => hv.sandbox('run', 'ovs-vsctl', `--db=unix:${hv.dir}/hv${k}/db.sock`, ...args);
const pauseHv1 = async () => {
  const ctl = `${hv.dir}/hv1/ovn-controller.${readFileSync(`${hv.dir}/hv1/ovn-controller.pid`, 'utf8').trim()}.ctl`;
  await hv.sandbox('run', 'ovs-appctl', '-t', ctl, 'debug/pause');
  return () => hv.sandbox('run', 'ovs-appctl', '-t', ctl, 'debug/resume');
};

it.each([
  ['same switch (lsp1@hv1 to lsp2@hv2)', 'same-switch', ICMP_SAME, 'sw0'],
  ['routed (lsp1@hv1 through lr0 to lsp3@hv3)', 'routed', ICMP_ROUTED, 'sw1'],
])('%s: the sender\'s path matches ovn-trace up to the tunnel', async (_name, name, flow, lastSwitch) => {
  const t = await sentPass(flow);
  const { status, body } = await crossCheck(t.id);
  await keep(name, (body as { id: number }).id);
  expect([status, body.message, body.divergence?.explanation ?? null]).toEqual([201, undefined, null]);
  expect(body.result).toBe('match');
  expect(body.pipelines!.at(-1)).toMatchObject({ pipeline: 'ingress', datapath: lastSwitch });
  expect(body.notCompared).toMatchObject({ pipelines: [{ pipeline: 'egress', datapath: lastSwitch }] });
});

it('lsp2 moved from hv2 to hv3 while hv1\'s ovn-controller is paused: hv1 still tunnels to hv2; diverged, naming both chassis', async () => {
  const resume = await pauseHv1();
  try {
    await vsctl(2, 'remove', 'interface', 'vif2', 'external_ids', 'iface-id');
    await vsctl(3, '--may-exist', 'add-port', 'br-int', 'vif2-moved', '--', 'set', 'interface', 'vif2-moved', 'type=dummy', 'external-ids:iface-id=lsp2');
    // The pass's Port_Binding step is named from the service's own southbound replica when traced:
    // until the replica has hv3's claim, a pass still says hv2 (and so does the tunnel): send again.
    type Steps = { steps: Array<{ owners: Array<{ table: string; name: string | null; summary: string }> }> };
    const t = await waitFor('a pass of hv1 to lsp2 traced once the service sees lsp2 on hv3', async () => {
      const sent = await sentPass(ICMP_SAME);
      const full = (await (await fetch(`${api}/traces/${sent.id}`)).json()) as Steps;
      const lsp2 = full.steps.flatMap((x) => x.owners).find((o) => o.table === 'Port_Binding' && o.name === 'lsp2');
      return /chassis-name "hv3"/.test(lsp2?.summary ?? '') ? sent : undefined;
    }, 120_000);
    const { status, body } = await crossCheck(t.id);
    expect([status, body.result]).toEqual([201, 'diverged']);
    expect(body.divergence?.explanation).toMatch(/"lsp2" \(bound on hv3\).*by a tunnel to hv2, none to hv3/);
  } finally {
    await resume();
    await vsctl(3, '--if-exists', 'del-port', 'br-int', 'vif2-moved');
    await vsctl(2, 'set', 'interface', 'vif2', 'external-ids:iface-id=lsp2');
  }
});

describe('hv2 changed its encap IP while hv1\'s ovn-controller is paused: hv1 still tunnels to the old IP, which no Encap names', () => {
  const sbctl = (...args: string[]) => hv.sandbox('run', 'ovn-sbctl', '--no-leader-only', ...args);
  const encapOfHv2 = async () => (await sbctl('--bare', '--columns=ip', 'find', 'Encap', 'chassis_name=hv2')).trim();
  const moveEncap = async (ip: string) => {
    // hv2's underlay takes the new IP too, so the new encap is one the dummy network can carry.
    await hv.sandbox('ctl', '--chassis', '2', 'netdev-dummy/ip4addr', 'br-phys', `${ip}/24`);
    await vsctl(2, 'set', 'open_vswitch', '.', `external-ids:ovn-encap-ip=${ip}`);
    await waitFor(`hv2's Encap to name ${ip}`, async () => (await encapOfHv2()) === ip || undefined);
  };
  let resume: (() => Promise<unknown>) | undefined;

  beforeAll(async () => {
    const res = await fetch(`${api}/trace-sessions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ filter: 'arp', durationSeconds: 3600, maxTraces: 1000 }),
    });
    expect(res.status).toBe(201);
    // lr0 learns 10.0.0.1 from the flood's router copy (put_arp); learned before hv1 stops computing,
    // or each flood would run put_arp where ovn-trace finds the binding.
    await inject(ARP_FLOOD.replace('tip=10.0.0.99', 'tip=10.0.0.98'));
    await waitFor('lr0 to learn 10.0.0.1', async () => (await sbctl('--bare', '--columns=mac', 'find', 'MAC_Binding', 'ip=10.0.0.1')).trim() || undefined);
    // lsp2 back on hv2 (the moved-port case) and every chassis's flows say so before hv1 stops computing.
    const hv2 = (await sbctl('--bare', '--columns=_uuid', 'find', 'Chassis', 'name=hv2')).trim();
    await waitFor('lsp2 bound on hv2', async () => (await sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', 'logical_port=lsp2')).trim() === hv2 || undefined);
    await hv.sandbox('run', 'ovn-nbctl', '--no-leader-only', '--wait=hv', 'sync');
    resume = await pauseHv1();
    await moveEncap('192.168.0.22');
  });

  afterAll(async () => {
    await moveEncap('192.168.0.2');
    await resume?.();
  });

  it.each([
    ['unicast to lsp2', 'stale-encap', ICMP_SAME, /ovn-trace sent the packet to "lsp2" \(bound on hv2\).*by a tunnel to 192\.168\.0\.2 \(no southbound Encap names it\), none to hv2/],
    ['ARP flood: its copy to lsp2', 'stale-encap-flood', ARP_FLOOD, /flood sent a copy to "lsp2" \(bound on hv2\).*no tunnel copy to hv2.*its tunnels went to 192\.168\.0\.2 \(no southbound Encap names it\)/],
  ])('%s: diverged, naming the IP and hv2', async (_what, name, flow, explanation) => {
    // The pass names its tunnel's chassis from the service's own southbound replica when traced: until
    // the replica has hv2's new Encap, a pass still says hv2: send again.
    const t = await waitFor(`a pass of hv1 (${name}) traced once the service sees hv2's new encap IP`, async () => {
      const sent = await sentPass(flow);
      return sent.verdict.tunnels?.some((x) => x.remoteIp === '192.168.0.2' && x.chassis === null) ? sent : undefined;
    }, 120_000);
    const { status, body } = await crossCheck(t.id);
    await keep(name, (body as { id: number }).id);
    expect([status, body.result]).toEqual([201, 'diverged']);
    expect(body.divergence?.explanation).toMatch(explanation);
  });
});
