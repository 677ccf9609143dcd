// The cross-chassis link on keys in the kernel datapath's form (masked: a wildcarded field reads
// 0/0, a wildcarded IP protocol leaves no L4 attribute; test/support/kernel-form.ts). A megaflow
// that wildcards the protocol carries packets of every protocol and port: a push or an arrival
// without tcp()/icmp() must still link to the TCP packet it carried.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { innerFields, LinkFlow, linkTunnels, samePacket, senderOf } from '../../../src/paths/tunnel-link';
import { kernelForm } from '../../support/kernel-form';

const CAPTURED = join(__dirname, '../../fixtures/captured-multichassis/debian12');
const KERNEL = join(__dirname, '../../fixtures/documented/kernel-datapath/dump-flows.txt');
const T0 = Date.parse('2026-12-05T03:00:00Z');

function lineOf(file: string, pred: (l: string) => boolean): { key: string; actions: string } {
  const hits = readFileSync(file, 'utf8').split('\n').filter((l) => l.includes(', actions:') && pred(l));
  if (hits.length !== 1) throw new Error(`expected one line, found ${hits.length}`);
  const l = hits[0];
  return {
    key: l.slice(0, l.indexOf(', packets:')).replace(/^ufid:\S+ /, ''),
    actions: l.slice(l.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, ''),
  };
}

const flow = (chassis: string, l: { key: string; actions: string }): LinkFlow => ({ chassis, ...l, recircId: 0, from: T0, to: T0 + 50 });

describe('tunnel links on kernel-form keys', () => {
  // hv1's push to lsp2 in kernel form (tnl_push_pop off): its megaflow wildcards the protocol
  // (proto=1/0 in the userspace dump) and carried hv2's TCP SYN (flags:S).
  const push = lineOf(join(CAPTURED, 'hv1.kernel-form.txt'), (l) => l.startsWith('ufid:') && l.includes('proto=1/0'));
  // hv2's arrival of that TCP packet (tcp dst=80, dropped by an ACL).
  const tcpArrival = lineOf(join(CAPTURED, 'hv2.flows-m.txt'), (l) => l.includes('tcp(src=40000/0,dst=80)'));

  it('the derived keys read as the kernel dumps them', () => {
    expect(kernelForm(push.key)).toContain('ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0x3,ttl=0/0,frag=no)');
    expect(kernelForm(push.key)).not.toContain('icmp(');
    const arrival = kernelForm(tcpArrival.key);
    expect(arrival).toContain('tunnel(tun_id=0x2,src=192.168.0.1,dst=192.168.0.2,ttl=0/0,geneve(');
    expect(arrival).toContain('eth(src=50:54:00:00:00:01,dst=00:00:00:00:00:00/01:00:00:00:00:00)');
    expect(arrival).toContain('tcp(src=0/0,dst=80)');
  });

  it('links a push whose key has proto=0/0 and no L4 attribute to the TCP arrival, captured or kernel form', () => {
    const sender = flow('hv1', { key: kernelForm(push.key), actions: push.actions });
    for (const key of [tcpArrival.key, kernelForm(tcpArrival.key)]) {
      const receiver = flow('hv2', { key, actions: tcpArrival.actions });
      const [link] = linkTunnels(sender, [receiver], 1000);
      expect(link.receiver).toBe(receiver);
      expect(senderOf(receiver, [sender], 1000)).toBe(sender);
    }
  });

  it('compares a masked field by overlap: eth dst 00:…/01:… (unicast) fits 50:54:00:00:00:02, not a multicast address', () => {
    const received = innerFields(kernelForm(tcpArrival.key));
    expect(samePacket(innerFields('eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02)'), received)).toBe(true);
    expect(samePacket(innerFields('eth(src=50:54:00:00:00:01,dst=01:00:5e:01:01:01)'), received)).toBe(false);
  });

  // The corrected fixture's Geneve arrival (from 192.168.100.12, VNI 1, ports 2 → 3): proto=0/0 and
  // no L4 attribute. A TCP packet to port 80 and an ICMP echo sent by that chassis both ride it.
  const arrival = lineOf(KERNEL, (l) => l.includes('recirc_id(0),') && l.includes('in_port(genev_sys_6081)'));
  const sentAs = (l4: string) =>
    flow('hv2', {
      key: `recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(tap4),skb_mark(0/0),ct_state(0/0),ct_zone(0/0),ct_mark(0/0),ct_label(0/0),eth(src=50:54:00:00:00:04,dst=50:54:00:00:00:01),eth_type(0x0800),${l4}`,
      actions: 'set(tunnel(tun_id=0x1,src=192.168.100.12,dst=192.168.100.11,ttl=64,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x20003}),flags(df|csum|key))),genev_sys_6081',
    });

  it('links a TCP and an ICMP push to an arrival whose key has proto=0/0 and no L4 attribute', () => {
    const receiver = flow('hv1', arrival);
    const tcp = sentAs('ipv4(src=0.0.0.0/0.0.0.0,dst=10.0.0.1,proto=6,tos=0/0x3,ttl=0/0,frag=no),tcp(src=0/0,dst=80)');
    const icmp = sentAs('ipv4(src=0.0.0.0/0.0.0.0,dst=10.0.0.1,proto=1,tos=0/0x3,ttl=0/0,frag=no),icmp(type=8,code=0/0)');
    for (const s of [tcp, icmp]) expect(linkTunnels(s, [receiver], 1000)[0].receiver).toBe(receiver);
  });

  it('still refuses an arrival of another packet: other Ethernet source', () => {
    const receiver = flow('hv1', arrival);
    const other = sentAs('ipv4(src=0.0.0.0/0.0.0.0,dst=10.0.0.1,proto=6,tos=0/0x3,ttl=0/0,frag=no),tcp(src=0/0,dst=80)');
    other.key = other.key.replace('eth(src=50:54:00:00:00:04', 'eth(src=50:54:00:00:00:05');
    expect(linkTunnels(other, [receiver], 1000)[0].receiver).toBeUndefined();
  });
});
