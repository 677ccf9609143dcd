// A provider network across chassis on real daemons, with one agent per chassis and an api instance
// (scripts/ovn-sandbox --chassis 3; the store is the caller's: one SQLite file in
// test/e2e/provider-network-chassis, PostgreSQL with a spool per process in
// test/postgres/provider-network): switch `prov` with a localnet port on VLAN 100 (network phys, every
// chassis's br-phys, the sandbox's physical network n1) and three VMs, lsp-a on hv1, lsp-b on hv2,
// lsp-c on hv3. A switch with a localnet port reaches its ports on other chassis by the physical
// network, not by tunnel: hv1 tags the ping and sends it out br-phys, hv2 takes it in by its copy of
// the localnet port and delivers it. GET /paths follows it there (paths/localnet-hops.ts). n1 learns
// the VMs' MACs from ovn-controller's own GARPs: the unicast reaches hv2 alone. A broadcast reaches
// every chassis: hv3 takes it in too and a to-lport ACL drops it there, so hv2's delivery is the
// packet's continuation and hv3's pass a copy, listed and not walked.
import { Path, ThreeChassis, StoreEnv, Trace } from './three-chassis';
import { waitFor } from './wait';

export type StoredTrace = Trace & { verdict: { logicalPorts?: string[]; bridgeLocal?: string[]; kinds?: string[] } };

/**
 * Every chassis maps the physical network `phys` to its br-phys (the sandbox's n1), the VMs are
 * bound ([chassis, logical port, interface, ofport]), then the agents and the api start and one
 * session tracing `ip` is taken up on all three chassis.
 */
export async function onPhysicalNetwork(hv: ThreeChassis, vms: ReadonlyArray<[number, string, string, number]>): Promise<void> {
  for (const k of [1, 2, 3]) await hv.sandbox('run', 'ovs-vsctl', `--db=unix:${hv.dir}/hv${k}/db.sock`, 'set', 'open_vswitch', '.', 'external-ids:ovn-bridge-mappings=phys:br-phys');
  for (const [k, port, iface, ofport] of vms) await hv.sandbox('bind', '--chassis', String(k), port, iface, String(ofport));
  await hv.sandbox('run', 'ovn-nbctl', '--no-leader-only', '--wait=hv', 'sync');
  await hv.startServices();
  const s = await hv.createSession({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 });
  await hv.takenUp(s.id, ['hv1', 'hv2', 'hv3']);
}

/** The newest traces of one chassis, and one trace with its bridge and datapath actions, through the api. */
export const tracesOn = async (hv: ThreeChassis, chassis: string) => (await hv.get<{ items: StoredTrace[] }>(`/traces?chassis=${chassis}&limit=50`)).items;
export const passOf = (hv: ThreeChassis, id: number) => hv.get<StoredTrace & { bridge: string; datapathActions: string; ufid: string | null }>(`/traces/${id}`);

/** The provider network's cases on a fresh sandbox whose processes use the store `store()` gives; `stop` ends it. */
export function providerNetworkCases(prefix: string, store: () => Promise<StoreEnv>, stop?: () => Promise<void> | void): void {
  const BROADCAST = 'eth(src=50:54:00:00:00:0a,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0800),ipv4(src=172.16.0.10,dst=172.16.0.255,proto=17,tos=0,ttl=64,frag=no),udp(src=5000,dst=5000)';
  const PING = 'eth(src=50:54:00:00:00:0a,dst=50:54:00:00:00:0b),eth_type(0x0800),ipv4(src=172.16.0.10,dst=172.16.0.11,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';

  let hv: ThreeChassis;
  const nbctl = (...args: string[]) => hv.sandbox('run', 'ovn-nbctl', '--no-leader-only', ...args);
  type Stored = StoredTrace;

  beforeAll(async () => {
    hv = await ThreeChassis.start(prefix, await store());
    await nbctl(
      'ls-add', 'prov',
      '--', 'lsp-add', 'prov', 'lsp-a', '--', 'lsp-set-addresses', 'lsp-a', '50:54:00:00:00:0a 172.16.0.10',
      '--', 'lsp-add', 'prov', 'lsp-b', '--', 'lsp-set-addresses', 'lsp-b', '50:54:00:00:00:0b 172.16.0.11',
      '--', 'lsp-add', 'prov', 'lsp-c', '--', 'lsp-set-addresses', 'lsp-c', '50:54:00:00:00:0c 172.16.0.12',
      '--', 'lsp-add', 'prov', 'prov-ln', '--', 'lsp-set-type', 'prov-ln', 'localnet', '--', 'lsp-set-addresses', 'prov-ln', 'unknown',
      '--', 'lsp-set-options', 'prov-ln', 'network_name=phys', '--', 'set', 'logical_switch_port', 'prov-ln', 'tag_request=100',
    );
    await nbctl('acl-add', 'prov', 'to-lport', '1001', 'outport == "lsp-c" && udp.dst == 5000', 'drop');
    // A third VM on hv3, so hv3 has the switch (and its copy of prov-ln) too: it takes the flooded ping in.
    await onPhysicalNetwork(hv, [[1, 'lsp-a', 'vif10', 10], [2, 'lsp-b', 'vif11', 11], [3, 'lsp-c', 'vif12', 12]]);
  });

  afterAll(async () => {
    await hv?.stop();
    await stop?.();
  });

  const traces = (chassis: string) => tracesOn(hv, chassis);
  const pass = (id: number) => passOf(hv, id);
  const whole = (pathId: number) => waitFor(`path ${pathId} whole`, async () => {
    const p = await hv.get<Path>(`/paths/${pathId}`);
    return p.verdict.incomplete || p.verdict.provisional ? undefined : p;
  });

  /** Sends `packet` from lsp-a (vif10 on hv1) after purging every chassis's flows; the new traces on hv1 and hv2 `after` it. */
  async function send(packet: string, delivered: (t: Stored) => boolean): Promise<{ sent: Stored; delivered: Stored }> {
    const before = new Set([...(await traces('hv1')), ...(await traces('hv2'))].map((t) => t.id));
    for (const k of ['1', '2', '3']) await hv.sandbox('ctl', '--chassis', k, 'revalidator/purge');
    const port = /\bvif10 \d+\/(\d+)/.exec(await hv.sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
    await hv.sandbox('inject', '--chassis', '1', 'vif10', `in_port(${port}),${packet}`);
    return {
      sent: await waitFor('the pass on hv1', async () => (await traces('hv1')).find((t) => !before.has(t.id))),
      delivered: await waitFor('the pass on hv2 that delivers', async () => (await traces('hv2')).find((t) => !before.has(t.id) && delivered(t))),
    };
  }

  describe('a ping between two VMs of a VLAN provider network (lsp-a@hv1 -> lsp-b@hv2)', () => {
    let sent: Stored;
    let delivered: Stored;
    const hopOf = (p: Path) => p.verdict.localnetHops?.find((h) => h.fromTraceId === sent.id && h.toTraceId !== null);
    const across = (pathId: number) => waitFor(`path ${pathId} across the localnet`, async () => {
      const p = await whole(pathId);
      return hopOf(p) ? p : undefined;
    });

    beforeAll(async () => {
      ({ sent, delivered } = await send(PING, (t) => t.verdict.logicalPorts?.includes('lsp-b') ?? false));
    });

    it('hv1 tags the ping with VLAN 100 and sends it out by prov-ln; hv2 takes it in by br-phys', async () => {
      expect((await pass(sent.id)).datapathActions).toMatch(/push_vlan\((tpid=0x8100,)?vid=100,pcp=0\)/);
      expect(sent.verdict.logicalPorts).toEqual(['prov-ln']);
      // hv2's first pass of the packet, as its delivering pass's path has it (that path starts on hv1 now).
      const first = await pass((await whole(delivered.pathId)).passes.find((x) => x.chassis === 'hv2')!.id);
      expect(first.bridge).toBe('br-phys');
    });

    it("hv1's path continues on hv2: the localnet hop names prov-ln, network phys, VLAN 100, and lsp-b is delivered there", async () => {
      const p = await across(sent.pathId);
      expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', ...p.passes.slice(1).map(() => 'hv2')]);
      expect(p.passes.map((x) => x.id)).toContain(delivered.id);
      expect(p.verdict).toMatchObject({ kinds: ['output'], chassis: 'hv2', incomplete: false, tunnels: [] });
      expect(p.verdict.logicalPorts).toEqual(expect.arrayContaining(['prov-ln', 'lsp-b']));
      const hop = hopOf(p)!;
      expect(hop).toMatchObject({ fromChassis: 'hv1', port: 'prov-ln', network: 'phys', vlan: 100, toChassis: 'hv2', toTraceId: p.passes[1].id });
    });

    it("asked for by hv2's delivering pass, the path is the same", async () => {
      const fromHv1 = await across(sent.pathId);
      const p = await across(delivered.pathId);
      expect(p.passes.map((x) => x.id)).toEqual(fromHv1.passes.map((x) => x.id));
      expect(p.verdict.localnetHops).toEqual(fromHv1.verdict.localnetHops);
    });
  });

  describe("the sender's megaflow re-created while the receiver's lives on (one trace per lifetime)", () => {
    // hv2 keeps its receiving megaflow (traced once, at the first ping) while hv1's is purged and made
    // again by the next ping: the new sender pass was traced long after the receiver's trace, but the
    // receiver's flow was alive the whole time. The link is by lifetimes, as a tunnel's is.
    let first: Stored;
    let again: Stored;
    let receiver: number;
    const hv2Ctl = (...args: string[]) => hv.sandbox('run', 'ovs-vsctl', `--db=unix:${hv.dir}/hv2/db.sock`, ...args);

    beforeAll(async () => {
      await hv2Ctl('set', 'open_vswitch', '.', 'other_config:max-idle=120000');
      ({ sent: first } = await send(PING, (t) => t.verdict.logicalPorts?.includes('lsp-b') ?? false));
      const p = await waitFor('the first ping across', async () => {
        const q = await whole(first.pathId);
        return q.verdict.localnetHops?.some((h) => h.toTraceId !== null) ? q : undefined;
      });
      receiver = p.verdict.localnetHops!.find((h) => h.toTraceId !== null)!.toTraceId!;
      // Past the skew window of the first traces (config: LIVETRACE_TUNNEL_SKEW_MS=1000), so only the lifetimes can link them.
      const since = Date.now();
      await waitFor('the skew window past', () => Date.now() - since > 3000 || undefined);
      const before = new Set([...(await traces('hv1')), ...(await traces('hv2'))].map((t) => t.id));
      await hv.sandbox('ctl', '--chassis', '1', 'revalidator/purge');
      // The agent saw the lifetime end: the next ping's flow is a new lifetime (the same UFID), traced anew.
      const ufid = (await passOf(hv, first.id)).ufid!;
      await waitFor('hv1 sees its megaflow removed', async () => (await hv.get<{ lifetimes: Array<{ removedAt: string | null }> }>(`/datapath-flows/${ufid}`)).lifetimes.every((l) => l.removedAt !== null));
      const port = /\bvif10 \d+\/(\d+)/.exec(await hv.sandbox('ctl', '--chassis', '1', 'dpif/show'))![1];
      await hv.sandbox('inject', '--chassis', '1', 'vif10', `in_port(${port}),${PING}`);
      again = await waitFor('the new pass on hv1', async () => (await traces('hv1')).find((t) => !before.has(t.id) && t.verdict.logicalPorts?.includes('prov-ln')));
      // hv2 traced nothing new: its megaflow of the first ping took this one in.
      expect((await traces('hv2')).filter((t) => !before.has(t.id))).toEqual([]);
    });

    afterAll(() => hv2Ctl('remove', 'open_vswitch', '.', 'other_config', 'max-idle'));

    it("the new sender pass's path continues on hv2's pass of the living megaflow", async () => {
      const p = await waitFor(`path ${again.pathId} across the localnet`, async () => {
        const q = await whole(again.pathId);
        return q.verdict.localnetHops?.some((h) => h.fromTraceId === again.id && h.toTraceId !== null) ? q : undefined;
      });
      expect(p.verdict.localnetHops).toEqual([expect.objectContaining({ fromChassis: 'hv1', fromTraceId: again.id, toChassis: 'hv2', toTraceId: receiver })]);
      expect(p.verdict).toMatchObject({ chassis: 'hv2', incomplete: false });
    });
  });

  describe('a broadcast on the provider network, dropped on hv3 by an ACL', () => {
    let sent: Stored;
    let delivered: Stored;

    beforeAll(async () => {
      ({ sent, delivered } = await send(BROADCAST, (t) => t.verdict.logicalPorts?.includes('lsp-b') ?? false));
    });

    it("continues on hv2, which delivered it; hv3's pass that took the same frame in is a copy, not walked", async () => {
      const p = await waitFor(`path ${sent.pathId} with its copy`, async () => {
        const q = await whole(sent.pathId);
        return q.verdict.localnetHops?.some((h) => h.toTraceId !== null && h.copies?.length) ? q : undefined;
      });
      expect(p.verdict.localnetHops).toEqual([
        { fromChassis: 'hv1', fromTraceId: sent.id, port: 'prov-ln', network: 'phys', vlan: 100, toChassis: 'hv2', toTraceId: expect.any(Number), copies: [{ chassis: 'hv3', traceId: expect.any(Number) }] },
      ]);
      expect(p.passes.map((x) => x.id)).toContain(delivered.id);
      expect(p.passes.map((x) => x.chassis)).not.toContain('hv3');
      expect(p.verdict).toMatchObject({ kinds: ['output'], chassis: 'hv2', incomplete: false });
      const copy = await pass(p.verdict.localnetHops![0].copies![0].traceId);
      expect(copy).toMatchObject({ chassis: 'hv3', bridge: 'br-phys' });
      // The ACL kept it from lsp-c: hv3 delivered it to no VM and OVN sent nothing back to prov-ln (its
      // inport); what left the datapath is br-phys's own flood to its LOCAL port, named as such.
      // (Its first pass: the ACL's conntrack recirculates, the drop is a later pass's.)
      expect(copy.verdict).toMatchObject({ logicalPorts: [], bridgeLocal: ['br-phys'] });
      expect(copy.verdict.kinds).not.toContain('output');
      expect(copy.verdict).not.toHaveProperty('unmappedOutputs');
      // hv2's first pass took it in the same way: br-phys's flood to its LOCAL port, prov-ln no output there either.
      const receiver = await pass(p.verdict.localnetHops![0].toTraceId!);
      expect(receiver.verdict).toMatchObject({ bridgeLocal: ['br-phys'] });
      expect(receiver.verdict.logicalPorts).not.toContain('prov-ln');
    });
  });
}
