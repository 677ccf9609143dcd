// A distributed floating IP across chassis on real daemons, with one agent per chassis and an api
// instance (scripts/ovn-sandbox --chassis 3, one SQLite file), in the topology of capture-nat-fixtures'
// distributed-dnat-and-snat-2hv: lr2's gateway port lr2-pub and the client lsp7 on hv1, the VM lsp6 on
// hv2, dnat_and_snat 192.168.100.50 <-> 10.1.0.6 naming lsp6 and an external_mac, pub's localnet port on
// every chassis's br-phys (the sandbox's physical network n1). The VM's switch is `vms` here, since
// multi-topology has its own sw1. OVN sends the client's packet out of hv1 by the localnet port,
// unchanged, and hv2 takes it in from the physical network, DNATs it and delivers it to lsp6
// (test/unit/collectors/nat-distributed-two-chassis.spec.ts: the same from captures, both directions).
import { Path, ThreeChassis, Trace } from '../support/three-chassis';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

const FIP_MAC = '50:54:00:00:01:50';
const TO_FIP = `eth(src=50:54:00:00:00:07,dst=${FIP_MAC}),eth_type(0x0800),ipv4(src=192.168.100.10,dst=192.168.100.50,proto=17,tos=0,ttl=64,frag=no),udp(src=46000,dst=80)`;

let hv: ThreeChassis;
const nbctl = (...args: string[]) => hv.sandbox('run', 'ovn-nbctl', '--no-leader-only', ...args);
const vsctl = (k: number, ...args: string[]) => hv.sandbox('run', 'ovs-vsctl', `--db=unix:${hv.dir}/hv${k}/db.sock`, ...args);

type Stored = Trace & { verdict: { logicalPorts?: string[] } };

beforeAll(async () => {
  hv = await ThreeChassis.start('livetrace-fip-', (dir) => ({ LIVETRACE_DB: `${dir}/fip.sqlite` }));
  await nbctl(
    'ls-add', 'vms', '--', 'ls-add', 'pub',
    '--', 'lsp-add', 'vms', 'lsp6', '--', 'lsp-set-addresses', 'lsp6', '50:54:00:00:00:06 10.1.0.6',
    '--', 'lsp-add', 'pub', 'lsp7', '--', 'lsp-set-addresses', 'lsp7', '50:54:00:00:00:07 192.168.100.10',
    '--', 'lsp-add', 'pub', 'pub-ln', '--', 'lsp-set-type', 'pub-ln', 'localnet', '--', 'lsp-set-addresses', 'pub-ln', 'unknown',
    '--', 'lsp-set-options', 'pub-ln', 'network_name=phys',
  );
  await nbctl('acl-add', 'vms', 'from-lport', '1001', 'ip', 'allow-related', '--', 'acl-add', 'vms', 'to-lport', '1001', 'ip', 'allow-related');
  await nbctl(
    'lr-add', 'lr2', '--', 'lrp-add', 'lr2', 'lr2-vms', '00:00:00:00:ff:11', '10.1.0.254/24', '--', 'lrp-add', 'lr2', 'lr2-pub', '00:00:00:00:ff:13', '192.168.100.1/24',
    '--', 'lrp-set-gateway-chassis', 'lr2-pub', 'hv1', '20',
    '--', 'lsp-add', 'vms', 'vms-lr2', '--', 'lsp-set-type', 'vms-lr2', 'router', '--', 'lsp-set-addresses', 'vms-lr2', 'router', '--', 'lsp-set-options', 'vms-lr2', 'router-port=lr2-vms',
    '--', 'lsp-add', 'pub', 'pub-lr2', '--', 'lsp-set-type', 'pub-lr2', 'router', '--', 'lsp-set-addresses', 'pub-lr2', 'router', '--', 'lsp-set-options', 'pub-lr2', 'router-port=lr2-pub',
  );
  await nbctl('lr-nat-add', 'lr2', 'dnat_and_snat', '192.168.100.50', '10.1.0.6', 'lsp6', FIP_MAC);
  for (const k of [1, 2, 3]) await vsctl(k, 'set', 'open_vswitch', '.', 'external-ids:ovn-bridge-mappings=phys:br-phys');
  await hv.sandbox('bind', '--chassis', '1', 'lsp7', 'vif7', '7');
  await hv.sandbox('bind', '--chassis', '2', 'lsp6', 'vif6', '6');
  await nbctl('--wait=hv', 'sync');
  await hv.startServices();
  const s = await hv.createSession({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 });
  await hv.takenUp(s.id, ['hv1', 'hv2', 'hv3']);
});

afterAll(async () => {
  await hv?.stop();
});

const traces = async (chassis: string) => (await hv.get<{ items: Stored[] }>(`/traces?chassis=${chassis}&limit=50`)).items;
const pass = (id: number) => hv.get<Stored & { bridge: string; datapathActions: string }>(`/traces/${id}`);
/** The path once no pass of it is missing (the agents store on their own time). */
const whole = (pathId: number) => waitFor(`path ${pathId} whole`, async () => {
  const p = await hv.get<Path>(`/paths/${pathId}`);
  return p.verdict.incomplete || p.verdict.provisional ? undefined : p;
});

describe("the client's packet to the floating IP (lsp7@hv1 -> 192.168.100.50 -> lsp6@hv2)", () => {
  let sent: Stored;
  let delivered: Stored;

  beforeAll(async () => {
    const before = new Set([...(await traces('hv1')), ...(await traces('hv2'))].map((t) => t.id));
    for (const k of ['1', '2']) await hv.sandbox('ctl', '--chassis', k, 'revalidator/purge');
    const port = /\bvif7 \d+\/(\d+)/.exec(await hv.sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
    await hv.sandbox('inject', '--chassis', '1', 'vif7', `in_port(${port}),${TO_FIP}`);
    sent = await waitFor('the pass on hv1', async () => (await traces('hv1')).find((t) => !before.has(t.id)));
    delivered = await waitFor('the pass on hv2 that outputs to lsp6', async () => (await traces('hv2')).find((t) => !before.has(t.id) && t.verdict.logicalPorts?.includes('lsp6')));
  });

  it("hv2's path is whole: in from the physical network, DNATed to the VM there (once), delivered to lsp6", async () => {
    const p = await whole(delivered.pathId);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp6'], incomplete: false });
    expect(new Set(p.passes.map((x) => x.chassis))).toEqual(new Set(['hv2']));
    const passes = await Promise.all(p.passes.map((x) => pass(x.id)));
    // The first pass is the frame hv2's br-phys took from n1 (ovn-bridge-mappings phys:br-phys), not a tunnel's.
    expect(passes[0].bridge).toBe('br-phys');
    expect(passes[0].verdict.tunnels ?? []).toEqual([]);
    expect(passes.filter((x) => /nat\(dst=10\.1\.0\.6\)/.test(x.datapathActions))).toHaveLength(1);
  });

  // What GET /paths does not do yet (README Known limits): follow a packet across the physical
  // network. hv1's path ends where the packet left by the localnet port; nothing links it to hv2's.
  it("hv1's path ends at pub's localnet port, with no tunnel and no hop to hv2", async () => {
    const p = await whole(sent.pathId);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['pub-ln'], incomplete: false });
    expect(p.verdict.tunnels ?? []).toEqual([]);
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1']);
    expect(p.passes.map((x) => x.id)).not.toContain(delivered.id);
  });
});
