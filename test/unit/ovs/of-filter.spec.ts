import { compileFilter, FilterError } from '../../../src/ovs/of-filter';
import { readFileSync } from 'fs';
import { join } from 'path';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { keyValue, parseKey } from '../../../src/ovs/odp-key';

// Keys as the userspace datapath dumps them (values of the packet kept under zero masks).
const ICMP = parseKey(
  'recirc_id(0),in_port(vif1),eth(src=50:54:00:00:00:01/01:00:00:00:00:00,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1,tos=0/0,ttl=64/0,frag=no),icmp(type=8/0,code=0/0)',
);
const SSH = parseKey(
  'recirc_id(0),in_port(3),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:03),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.3,proto=6,tos=0,ttl=64,frag=no),tcp(src=40000,dst=22)',
);
const V6 = parseKey(
  'recirc_id(0),in_port(vif2),eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:01),eth_type(0x86dd),ipv6(src=fd00::2,dst=fd00::1,label=0,proto=58,tclass=0,hlimit=64,frag=no),icmpv6(type=128,code=0)',
);

describe('OpenFlow-syntax session filters', () => {
  it.each([
    ['ip,nw_src=10.0.0.1', [true, true, false]],
    ['icmp', [true, false, false]],
    ['tcp,tp_dst=22', [false, true, false]],
    ['tcp,tp_dst=0x10/0xfff0', [false, true, false]],
    ['tcp,tp_dst=22/0xffff', [false, true, false]],
    ['tcp,tp_dst=80/65535', [false, false, false]],
    ['nw_dst=10.0.0.0/30', [true, true, false]],
    ['nw_dst=10.0.0.2/255.255.255.255', [true, false, false]],
    ['ipv6,ipv6_dst=fd00::/64', [false, false, true]],
    ['icmp6,icmp_type=128', [false, false, true]],
    ['in_port=vif1', [true, false, false]],
    ['dl_dst=50:54:00:00:00:03', [false, true, false]],
    ['dl_src=50:54:00:00:00:00/ff:ff:ff:ff:ff:00', [true, true, true]],
  ])('%s', (filter, expected) => {
    const f = compileFilter(filter);
    expect([ICMP, SSH, V6].map((k) => f.matches(k))).toEqual(expected);
  });

  // A VLAN-tagged packet's key (captured: the dnat-and-snat sandbox's localnet with tag 100): the
  // outer eth_type is 0x8100, the packet's own is inside encap(). OpenFlow's dl_type (and so `ip`,
  // `icmp`, `tcp`…) is the type after the VLAN header, as ovs-ofctl and OVN's tables match it; the
  // filter read the outer one, so `ip`/`icmp`/`tcp` sessions never saw tagged traffic.
  const TAGGED = parseKey(
    'recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(ext0),skb_mark(0/0),ct_state(0/0x2b),ct_zone(0/0),ct_mark(0/0),ct_label(0/0),packet_type(ns=0,id=0),eth(src=50:54:00:00:01:10,dst=00:00:00:00:ff:03),eth_type(0x8100),vlan(vid=100,pcp=0),encap(eth_type(0x0800),ipv4(src=172.16.0.10/255.255.255.128,dst=172.16.0.110,proto=1,tos=0/0,ttl=64,frag=no),icmp(type=8/0,code=0/0))',
  );
  it.each([
    ['ip', true],
    ['icmp', true],
    ['icmp,icmp_type=8', true],
    ['ip,nw_dst=172.16.0.110', true],
    ['dl_type=0x0800', true],
    ['tcp', false],
    ['arp', false],
    ['dl_type=0x8100', false],
  ])('reads the packet\'s own ethertype under a VLAN tag: %s', (filter, expected) => {
    expect(compileFilter(filter).matches(TAGGED)).toBe(expected);
  });

  // `-m` dumps name in_port; a filter may give the datapath port number (as dpctl/dump-flows'
  // filter= takes it, which the poller's session scope passes on): it never matched.
  it('matches a datapath port number in the filter on a key that names the port, given dpif/show', () => {
    const f = compileFilter('in_port=3,icmp');
    expect(f.matches(ICMP, new Map([['3', 'vif1']]))).toBe(true);
    expect(f.matches(ICMP, new Map([['3', 'vif3']]))).toBe(false);
  });

  it('matches in_port by name on a key that names it by number, given dpif/show', () => {
    const f = compileFilter('in_port=vif3,tcp');
    expect(f.matches(SSH)).toBe(false);
    expect(f.matches(SSH, new Map([['3', 'vif3']]))).toBe(true);
    expect(f.inPort).toBe('vif3');
  });

  it.each([
    ['ip,nw_src=10.0.0.300', /nw_src=10.0.0.300.*not an IPv4 address/],
    ['tcp,tp_dst=70000', /tp_dst=70000/],
    ['udp,frobnicate=1', /unknown field "frobnicate"/],
    ['ipx', /"ipx": unknown protocol keyword/],
    ['nw_dst=10.0.0.0/33', /bad prefix length/],
    ['tp_dst=', /missing value/],
    [',', /empty filter/],
    ["ip,nw_src=10.0.0.1');DROP TABLE trace;--", /not an IPv4 address/],
    // A mask wider than the field: `&` truncated it to 32 bits (0), so these matched every port.
    ['tcp,tp_dst=22/0x100000000', /tp_dst=22\/0x100000000.*mask "0x100000000" is wider than the field: up to 65535/],
    ['tcp,tp_dst=22/0xffffffffffffffffffff', /mask "0xffffffffffffffffffff" is wider than the field: up to 65535/],
    ['tcp,tp_src=22/4294967296', /tp_src=.*up to 65535/],
    ['tcp,tp_dst=22/0x1ffff', /up to 65535/],
    ['dl_type=0x0800/0x10000', /dl_type=.*up to 65535/],
    ['nw_proto=6/0x100', /nw_proto=.*up to 255/],
    ['icmp,icmp_type=8/0x100000000', /icmp_type=.*up to 255/],
    ['icmp,icmp_code=0/256', /icmp_code=.*up to 255/],
    // A second "/" part was ignored.
    ['tcp,tp_dst=22/0xffff/0', /more than one "\/"/],
    ['nw_dst=10.0.0.0/24/0', /more than one "\/"/],
    ['ipv6_dst=fd00::/64/0', /more than one "\/"/],
    ['dl_dst=50:54:00:00:00:03/ff:ff:ff:ff:ff:ff/00:00:00:00:00:00', /more than one "\/"/],
  ])('rejects %j naming the term', (filter, message) => {
    expect(() => compileFilter(filter)).toThrow(FilterError);
    expect(() => compileFilter(filter)).toThrow(message);
  });

  // Terms no packet satisfies together were accepted, and the session never traced anything (where
  // ovs-ofctl reads `icmp,tp_dst=3` as icmp_code=3 and lets the last protocol of `tcp,nw_proto=17` win).
  it.each([
    ['ipv6,nw_src=10.0.0.1', /"nw_src=10.0.0.1": never matches with "ipv6": it needs ethertype 0x0800 or 0x0806 or 0x8035, "ipv6" 0x86dd/],
    ['ip,ipv6_dst=fd00::1', /"ipv6_dst=fd00::1": never matches with "ip"/],
    ['icmp,tp_dst=3', /"tp_dst=3": never matches with "icmp": it needs IP protocol 6 or 17 or 132, "icmp" 1 \(of ICMP, give icmp_code\)/],
    ['tcp,icmp_type=8', /"icmp_type=8": never matches with "tcp"/],
    ['tcp,nw_proto=17', /"nw_proto=17": never matches with "tcp"/],
    ['ip,dl_type=0x86dd', /"dl_type=0x86dd": never matches with "ip"/],
    ['arp,tp_dst=22', /"tp_dst=22": never matches with "arp"/],
    ['nw_src=10.0.0.1,ipv6_dst=fd00::1', /"ipv6_dst=fd00::1": never matches with "nw_src=10.0.0.1"/],
    ['tp_dst=22,icmp_type=8', /"icmp_type=8": never matches with "tp_dst=22"/],
  ])('rejects %j, whose terms never match together, naming both', (filter, message) => {
    expect(() => compileFilter(filter)).toThrow(FilterError);
    expect(() => compileFilter(filter)).toThrow(message);
  });

  it.each(['arp,nw_dst=10.0.0.2', 'ip,tp_dst=22', 'ipv6,icmp_type=128', 'dl_type=0x0800,nw_proto=6,tp_dst=22', 'dl_type=0x0800/0xff00,ipv6_src=fd00::1', 'udp,tcp_dst=53'])(
    'takes %j, whose terms can match together',
    (filter) => expect(() => compileFilter(filter)).not.toThrow(),
  );
});

// The kernel datapath returns its keys masked (ovs-ofctl facts, section 3): a field the megaflow
// wildcards reads 0/0, and a /26 reads its network. A filter on such a field compared the printed
// value alone: `tcp,nw_src=10.0.0.2` selected nothing on the flow that carried all of 10.0.0.2's
// replies, and the session never said why. The userspace line below is captured
// (captured/ovs-3.5.0_ovn-25.03.0/tcp-handshake/dump-flows.txt, the reply 10.0.0.2:8080 ->
// 10.0.0.1:40000); the kernel line is the same key with each value masked, as the kernel returns it.
describe('filters on fields a key carries masked', () => {
  const userspace = parseKey(
    'recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(vif2),skb_mark(0/0),ct_state(0/0),ct_zone(0/0),ct_mark(0/0),ct_label(0/0),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:02/01:00:00:00:00:00,dst=50:54:00:00:00:01),eth_type(0x0800),ipv4(src=10.0.0.2/0.0.0.0,dst=10.0.0.1/255.255.255.192,proto=6,tos=0/0,ttl=64/0,frag=no),tcp(src=8080/0,dst=40000/0),tcp_flags(0/0)',
  );
  const kernel = parseKey(
    'recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(vif2),skb_mark(0/0),ct_state(0/0),ct_zone(0/0),ct_mark(0/0),ct_label(0/0),packet_type(ns=0,id=0),eth(src=00:00:00:00:00:00/01:00:00:00:00:00,dst=50:54:00:00:00:01),eth_type(0x0800),ipv4(src=0.0.0.0/0.0.0.0,dst=10.0.0.0/255.255.255.192,proto=6,tos=0/0,ttl=0/0,frag=no),tcp(src=0/0,dst=0/0),tcp_flags(0/0)',
  );

  it.each(['tcp,nw_src=10.0.0.2', 'nw_dst=10.0.0.1', 'nw_dst=10.0.0.0/24', 'tcp,tp_src=8080', 'tp_dst=40000', 'dl_src=50:54:00:00:00:02', 'ip,nw_src=10.0.0.2,nw_dst=10.0.0.1,tp_src=8080'])(
    'a kernel-form key is selected by %j: the flow carries those packets',
    (filter) => {
      expect(compileFilter(filter).matches(userspace)).toBe(true);
      expect(compileFilter(filter).matches(kernel)).toBe(true);
    },
  );

  it.each(['udp', 'nw_dst=10.0.1.1', 'dl_dst=50:54:00:00:00:09', 'dl_src=51:54:00:00:00:02', 'tcp,nw_dst=10.0.0.64/26'])('nor by %j, which its packets never meet', (filter) => {
    expect(compileFilter(filter).matches(kernel)).toBe(false);
    expect(compileFilter(filter).matches(userspace)).toBe(false);
  });

  // The userspace key keeps the packet's own values: the packet that made the flow, as before.
  it('a userspace key is still matched by the packet that made it', () => {
    expect(compileFilter('nw_src=10.0.0.5').matches(userspace)).toBe(false);
    expect(compileFilter('tp_src=80').matches(userspace)).toBe(false);
    expect(compileFilter('nw_src=10.0.0.5').matches(kernel)).toBe(true);
  });
});

// A megaflow that wildcards nw_proto: the kernel masks the key (proto=0/0) and then writes no
// tcp()/udp()/icmp() attribute at all (flow_netlink.c __ovs_nla_put_key picks the L4 attribute by
// the masked key's protocol). Its packets are of every protocol: `nw_proto=6` selected it, while
// `tcp`, `tcp,tp_dst=80` and `icmp,icmp_type=8` selected nothing, and a session on them stayed silent.
describe('filters on a kernel key whose IP protocol is wildcarded', () => {
  const dump = parseDumpFlows(readFileSync(join(__dirname, '../../fixtures/documented/kernel-datapath/dump-flows.txt'), 'utf8'));
  const byPort = (port: string) => dump.items.find((f) => keyValue(f.key, 'in_port') === port && keyValue(f.key, 'recirc_id') === '0')!.key;

  it.each([
    ['tap1', 'tcp'],
    ['tap1', 'tcp,nw_dst=20.0.0.4,tp_dst=80'],
    ['tap1', 'tp_src=43210'],
    ['tap1', 'nw_proto=6'],
    ['eth1', 'icmp,icmp_type=8,nw_dst=172.16.0.110'],
    ['tap2', 'udp,tp_dst=53'],
    ['tap5', 'sctp6,tp_dst=5001'],
  ])('the %s flow is selected by %j: it carries those packets', (port, filter) => {
    expect(compileFilter(filter).matches(byPort(port))).toBe(true);
  });

  it.each([
    ['eth1', 'icmp,nw_dst=172.16.0.111'],
    ['tap1', 'icmp6'],
    ['tap1', 'tcp,nw_src=10.0.0.1,dl_dst=50:54:00:00:00:05'],
  ])('the %s flow is not selected by %j', (port, filter) => {
    expect(compileFilter(filter).matches(byPort(port))).toBe(false);
  });

  it('an exact protocol still decides: a tcp flow carries no ICMP, and a userspace key its own packet', () => {
    const tcp = dump.items.find((f) => keyValue(f.key, 'recirc_id') === '0x9')!.key;
    expect(compileFilter('icmp,icmp_type=8').matches(tcp)).toBe(false);
    expect(compileFilter('udp').matches(tcp)).toBe(false);
    const userspace = parseKey('recirc_id(0),in_port(vif1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1/0,tos=0/0,ttl=64/0,frag=no),icmp(type=8/0,code=0/0)');
    expect(compileFilter('icmp').matches(userspace)).toBe(true);
    expect(compileFilter('tcp').matches(userspace)).toBe(false);
    expect(compileFilter('tp_dst=80').matches(userspace)).toBe(false);
  });
});
