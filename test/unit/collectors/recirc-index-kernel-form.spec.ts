// The recirculation index on keys in the kernel datapath's form (masked: a wildcarded field reads
// 0/0, a wildcarded IP protocol leaves no L4 attribute and no ct_tuple; test/support/kernel-form.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IndexedFlow, NatRewrites, RecircIndex } from '../../../src/collectors/recirc-index';
import { DatapathFlowTable } from '../../../src/collectors/datapath-diff';
import { natRewritesOf } from '../../../src/ovn/nat-rewrites';
import type { ReplicaRow } from '../../../src/ovsdb/replica/replica';
import { parseDumpLine } from '../../../src/ovs/dump-flows';
import { indexedFlow } from '../../support/packet-paths';
import { kernelForm } from '../../support/kernel-form';

interface FlowRow {
  id: number;
  ufid: string;
  key: string;
  actions: string;
}
const FIXTURE = JSON.parse(readFileSync(join(__dirname, '../../fixtures/paths/lb-vip-reused-recirc.json'), 'utf8')) as {
  datapath_flow: FlowRow[];
  recirc_edge: Array<{ parent_id: number; child_id: number }>;
  /** The run's NB Load_Balancer and NAT rows (its `source` says where they come from). */
  ovn_nb: { Load_Balancer: Array<Record<string, unknown>>; NAT: Array<Record<string, unknown>> };
};
const rows = (list: Array<Record<string, unknown>>) => list.map((r, i) => ({ _uuid: `row-${i}`, ...r }) as ReplicaRow);
/** What the run's OVN lets a bare ct(nat) rewrite, read as the service reads the NB replica. */
const RUN_REWRITES = natRewritesOf(rows(FIXTURE.ovn_nb.Load_Balancer), rows(FIXTURE.ovn_nb.NAT));

/** Every edge, asked from both ends (parentsOf and childrenOf must agree). */
function edges(list: FlowRow[], rewrites?: NatRewrites): string[] {
  const flows = list.map((r) => ({ id: r.id, ...indexedFlow(parseDumpLine(`ufid:${r.ufid}, ${r.key}, packets:0, bytes:0, used:never, actions:${r.actions}`)) }));
  const index = new RecircIndex<IndexedFlow & { id: number }>(rewrites);
  for (const f of flows) index.add(f);
  const up = flows.flatMap((c) => index.parentsOf(c).map((p) => `${p.id}->${c.id}`)).sort();
  const down = flows.flatMap((p) => index.childrenOf(p).map((c) => `${p.id}->${c.id}`)).sort();
  expect(down).toEqual(up);
  return up;
}

/** Flow 47's userspace key with its destination replaced, then in the kernel's form. */
const with47 = (from: string, to: string) => (r: FlowRow) => (r.id === 47 ? { ...r, key: r.key.replace(from, to) } : r);

describe('recirculation edges on kernel-form keys', () => {
  const kernel = FIXTURE.datapath_flow.map((r) => ({ ...r, key: kernelForm(r.key) }));
  const recorded = FIXTURE.recirc_edge.map((e) => `${e.parent_id}->${e.child_id}`).sort();

  it('the derived keys read as the kernel dumps them', () => {
    const hash = kernel.find((r) => r.id === 49)!.key;
    expect(hash).toContain('ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no)');
    expect(hash).not.toMatch(/tcp\(|ct_tuple4/);
    expect(kernel.find((r) => r.id === 44)!.key).toContain('ipv4(src=0.0.0.0/0.0.0.0,');
  });

  it('links a child whose key wildcards what its parent matches (proto=0/0 and no tcp(), src=0.0.0.0/0.0.0.0)', () => {
    // 48 → 49: 48 matches tcp dst=80 to 10.0.0.100, 49 (after hash) has proto=0/0 and no tcp().
    // 45 → 44 and 47 → 44: 44 wildcards the source address its parents match.
    const found = edges(kernel);
    for (const e of ['48->49', '45->44', '47->44']) expect(found).toContain(e);
    // Never an edge the userspace keys do not have.
    expect(found.filter((e) => !recorded.includes(e))).toEqual([]);
  });

  // 46 → 47 is the VIP's DNAT: 47's packet reads dst 10.0.0.3, and in kernel form neither its
  // ct_state (+dnat sits outside its mask 0x3f) nor a ct_tuple4 (proto wildcarded) says it was
  // 10.0.0.100 before ct(nat). The run's lb0 says a bare ct(nat) may turn 10.0.0.100:80 into 10.0.0.3:80.
  it("links a DNATed child in kernel form to the pass that ran ct(nat), by the run's load balancer (46 → 47)", () => {
    expect(edges(kernel)).not.toContain('46->47');
    const found = edges(kernel, () => RUN_REWRITES);
    expect(found).toContain('46->47');
    expect(found.filter((e) => !recorded.includes(e))).toEqual([]);
    expect(found).toEqual(recorded);
  });

  it('does not link a child whose destination is no backend of the VIP (47 to 10.0.0.200/26)', () => {
    // 10.0.0.200/255.255.255.192 reads 10.0.0.192/26 in kernel form: neither the VIP nor 10.0.0.3.
    const other = FIXTURE.datapath_flow.map(with47('dst=10.0.0.3/255.255.255.192', 'dst=10.0.0.200/255.255.255.192')).map((r) => ({ ...r, key: kernelForm(r.key) }));
    expect(other.find((r) => r.id === 47)!.key).toContain('dst=10.0.0.192/255.255.255.192');
    expect(edges(other, () => RUN_REWRITES)).not.toContain('46->47');
    // The case is one a looser rule links: a bare ct(nat) taken to rewrite the destination to anything.
    const anything = [{ before: new Map(), after: new Map([['ipv4.dst', { value: 0n, mask: 0n }]]), source: 'any' }];
    expect(edges(other, () => anything)).toContain('46->47');
  });

  it("does not link by another VIP's backends, nor by the router's SNAT", () => {
    const elsewhere = natRewritesOf(rows([{ name: 'lb9', vips: { '10.0.0.101:80': '10.0.0.3:80' }, protocol: 'tcp' }]), rows(FIXTURE.ovn_nb.NAT));
    expect(edges(kernel, () => elsewhere)).not.toContain('46->47');
  });

  it("gives the poller's cycle the edge when its table has the rewrites (a dump of the kernel-form flows)", () => {
    const dump = kernel.map((r) => parseDumpLine(`ufid:${r.ufid}, ${r.key}, packets:1, bytes:74, used:0.1s, actions:${r.actions}`));
    const ids = new Map(kernel.map((r) => [r.ufid, r.id]));
    const cycle = (t: DatapathFlowTable) => t.apply(dump, '2026-12-05T00:00:00Z').links.map((l) => `${ids.get(l.parent.ufid)}->${ids.get(l.child.ufid)}`).sort();
    expect(cycle(new DatapathFlowTable())).not.toContain('46->47');
    expect(cycle(new DatapathFlowTable(() => RUN_REWRITES))).toEqual(recorded);
  });

  it('links a userspace-form child that keeps no NAT trace by value, both ways (47 without ct_tuple4 and +dnat)', () => {
    // The userspace form prints the packet's own values: the exact lookups (reverse from the child,
    // forward from the parent) rather than overlap.
    const bare = FIXTURE.datapath_flow.map(with47('ct_state(0xa1/0x3f)', 'ct_state(0x21/0x3f)')).map((r) =>
      r.id === 47 ? { ...r, key: r.key.replace(/ct_tuple4\([^)]*\),/, '') } : r,
    );
    expect(bare.find((r) => r.id === 47)!.key).not.toMatch(/ct_tuple4|0xa1/);
    expect(edges(bare)).not.toContain('46->47');
    expect(edges(bare, () => RUN_REWRITES)).toEqual(recorded);
  });
});

// Two VIPs of one load balancer with the same backend (a ClusterIP and an external IP of one
// service): the client's passes to both recirculate into the same slot (same in_port, same frozen
// ct(zone=4,nat)). A userspace-form child that keeps its NAT trace (+dnat, ct_tuple4 dst=10.0.0.100)
// says which VIP its packet was sent to: it is the child of that VIP's pass, not of the other's.
describe('two VIPs with one backend', () => {
  const TWO_VIPS = natRewritesOf(rows([{ name: 'lb0', vips: { '10.0.0.100:80': '10.0.0.3:80', '10.0.0.101:80': '10.0.0.3:80' }, protocol: ['tcp'] }]), []);
  const p46 = FIXTURE.datapath_flow.find((r) => r.id === 46)!;
  const other = { ...p46, id: 146, ufid: '033a4505-691a-40cb-a63a-c3803df95146', key: p46.key.replace('dst=10.0.0.100,', 'dst=10.0.0.101,') };
  const flows = [...FIXTURE.datapath_flow, other];

  it("a child whose key names its VIP (ct_tuple4, +dnat) is not linked to the other VIP's pass", () => {
    expect(other.key).toContain('dst=10.0.0.101,');
    const found = edges(flows, () => TWO_VIPS);
    expect(found).toContain('46->47');
    expect(found.filter((e) => e.startsWith('146->'))).toEqual([]);
  });

  it('a kernel-form child that keeps no NAT trace may be either VIP’s (both linked)', () => {
    const found = edges(flows.map((r) => ({ ...r, key: kernelForm(r.key) })), () => TWO_VIPS);
    expect(found).toContain('46->47');
    expect(found).toContain('146->47');
  });
});
