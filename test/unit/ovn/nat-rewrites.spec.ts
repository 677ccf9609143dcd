// What a bare ct(nat) can rewrite, read from the NB Load_Balancer and NAT rows (ovn/nat-rewrites.ts):
// on the captured replicas (the rows as a real northbound server sends them), as they change, and
// the VIP spellings the rows allow (IPv6 in brackets, no port, another protocol).
import { natRewritesOf } from '../../../src/ovn/nat-rewrites';
import { OvnModel } from '../../../src/ovn/ovn-model';
import type { HeaderRewrite, MaskedValue } from '../../../src/ovs/key-rewrite';
import type { ReplicaRow } from '../../../src/ovsdb/replica/replica';
import { capturedReplicas } from '../../support/captured-model';
import { modelRewrites, NAT_VERSIONS, natCapture } from '../../support/captured-nat';

/** `field=value[/mask]` per entry, before => after, as hex bits (what the index compares). */
const text = (rw: HeaderRewrite) => {
  const one = (v: MaskedValue): string => `${v.value.toString(16)}${v.mask === null ? '' : '/' + v.mask.toString(16)}${v.except ? `!(${v.except.map(one).join(' ')})` : ''}`;
  const side = (m: HeaderRewrite['before']) => [...m].map(([k, v]) => `${k}=${one(v)}`).join(',');
  return `${side(rw.before)} => ${side(rw.after)}`;
};
const row = (r: Record<string, unknown>) => ({ _uuid: 'x', ...r }) as ReplicaRow;

describe('NAT rewrites from the northbound rows', () => {
  it("reads the captured lb0 (one rewrite per backend and direction) and the router's NAT rows", () => {
    const rws = new OvnModel(capturedReplicas()).natRewrites();
    const hairpin = (r: HeaderRewrite) => r.source.endsWith('(hairpin reply)');
    const lb = rws.filter((r) => r.source.startsWith('lb0 ') && !hairpin(r)).map(text);
    // A backend's reply to its own request sent to the VIP (SNATed to the VIP): un-SNATed to itself, any port.
    expect(rws.filter((r) => r.source.startsWith('lb0 ') && hairpin(r)).map(text)).toEqual([
      'ipv4.src=a000002,ipv4.dst=a000064,ipv4.proto=6,tcp.src=50 => ipv4.dst=a000002,tcp.dst=0/0',
      'ipv4.src=a000003,ipv4.dst=a000064,ipv4.proto=6,tcp.src=50 => ipv4.dst=a000003,tcp.dst=0/0',
    ]);
    expect(lb).toEqual([
      'ipv4.dst=a000064,ipv4.proto=6,tcp.dst=50 => ipv4.dst=a000002,tcp.dst=50',
      'ipv4.src=a000002,ipv4.proto=6,tcp.src=50 => ipv4.src=a000064,tcp.src=50',
      'ipv4.dst=a000064,ipv4.proto=6,tcp.dst=50 => ipv4.dst=a000003,tcp.dst=50',
      'ipv4.src=a000003,ipv4.proto=6,tcp.src=50 => ipv4.src=a000064,tcp.src=50',
    ]);
    // snat 172.16.0.254 for 10.0.0.0/24: the source prefix becomes the address, any source port;
    // but for 10.0.0.3, which lr0's dnat_and_snat 172.16.0.110 SNATs (the longer prefix wins).
    const snat = rws.filter((r) => r.source.startsWith('snat ')).map(text);
    expect(snat[0]).toBe('ipv4.src=a000000/ffffff00!(a000003) => ipv4.src=ac1000fe,tcp.src=0/0,udp.src=0/0,sctp.src=0/0');
    expect(snat[1]).toBe('ipv4.dst=ac1000fe => ipv4.dst=a000000/ffffff00!(a000003),tcp.dst=0/0,udp.dst=0/0,sctp.dst=0/0');
    expect(rws.filter((r) => r.source.startsWith('dnat_and_snat '))).toHaveLength(4);
  });

  it('follows the replica: a changed VIP gives new rewrites, an unchanged one the same answer', () => {
    const reps = capturedReplicas();
    const model = new OvnModel(reps);
    const before = model.natRewrites();
    expect(model.natRewrites()).toBe(before);
    const lb = [...reps.nb.rows('Load_Balancer')][0];
    // An update2 map diff: the new pair is added, the VIP already there stays.
    reps.nb.applyUpdate2({ Load_Balancer: { [lb._uuid]: { modify: { vips: ['map', [['10.0.0.101:443', '10.0.0.3:8443']]] } } } });
    const after = model.natRewrites();
    expect(after).not.toBe(before);
    expect(after.filter((r) => r.source.startsWith('lb0 10.0.0.101:443')).map(text)).toEqual([
      'ipv4.dst=a000065,ipv4.proto=6,tcp.dst=1bb => ipv4.dst=a000003,tcp.dst=20fb',
      'ipv4.src=a000003,ipv4.proto=6,tcp.src=20fb => ipv4.src=a000065,tcp.src=1bb',
      'ipv4.src=a000003,ipv4.dst=a000065,ipv4.proto=6,tcp.src=20fb => ipv4.dst=a000003,tcp.dst=0/0',
    ]);
  });

  it('reads IPv6 VIPs in brackets, VIPs without a port (addresses only) and a udp load balancer', () => {
    const v6 = natRewritesOf([row({ name: 'lb6', vips: { '[fd00::64]:53': '[fd00::3]:5353' }, protocol: ['udp'] })], []).map(text);
    expect(v6[0]).toBe('ipv6.dst=fd000000000000000000000000000064,ipv6.proto=11,udp.dst=35 => ipv6.dst=fd000000000000000000000000000003,udp.dst=14e9');
    const bare = natRewritesOf([row({ name: 'lbip', vips: { '10.0.0.100': '10.0.0.3,10.0.0.4' }, protocol: [] })], []).map(text);
    const anyDst = 'tcp.dst=0/0,udp.dst=0/0,sctp.dst=0/0';
    expect(bare).toEqual([
      'ipv4.dst=a000064 => ipv4.dst=a000003',
      'ipv4.src=a000003 => ipv4.src=a000064',
      `ipv4.src=a000003,ipv4.dst=a000064 => ipv4.dst=a000003,${anyDst}`,
      'ipv4.dst=a000064 => ipv4.dst=a000004',
      'ipv4.src=a000004 => ipv4.src=a000064',
      `ipv4.src=a000004,ipv4.dst=a000064 => ipv4.dst=a000004,${anyDst}`,
    ]);
  });
});

// The NB rows of scripts/capture-nat-fixtures (every pair: OVN 23.03, 25.03 and 26.03 configure the
// same rewrites; their datapath flows are in recirc-index-nat-captured.spec.ts), read by the model.
describe.each(NAT_VERSIONS)('NAT rewrites of the captured rows of %s', (version) => {
  const of = (scenario: string, source: (s: string) => boolean) => modelRewrites(version, natCapture(version, scenario).nb).filter((r) => source(r.source)).map(text);
  const REPLY_ANY = 'ipv4.dst=0/0,udp.dst=0/0';

  it('a hairpin reply is un-SNATed from the VIP, or from hairpin_snat_ip when the load balancer has one', () => {
    expect(of('lb-hairpin', (s) => s.endsWith('(hairpin reply)')).sort()).toEqual([
      'ipv4.src=a000001,ipv4.dst=ac100064,ipv4.proto=11,udp.src=50 => ipv4.dst=a000001,udp.dst=0/0', // lb-gw's own
      'ipv4.src=a000003,ipv4.dst=a000064,ipv4.proto=11,udp.src=50 => ipv4.dst=a000003,udp.dst=0/0', // lbh: the VIP
      'ipv4.src=a000002,ipv4.dst=a0000c9,ipv4.proto=11,udp.src=50 => ipv4.dst=a000002,udp.dst=0/0', // lbs: 10.0.0.201
    ].sort());
  });

  // OVN SNATs to the address of the port the request leaves by toward the backend: lr1-sw0's
  // 10.0.0.254 for 10.0.0.1 (the capture's conntrack.txt), not lr1-ext's 172.16.0.1.
  it("lb_force_snat_ip=router_ip: a reply to the address of the router's port on the backend's network goes to any client", () => {
    expect(of('force-snat-router-ip', (s) => s.startsWith('lr1 '))).toEqual([`ipv4.src=a000001,ipv4.dst=a0000fe,ipv4.proto=11,udp.src=50 => ${REPLY_ANY}`]);
    // Not the switch's load balancers: lr1 has only lb-gw.
    expect(of('force-snat-router-ip', (s) => s.startsWith('lr1 ') && !s.includes(' lb-gw '))).toEqual([]);
  });

  // lr1's lb-gw in a Load_Balancer_Group of lr1's, its own load_balancer column empty: the group's
  // members are lr1's load balancers, sw0's lbh and lbs still are not.
  it("lb_force_snat_ip with the router's load balancer in a group: the group's members, as if lr1's own", () => {
    const byGroup = of('force-snat-lb-group', (s) => s.startsWith('lr1 ')).sort();
    expect(byGroup).toEqual(of('force-snat-router-ip', (s) => s.startsWith('lr1 ')).sort());
    expect(byGroup.length).toBeGreaterThan(0);
    expect(of('force-snat-lb-group', (s) => s.startsWith('lr1 ') && !s.includes(' lb-gw '))).toEqual([]);
  });

  it("follows the group: lb-gw taken out of lr1's group takes lr1's lb_force_snat_ip rewrites with it", () => {
    const { nb } = natCapture(version, 'force-snat-lb-group');
    const model = new OvnModel({ nb, sb: capturedReplicas().sb });
    expect(model.natRewrites().filter((r) => r.source.startsWith('lr1 ')).length).toBeGreaterThan(0);
    const [group] = [...nb.rows('Load_Balancer_Group')];
    // An update2 set diff: a member already there is removed.
    nb.applyUpdate2({ Load_Balancer_Group: { [group._uuid]: { modify: { load_balancer: ['set', [['uuid', String(group.load_balancer)]]] } } } });
    expect(model.natRewrites().filter((r) => r.source.startsWith('lr1 '))).toEqual([]);
  });

  it('lb_force_snat_ip=<address>: that address only', () => {
    expect(of('force-snat-ip', (s) => s.startsWith('lr1 '))).toEqual([`ipv4.src=a000001,ipv4.dst=a0000fa,ipv4.proto=11,udp.src=50 => ${REPLY_ANY}`]);
    expect(of('lb-hairpin', (s) => s.startsWith('lr1 '))).toEqual([]);
  });

  // A floating IP on a distributed router (logical_port and external_mac: OVN runs it where the VM's
  // port is bound, in lr2's zones): what it rewrites is a centralized row's, and it is lr2's.
  it("a distributed dnat_and_snat: a centralized row's rewrites, lr2's", () => {
    const { nb } = natCapture(version, 'distributed-dnat-and-snat');
    const rows = [...nb.rows('NAT')];
    expect(rows.map((r) => [r.type, r.logical_port, r.external_mac])).toEqual([['dnat_and_snat', ['lsp6'], ['50:54:00:00:01:50']]]);
    const lr2 = [...nb.rows('Logical_Router')].find((r) => r.name === 'lr2')!._uuid;
    const fip = modelRewrites(version, nb).filter((r) => r.source.startsWith('dnat_and_snat '));
    expect(fip.map((r) => r.router)).toEqual(fip.map(() => lr2));
    // 192.168.100.50 <-> 10.1.0.6: DNAT (and its reply) keep the ports, SNAT (and its reply) may pick one.
    expect(fip.map(text).sort()).toEqual([
      'ipv4.dst=c0a86432 => ipv4.dst=a010006',
      'ipv4.src=a010006 => ipv4.src=c0a86432',
      'ipv4.dst=c0a86432 => ipv4.dst=a010006,tcp.dst=0/0,udp.dst=0/0,sctp.dst=0/0',
      'ipv4.src=a010006 => ipv4.src=c0a86432,tcp.src=0/0,udp.src=0/0,sctp.src=0/0',
    ].sort());
    const centralized = rows.map((r) => row({ ...r, logical_port: [], external_mac: [] }));
    expect(fip.map(text).sort()).toEqual(natRewritesOf([], centralized).map(text).sort());
  });

  it("a SNAT prefix leaves out the longer prefix its router SNATs to another address, both ways", () => {
    expect(of('snat-prefix', (s) => s.startsWith('snat 172.16.0.1 '))).toEqual([
      'ipv4.src=a000000/ffffff00!(a000002) => ipv4.src=ac100001,tcp.src=0/0,udp.src=0/0,sctp.src=0/0',
      'ipv4.dst=ac100001 => ipv4.dst=a000000/ffffff00!(a000002),tcp.dst=0/0,udp.dst=0/0,sctp.dst=0/0',
    ]);
    expect(of('snat-prefix', (s) => s.startsWith('snat 172.16.0.2 '))).toEqual([
      'ipv4.src=a000002 => ipv4.src=ac100002,tcp.src=0/0,udp.src=0/0,sctp.src=0/0',
      'ipv4.dst=ac100002 => ipv4.dst=a000002,tcp.dst=0/0,udp.dst=0/0,sctp.dst=0/0',
    ]);
  });
});
