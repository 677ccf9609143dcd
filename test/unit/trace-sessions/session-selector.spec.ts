// A logical port's packets seen by another chassis: they arrive through a Geneve tunnel, the VNI
// holding the port's logical switch key and OVN's option the port's key as the ingress half. The
// keys below are the receiver's megaflow keys as `dpctl/dump-flows` prints them (masks included).
import { parseKey } from '../../../src/ovs/odp-key';
import { ovnTunnelKeys } from '../../../src/ovs/odp-tunnel';
import { parseAddresses, PortTarget, selectFlow, tunnelledFrom } from '../../../src/trace-sessions/session-selector';

// Geneve's keys are the push's own (no southbound needed): the decoder the model starts from.
const model = { tunnelKeys: ovnTunnelKeys };

const arrival = (tunId: string, option: string) =>
  parseKey(
    `recirc_id(0),tunnel(tun_id=${tunId},src=192.168.0.1,dst=192.168.0.2,geneve({class=0x102,type=0x80,len=4,${option}}),flags(-df+csum+key)),` +
      'in_port(3),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(frag=no)',
  );

const lsp1: PortTarget = {
  name: 'lsp1', interfaces: new Set(['vif1']), dpPorts: new Set(['2']),
  macs: new Set(['50:54:00:00:00:01']), ips: new Set(['10.0.0.1']), keys: { datapath: 1, port: 1 },
};

describe('tunnelledFrom', () => {
  it.each([
    ['0x1', '0x10002/0x7fffffff', true],
    ['0x1', '0x10002', true],
    ['0x1/0xffffff', '0x10002/0x7fff0000', true],
    // Another port's packet on the same switch, and the same port key on another switch.
    ['0x1', '0x20001/0x7fffffff', false],
    ['0x2', '0x10002/0x7fffffff', false],
    // A megaflow that wildcards the ingress bits cannot say whose packet it is.
    ['0x1', '0x10002/0xffff', false],
    // Nor one that wildcards datapath bits of the VNI, the option exact; the egress bits are no matter.
    ['0x1/0xff', '0x10002', false],
    ['0x1', '0x10002/0x7fff0000', true],
  ])('tun_id=%s option %s: %s', (tunId, option, want) => {
    expect(tunnelledFrom(arrival(tunId, option), { datapath: 1, port: 1 }, model)).toBe(want);
  });

  // OvnModel.tunnelKeys may read the southbound (a VXLAN push's zones): an exact key needs no second reading.
  it('reads an exact arrival through the model once', () => {
    const once = { tunnelKeys: jest.fn(ovnTunnelKeys) };
    expect(tunnelledFrom(arrival('0x1', '0x10002'), { datapath: 1, port: 1 }, once)).toBe(true);
    expect(once.tunnelKeys).toHaveBeenCalledTimes(1);
  });

  it('a flow from a VM has no tunnel', () => {
    expect(tunnelledFrom(parseKey('recirc_id(0),in_port(2),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)'), { datapath: 1, port: 1 }, model)).toBe(false);
  });
});

describe('selectFlow for a logical port on the receiving chassis', () => {
  it("stores lsp1's arrival towards lsp2 (not lsp1's address) by its tunnel keys", () => {
    const flow = { inPort: '3', flow: { key: arrival('0x1', '0x10002/0x7fffffff') } };
    expect(selectFlow(flow, { port: lsp1, parentSelected: false, model })).toBe('store');
    expect(selectFlow(flow, { port: { ...lsp1, keys: { datapath: 1, port: 2 } }, parentSelected: false, model })).toBeNull();
    expect(selectFlow(flow, { port: { ...lsp1, keys: undefined }, parentSelected: false, model })).toBeNull();
  });
});

// A logical port with an IPv6 address. Its packets towards it are picked by their destination, as
// OVS prints it (RFC 5952: fd00::1) while the port's addresses are as the northbound was given them;
// and a neighbour solicitation for it goes to a solicited-node multicast group, naming the port's
// address as its ND target, as an ARP request for an IPv4 port's address is broadcast.
describe('selectFlow for a logical port with an IPv6 address', () => {
  const lsp1v6: PortTarget = { name: 'lsp1', interfaces: new Set(['vif1']), dpPorts: new Set(['2']), ...parseAddresses(['50:54:00:00:00:01 FD00:0:0::0001']) };
  const from2 = (l3: string) =>
    ({ inPort: 'vif2', flow: { key: parseKey(`recirc_id(0),in_port(vif2),eth(src=50:54:00:00:00:02,dst=${l3}`) } });

  it('a packet to the address written otherwise in the northbound', () => {
    const echo = from2('50:54:00:00:00:09),eth_type(0x86dd),ipv6(src=fd00::2,dst=fd00::1,label=0,proto=58,tclass=0,hlimit=64,frag=no),icmpv6(type=128,code=0)');
    expect(selectFlow(echo, { port: lsp1v6, parentSelected: false, model })).toBe('decide');
  });

  it("a neighbour solicitation for the port's address, not for another's", () => {
    const ns = (target: string) =>
      from2(`33:33:ff:00:00:01),eth_type(0x86dd),ipv6(src=fd00::2,dst=ff02::1:ff00:1,label=0,proto=58,tclass=0,hlimit=255,frag=no),icmpv6(type=135,code=0),nd(target=${target},sll=50:54:00:00:00:02,tll=00:00:00:00:00:00)`);
    expect(selectFlow(ns('fd00::1'), { port: lsp1v6, parentSelected: false, model })).toBe('decide');
    expect(selectFlow(ns('fd00::3'), { port: lsp1v6, parentSelected: false, model })).toBeNull();
  });
});

// A recirculation of a pass selected to decide (by the port's address) is decided with it, not
// stored whatever it is: another tenant's reply to the same IP had its first pass let go and its
// recirculations stored (test/e2e/session-routed-reach.e2e-spec.ts).
describe('selectFlow for a recirculation', () => {
  const child = { inPort: 'vif6', flow: { key: parseKey('recirc_id(0x1),in_port(vif6),eth(src=50:54:00:00:0a:07,dst=50:54:00:00:0a:01),eth_type(0x0800),ipv4(src=10.0.0.7,dst=10.0.0.9,proto=1,frag=no)') } };

  it("of a stored pass is stored; of a pass to decide is decided, whatever its own header; of neither, by its own header", () => {
    expect(selectFlow(child, { port: lsp1, parentSelected: true, model })).toBe('store');
    expect(selectFlow(child, { port: lsp1, parentSelected: false, parentDeciding: true, model })).toBe('decide');
    expect(selectFlow(child, { port: lsp1, parentSelected: true, parentDeciding: true, model })).toBe('store');
    expect(selectFlow(child, { port: lsp1, parentSelected: false, model })).toBeNull();
  });
});
