// A distributed floating IP across chassis on real daemons, with one agent per chassis and an api
// instance (scripts/ovn-sandbox --chassis 3, one SQLite file), in the topology of capture-nat-fixtures'
// distributed-dnat-and-snat-2hv: lr2's gateway port lr2-pub and the client lsp7 on hv1, the VM lsp6 on
// hv2, dnat_and_snat 192.168.100.50 <-> 10.1.0.6 naming lsp6 and an external_mac, pub's localnet port on
// every chassis's br-phys (the sandbox's physical network n1). The VM's switch is `vms` here, since
// multi-topology has its own sw1. OVN sends the client's packet out of hv1 by the localnet port,
// unchanged, and hv2 takes it in from the physical network, DNATs it and delivers it to lsp6
// (test/unit/collectors/nat-distributed-two-chassis.spec.ts: the same from captures, both directions).
// GET /paths follows it across the physical network: one path from hv1's pass to hv2's delivery,
// whichever pass it is asked for by, with the localnet hop (paths/localnet-hops.ts).
import { onPhysicalNetwork, passOf, type StoredTrace, tracesOn } from '../support/provider-network';
import { Path, ThreeChassis } from '../support/three-chassis';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

const FIP_MAC = '50:54:00:00:01:50';
const TO_FIP = `eth(src=50:54:00:00:00:07,dst=${FIP_MAC}),eth_type(0x0800),ipv4(src=192.168.100.10,dst=192.168.100.50,proto=17,tos=0,ttl=64,frag=no),udp(src=46000,dst=80)`;

let hv: ThreeChassis;
const nbctl = (...args: string[]) => hv.sandbox('run', 'ovn-nbctl', '--no-leader-only', ...args);

type Stored = StoredTrace;

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
  await onPhysicalNetwork(hv, [[1, 'lsp7', 'vif7', 7], [2, 'lsp6', 'vif6', 6]]);
});

afterAll(async () => {
  await hv?.stop();
});

const traces = (chassis: string) => tracesOn(hv, chassis);
const pass = (id: number) => passOf(hv, id);
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

  // The physical network links the chassis (docs/multi-chassis.md, "Across a localnet port"): hv1's
  // pass that left by pub-ln continues on hv2's first pass taken in by br-phys from n1, whichever of
  // the two passes the path is asked for.
  const hopTo = (p: Path) => p.verdict.localnetHops?.find((h) => h.fromTraceId === sent.id && h.toTraceId !== null);

  it("hv1's path continues across the physical network: out by pub-ln on hv1, in on hv2, DNATed there (once), delivered to lsp6", async () => {
    const p = await waitFor(`path ${sent.pathId} across the localnet`, async () => {
      const q = await whole(sent.pathId);
      return hopTo(q) ? q : undefined;
    });
    const chassis = p.passes.map((x) => x.chassis);
    expect(chassis[0]).toBe('hv1');
    expect(chassis.slice(1).every((c) => c === 'hv2')).toBe(true);
    expect(p.passes.map((x) => x.id)).toContain(delivered.id);
    expect(p.verdict).toMatchObject({ kinds: ['output'], chassis: 'hv2', incomplete: false, tunnels: [] });
    expect(p.verdict.logicalPorts).toEqual(expect.arrayContaining(['pub-ln', 'lsp6']));
    // hv2's br-phys floods a frame to a MAC it has not learnt to its own LOCAL port too: that copy is
    // the bridge's, named in bridgeLocal (when the bridge had not learnt the external_mac yet), never
    // an output no logical port stands for.
    const v = p.verdict as { unmappedOutputs?: string[]; bridgeLocal?: string[] };
    expect(v.unmappedOutputs).toBeUndefined();
    expect(v.bridgeLocal ?? ['br-phys']).toEqual(['br-phys']);
    const hop = hopTo(p)!;
    expect(hop).toMatchObject({ fromChassis: 'hv1', fromTraceId: sent.id, port: 'pub-ln', network: 'phys', vlan: null, toChassis: 'hv2' });
    // The receiving pass is hv2's first: recirc_id 0, in from br-phys, the frame as hv1 sent it.
    const first = await pass(hop.toTraceId!);
    expect(first).toMatchObject({ chassis: 'hv2', bridge: 'br-phys' });
    expect(p.passes[1].id).toBe(first.id);
    const passes = await Promise.all(p.passes.map((x) => pass(x.id)));
    expect(passes.filter((x) => /nat\(dst=10\.1\.0\.6\)/.test(x.datapathActions))).toHaveLength(1);
  });

  it("asked for by hv2's delivering pass, the path is the same: it starts at hv1's pass", async () => {
    const fromHv1 = await whole(sent.pathId);
    const p = await waitFor(`path ${delivered.pathId} from hv1`, async () => {
      const q = await whole(delivered.pathId);
      return hopTo(q) ? q : undefined;
    });
    expect(p.passes.map((x) => x.id)).toEqual(fromHv1.passes.map((x) => x.id));
    expect(p.verdict).toMatchObject({ kinds: ['output'], chassis: 'hv2', incomplete: false });
    expect(p.verdict.localnetHops).toEqual(fromHv1.verdict.localnetHops);
  });
});
