// The recirculation index on a distributed dnat_and_snat (a floating IP), captured on every pair
// (scripts/capture-nat-fixtures distributed-dnat-and-snat): lr2 is a distributed router whose NAT
// row names its VM's port (lsp6) and an external_mac, so the NAT runs where lsp6 is bound, in lr2's
// conntrack zones (23.03: its _dnat zone for both; 25.03 and 26.03: un-SNAT/SNAT in _snat, DNAT in
// _dnat). The client lsp7 reaches the VM by the floating IP 192.168.100.50 (UDP 46000 -> 80) and
// the VM reaches the client SNATed to it (UDP 46001 -> 80). Each translated pass (the packet after
// lr2's conntrack rewrote it) must be linked to the passes of its slot whose match admits the packet
// it was before the rewrite, and to no other; and each to the next passes its own match admits.
// Twice: on one chassis (hv1 is the gateway chassis and the VM's) and on the VM's chassis hv2 of the
// two-chassis capture (distributed-dnat-and-snat-2hv: the gateway port and the client on hv1), where
// the client's packets come in from the physical network (br-phys_n1, the localnet's uplink), not vif7.
// Userspace keys carry each packet's own values, so "admits" is read off the parent's key and masks
// (the scenario's ports, packets.txt); the kernel form hides the child's values and is checked to
// find the same parents at least.
import { ctZoneOwners } from '../../../src/ovn/ct-zones';
import type { Replica } from '../../../src/ovsdb/replica/replica';
import { flowWith, NAT_VERSIONS, natCapture, natEdges, NatFlow, natFlows, zonedRewrites } from '../../support/captured-nat';

/** A reply or translated pass: the patterns that find it in each pair's dump, the UDP ports its packet had before NAT. */
interface Translated {
  readonly name: string;
  readonly child: readonly RegExp[];
  readonly ports: readonly [src: number, dst: number];
  /** The conntrack state its packet had: the pass's ct_state(value/mask) must admit it. */
  readonly state?: number;
}

/** The translated passes of a capture whose client packets come in by `client` (its in_port). */
const casesFor = (client: RegExp): readonly Translated[] => [
  // Linked only by lr2's NAT row: the parent matched the floating IP exactly, the child has the VM's.
  { name: "the client's reply to the floating IP, un-SNATed to the VM", child: [client, /dst=10\.1\.0\.6,proto=17,/, /udp\(src=80\/0xfe00,dst=46001\//], ports: [80, 46001] },
  // The pass the next packet (established) takes; on 26.03's hv2 it is the first packet's (ct_state(0xa1/0x28)).
  { name: "the client's next packet, DNATed to the VM", child: [client, /dst=10\.1\.0\.6,proto=17,/, /udp\(src=46000\//], ports: [46000, 80], state: 0xa2 },
  { name: "the VM's reply, un-DNATed from the floating IP", child: [/in_port\(vif6\)/, /ct_state\(0x6a\//, /ipv4\(src=192\.168\.100\.50\//, /udp\(src=80\/0,dst=46000\//], ports: [80, 46000] },
  { name: "the VM's next packet, SNATed to the floating IP", child: [/in_port\(vif6\)/, /ct_state\(0x62\//, /ipv4\(src=192\.168\.100\.50\//, /udp\(src=46001\/0,dst=80\//], ports: [46001, 80] },
];

/** A capture of the floating IP: the scenario, the chassis folder of a several-chassis one, the client's in_port. */
interface FloatingIpCapture {
  readonly scenario: string;
  readonly chassis?: string;
  readonly client: RegExp;
}
const CAPTURES: readonly FloatingIpCapture[] = [
  { scenario: 'distributed-dnat-and-snat', client: /in_port\(vif7\)/ },
  { scenario: 'distributed-dnat-and-snat-2hv', chassis: 'hv2', client: /in_port\(br-phys_n1\)/ },
];
const RUNS = NAT_VERSIONS.flatMap((version) => CAPTURES.map((c) => ({ version, ...c, where: c.chassis ? `${c.scenario} on ${c.chassis}` : c.scenario })));

type Field = { value: number; mask: number };
/** `name(a=V[/M],b=…)` of a dumped line as numbers (IPv4 as 32 bits); an absent mask is exact. */
function fields(line: string, name: 'ipv4' | 'udp', attrs: readonly string[], exact: number): Field[] {
  const part = new RegExp(`\\b${name}\\(([^)]*)\\)`).exec(line)![1];
  const num = (v: string) => (v.includes('.') ? v.split('.').reduce((n, o) => n * 256 + Number(o), 0) : Number(v));
  return attrs.map((a) => {
    const [v, m] = new RegExp(`\\b${a}=([^,]+)`).exec(part)![1].split('/');
    return { value: num(v), mask: m === undefined ? exact : num(m) };
  });
}
const fits = (f: Field, v: number) => ((f.value & f.mask) >>> 0) === ((v & f.mask) >>> 0);
/** Whether a parent's UDP match admits these ports. */
const admitsPorts = (parent: NatFlow, [src, dst]: readonly [number, number]) => {
  const [s, d] = fields(parent.line, 'udp', ['src', 'dst'], 0xffff);
  return fits(s, src) && fits(d, dst);
};
/** Whether a parent's addresses and ports admit a child's packet (no rewrite between them). */
const admitsPacket = (parent: NatFlow, child: NatFlow) => {
  const [ps, pd] = fields(parent.line, 'ipv4', ['src', 'dst'], 0xffffffff);
  const [cs, cd] = fields(child.line, 'ipv4', ['src', 'dst'], 0xffffffff);
  const [cps, cpd] = fields(child.line, 'udp', ['src', 'dst'], 0xffff);
  return fits(ps, cs.value) && fits(pd, cd.value) && admitsPorts(parent, [cps.value, cpd.value]);
};

/** The one pass matching every pattern whose ct_state admits `state` (when given). */
function childOf(flows: readonly NatFlow[], { child, state }: Translated): NatFlow {
  const admits = (f: NatFlow) => {
    if (state === undefined) return true;
    const [v, m] = /ct_state\(([^/)]+)\/([^)]+)\)/.exec(f.line)!.slice(1).map(Number);
    return (v & m) === (state & m);
  };
  const found = flows.filter((f) => child.every((p) => p.test(f.line)) && admits(f));
  if (found.length !== 1) throw new Error(`${found.length} flows match ${child.join(' ')}${state === undefined ? '' : ` with ct_state ${state}`}`);
  return found[0];
}

const slotParents = (flows: readonly NatFlow[], c: NatFlow) => flows.filter((p) => p.inPort === c.inPort && c.recircId !== 0 && p.recircTargets.includes(c.recircId));
const slotChildren = (flows: readonly NatFlow[], p: NatFlow) => flows.filter((c) => c.inPort === p.inPort && c.recircId !== 0 && p.recircTargets.includes(c.recircId));
const ids = (fs: readonly NatFlow[]) => fs.map((f) => f.id).sort((a, b) => a - b);
const parentsIn = (edges: readonly string[], c: NatFlow) => edges.filter((e) => e.endsWith(`->${c.id}`)).map((e) => Number(e.split('->')[0])).sort((a, b) => a - b);
const childrenIn = (edges: readonly string[], p: NatFlow) => edges.filter((e) => e.startsWith(`${p.id}->`)).map((e) => Number(e.split('->')[1])).sort((a, b) => a - b);
/** Drops the scenario's NAT rows (update2 deletes). */
const dropNat = (nb: Replica) => {
  for (const r of [...nb.rows('NAT')]) nb.applyUpdate2({ NAT: { [r._uuid]: { delete: null } } });
};

describe.each(RUNS)('$where of $version', ({ version, scenario, chassis, client }) => {
  const cap = natCapture(version, scenario, { chassis });
  const userspace = natFlows(cap, 'userspace');
  const found = natEdges(userspace, zonedRewrites(cap));
  const CASES = casesFor(client);

  describe.each(CASES)('$name', (t) => {
    const { ports } = t;
    const child = childOf(userspace, t);

    it("is a pass after a conntrack NAT in one of lr2's zones (bridges.json)", () => {
      const owners = ctZoneOwners(cap.zones!.ovs.rows('Bridge'), cap.zones!.sb.rows('Datapath_Binding'));
      const lr2 = [...cap.nb.rows('Logical_Router')].find((r) => r.name === 'lr2')!._uuid;
      const parents = slotParents(userspace, child);
      expect(parents.length).toBeGreaterThan(0);
      for (const p of parents) expect(owners.get(Number(/ct\((?:commit,)?zone=(\d+),nat\b/.exec(p.line)?.[1]))).toBe(lr2);
    });

    it('is linked to every pass of its slot whose match admits its packet before NAT, and to no other', () => {
      const admitting = slotParents(userspace, child).filter((p) => admitsPorts(p, ports));
      expect(admitting.length).toBeGreaterThan(0);
      expect(parentsIn(found, child)).toEqual(ids(admitting));
    });

    it('is linked to the next passes its own match admits, and to no other', () => {
      expect(childrenIn(found, child)).toEqual(ids(slotChildren(userspace, child).filter((c) => admitsPacket(child, c))));
    });

    it('in the kernel form: the same parents at least, none outside its slot', () => {
      // natFlows keeps the dumped line and numbering in either form: the same patterns find the child.
      const kernel = natFlows(cap, 'kernel');
      const k = childOf(kernel, t);
      const parents = parentsIn(natEdges(kernel, zonedRewrites(cap)), k);
      expect(parents).toEqual(expect.arrayContaining(parentsIn(found, child)));
      expect(ids(slotParents(kernel, k))).toEqual(expect.arrayContaining(parents));
    });
  });

  describe("the client's reply to the floating IP", () => {
    const un = CASES[0];
    // eth_type: on hv2 the physical network's ARPs also come in by br-phys_n1.
    const edge = (flows: NatFlow[]) => `${flowWith(flows, client, /recirc_id\(0\)/, /eth_type\(0x0800\)/).id}->${childOf(flows, un).id}`;

    it.each(['userspace', 'kernel'] as const)('is linked by lr2 NAT row only (%s form)', (form) => {
      expect(natEdges(natFlows(cap, form), zonedRewrites(cap))).toContain(edge(natFlows(cap, form)));
      const c = natCapture(version, scenario, { chassis });
      dropNat(c.nb);
      expect(natEdges(natFlows(c, form), zonedRewrites(c))).not.toContain(edge(natFlows(c, form)));
    });

    // lr1 is the other router of the one-chassis capture (a gateway router with zones of its own):
    // were lr2's zones lr1's, lr2's row would not apply at the parent's ct(zone=N,nat). (The
    // two-chassis capture has lr2 alone.)
    if (!chassis) {
      it.each(['userspace', 'kernel'] as const)("is not linked where the parent's zone is another router's (%s form)", (form) => {
        const swapped = natCapture(version, scenario, { swapRouters: ['lr1', 'lr2'] });
        expect(natEdges(natFlows(swapped, form), zonedRewrites(swapped))).not.toContain(edge(natFlows(swapped, form)));
      });
    }
  });
});
