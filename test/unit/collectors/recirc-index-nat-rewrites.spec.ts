// A reply through a load balancer: the backend's packet (src 10.0.0.3:80) meets a bare ct(nat) that
// un-DNATs it to the VIP (src 10.0.0.100:80), and its next pass matches the VIP. The child keeps
// +rpl, so the original tuple does not say what it was (natVariant); the load balancer does. Keys in
// both forms: as the userspace datapath prints them and as the kernel dumps the same megaflows.
import { IndexedFlow, NatRewrites, RecircIndex } from '../../../src/collectors/recirc-index';
import { parseDumpLine } from '../../../src/ovs/dump-flows';
import { natRewritesOf } from '../../../src/ovn/nat-rewrites';
import type { ReplicaRow } from '../../../src/ovsdb/replica/replica';
import { kernelForm } from '../../support/kernel-form';
import { indexedFlow } from '../../support/packet-paths';

const lb = (vips: Record<string, string>) => natRewritesOf([{ _uuid: 'lb', name: 'lb0', vips, protocol: ['tcp'] } as ReplicaRow], []);
const LB0 = lb({ '10.0.0.100:80': '10.0.0.3:80' });

const ETH = 'eth(src=50:54:00:00:00:03,dst=50:54:00:00:00:02),eth_type(0x0800)';
const parent = (src: string) =>
  `ufid:11111111-0000-4000-8000-000000000001, ct_state(0/0),recirc_id(0),in_port(vif3),${ETH},ipv4(src=${src},dst=10.0.0.2/0.0.0.0,proto=6,tos=0/0,ttl=64/0,frag=no),tcp(src=80,dst=42080/0), packets:0, bytes:0, used:never, actions:ct(zone=5,nat),recirc(0x20)`;
const CHILD =
  'ufid:11111111-0000-4000-8000-000000000002, ct_state(0x2a/0x3f),recirc_id(0x20),in_port(vif3),' +
  `${ETH},ipv4(src=10.0.0.100,dst=10.0.0.2/255.255.255.0,proto=6,tos=0/0,ttl=64/0,frag=no),tcp(src=80,dst=42080/0), packets:0, bytes:0, used:never, actions:vif2`;

function linked(lines: string[], rewrites?: NatRewrites): boolean {
  const [p, c] = lines.map((l) => indexedFlow(parseDumpLine(l)));
  const index = new RecircIndex<IndexedFlow>(rewrites);
  for (const f of [p, c]) index.add(f);
  const up = index.parentsOf(c).includes(p);
  expect(index.childrenOf(p).includes(c)).toBe(up);
  return up;
}

const kernel = (line: string) => line.replace(/^(ufid:[^,]+, )(.*)(, packets:.*)$/, (_m, a: string, key: string, b: string) => a + kernelForm(key) + b);

describe.each([
  ['userspace', (l: string) => l],
  ['kernel', kernel],
])('a reply un-DNATed by a bare ct(nat) (%s form)', (_form, as) => {
  it('is linked to the pass that matched the backend, by the load balancer', () => {
    expect(linked([parent('10.0.0.3'), CHILD].map(as))).toBe(false);
    expect(linked([parent('10.0.0.3'), CHILD].map(as), () => LB0)).toBe(true);
  });

  it("is not linked to a pass from an address that is no backend of the child's VIP", () => {
    expect(linked([parent('10.0.0.4'), CHILD].map(as), () => LB0)).toBe(false);
    expect(linked([parent('10.0.0.3'), CHILD].map(as), () => lb({ '10.0.0.100:8080': '10.0.0.3:80' }))).toBe(false);
  });
});
