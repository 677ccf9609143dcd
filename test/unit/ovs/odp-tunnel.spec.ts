// The tunnel parts of datapath flows, read from lines captured on a real three-chassis sandbox
// (scripts/capture-multichassis-fixtures): the expected keys come from the same run's southbound
// database (keys.json), never from the lines themselves.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { keyField, parseKey } from '../../../src/ovs/odp-key';
import { ovnKeys, pushReaches, tunnelFieldMatch, tunnelMatch, tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { OvsParseError } from '../../../src/ovs/parse-error';

const ROOT = join(__dirname, '../../fixtures/captured-multichassis');
const PAIRS = readdirSync(ROOT).sort();

interface Keys {
  versions: string;
  datapaths: Record<string, number>;
  ports: Record<string, { tunnelKey: number; datapath: string }>;
}

interface Flow {
  key: string;
  actions: string;
  line: string;
}

function flows(pair: string, file: string): Flow[] {
  return readFileSync(join(ROOT, pair, file), 'utf8')
    .split('\n')
    .filter((l) => l.includes(', actions:'))
    .map((line) => {
      const key = line.slice(0, line.indexOf(', packets:')).replace(/^ufid:\S+ /, '');
      const actions = line.slice(line.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, '');
      return { key, actions, line };
    });
}

function one(list: Flow[], what: string, pred: (f: Flow) => boolean): Flow {
  const hits = list.filter(pred);
  if (hits.length !== 1) throw new Error(`expected one ${what}, found ${hits.length}`);
  return hits[0];
}

const keys = (pair: string): Keys => JSON.parse(readFileSync(join(ROOT, pair, 'keys.json'), 'utf8')) as Keys;
const port = (k: Keys, name: string) => k.ports[name].tunnelKey;
// Tunnel ids are carried as hex text (ids.ts tunnelIdHex: tun_id is 64 bits).
const hex = (n: number) => `0x${n.toString(16)}`;

describe.each(PAIRS)('tunnel lines captured on %s', (pair) => {
  const k = keys(pair);
  const sameSwitch = { vni: hex(k.datapaths.sw0), ovn: { ingress: port(k, 'lsp1'), egress: port(k, 'lsp2') } };
  // Routed on hv1 (the router is distributed): the tunnel carries sw1's key and its router port as ingress.
  const routed = { vni: hex(k.datapaths.sw1), ovn: { ingress: port(k, 'sw1-lr0'), egress: port(k, 'lsp3') } };

  it('captured what the tables need (three chassis, both forms)', () => {
    expect(k.versions).toMatch(/^ovs=\d/);
    expect(k.ports.lsp3.datapath).toBe('sw1');
  });

  it('reads the userspace tnl_push of hv1: VNI = datapath key, OVN option = ingress/egress port keys, remote chassis', () => {
    const hv1 = flows(pair, 'hv1.flows-m.txt');
    const same = one(hv1, 'ICMP to lsp2', (f) => f.key.includes('dst=50:54:00:00:00:02') && f.key.includes('icmp('));
    const [push] = tunnelPushes(same.actions);
    expect(tunnelPushes(same.actions)).toHaveLength(1);
    expect(push).toMatchObject({
      form: 'tnl_push', kind: 'geneve', ...sameSwitch, remoteIp: '192.168.0.2', localIp: '192.168.0.1',
      tunnelPort: 'genev_sys_6081', outPort: 'br-phys',
    });
    expect(push.geneve).toEqual([{ optClass: 0x102, type: 0x80, len: 4, data: expect.stringMatching(/^0x[0-9a-f]+$/) }]);

    const r = one(hv1, 'routed ICMP', (f) => f.key.includes('dst=00:00:00:00:ff:01'));
    expect(tunnelPushes(r.actions)).toEqual([expect.objectContaining({ ...routed, remoteIp: '192.168.0.3' })]);
  });

  it('reads the same pushes without -m (port numbers instead of names)', () => {
    const hv1 = flows(pair, 'hv1.flows.txt');
    const pushes = hv1.flatMap((f) => tunnelPushes(f.actions));
    expect(pushes.map((p) => [p.vni, p.ovn, p.remoteIp])).toEqual(
      expect.arrayContaining([[sameSwitch.vni, sameSwitch.ovn, '192.168.0.2'], [routed.vni, routed.ovn, '192.168.0.3']]),
    );
    for (const p of pushes) expect(p.tunnelPort).toMatch(/^\d+$/);
  });

  it("reads the kernel datapath's set(tunnel(…)),port from the same daemons", () => {
    const lines = flows(pair, 'hv1.kernel-form.txt');
    const pushes = lines.flatMap((f) => tunnelPushes(f.actions));
    expect(pushes.length).toBeGreaterThanOrEqual(4); // two packets, with and without -m
    for (const p of pushes) expect(p.form).toBe('set_tunnel');
    // OVS 3.1 leaves the source to the route; 3.5 and later print it (src=192.168.0.1).
    for (const p of pushes) expect([undefined, '192.168.0.1']).toContain(p.localIp);
    expect(pushes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...sameSwitch, remoteIp: '192.168.0.2', tunnelPort: 'genev_sys_6081' }),
        expect.objectContaining({ ...routed, remoteIp: '192.168.0.3', tunnelPort: expect.stringMatching(/^\d+$/) }),
      ]),
    );
  });

  it("reads the receivers' tunnel match (hv2 switched, hv3 routed) with the option's mask", () => {
    const hv2 = one(flows(pair, 'hv2.flows-m.txt'), 'delivery to vif2', (f) => f.actions === 'vif2');
    const m2 = tunnelMatch(hv2.line)!;
    expect(m2).toMatchObject({ ...sameSwitch, src: '192.168.0.1', dst: '192.168.0.2', inPort: 'genev_sys_6081' });
    expect(m2.geneve[0].mask).toBe('0x7fffffff');
    expect(m2.flags).toMatch(/\+key/); // 3.1/3.5 match -df+csum+key, 4.0 only +key

    const hv3 = one(flows(pair, 'hv3.flows-m.txt'), 'delivery to vif3', (f) => f.actions === 'vif3');
    expect(tunnelMatch(hv3.key)).toMatchObject({ ...routed, src: '192.168.0.1', dst: '192.168.0.3' });
    // Without -m: the same tunnel, in_port as a number.
    const plain = one(flows(pair, 'hv2.flows.txt'), 'delivery without -m', (f) => f.key.startsWith('tunnel(') || f.key.includes(',tunnel(') ? /^\d+$/.test(f.actions) : false);
    expect(tunnelMatch(plain.key)).toMatchObject({ ...sameSwitch, dst: '192.168.0.2', inPort: expect.stringMatching(/^\d+$/) });
  });

  it('links each push to the receiver that holds it, and to no other', () => {
    const hv1 = flows(pair, 'hv1.flows-m.txt');
    const pushes = hv1.flatMap((f) => tunnelPushes(f.actions));
    const hv2 = tunnelMatch(one(flows(pair, 'hv2.flows-m.txt'), 'delivery to vif2', (f) => f.actions === 'vif2').key)!;
    const hv3 = tunnelMatch(one(flows(pair, 'hv3.flows-m.txt'), 'delivery to vif3', (f) => f.actions === 'vif3').key)!;
    const toHv2 = pushes.filter((p) => pushReaches(p, hv2));
    const toHv3 = pushes.filter((p) => pushReaches(p, hv3));
    expect(toHv2.length).toBeGreaterThanOrEqual(1);
    expect(toHv2.every((p) => p.remoteIp === '192.168.0.2')).toBe(true);
    expect(toHv3).toHaveLength(1);
    expect(toHv3[0].vni).toBe(routed.vni);
  });

  it('reads the stateful pass pair: the push after ct(commit) in a recirculated pass, the tunnel kept in the receiver\'s recirculated key', () => {
    const hv1 = flows(pair, 'hv1.stateful.flows-m.txt');
    const sent = one(hv1, 'the push after conntrack', (f) => f.actions.includes('tnl_push('));
    expect(sent.key).toMatch(/recirc_id\(0x[0-9a-f]+\)/);
    expect(sent.actions).toMatch(/^ct\(commit,/);
    const [push] = tunnelPushes(sent.actions);
    expect(push).toMatchObject({ ...sameSwitch, remoteIp: '192.168.0.2' });

    const hv2 = flows(pair, 'hv2.stateful.flows-m.txt').filter((f) => f.key.includes('tunnel('));
    const first = one(hv2, 'the first pass on hv2', (f) => /recirc_id\(0\)/.test(f.key));
    const last = one(hv2, 'the delivering pass on hv2', (f) => /,vif2$/.test(f.actions));
    expect(first.actions).toMatch(/recirc\(0x[0-9a-f]+\)$/);
    // The recirculated pass keeps the packet's tunnel values (-m) but wildcards the option entirely.
    const m = tunnelMatch(last.key)!;
    expect(m).toMatchObject({ ...sameSwitch, src: '192.168.0.1', dst: '192.168.0.2' });
    expect(m.geneve[0].mask).toBe('0');
    expect(pushReaches(push, tunnelMatch(first.key)!)).toBe(true);
    expect(pushReaches(push, m)).toBe(true);
  });

  // Session selection reads the poller's parsed key (tunnelFieldMatch), the path link the text: one reading.
  it('reads a parsed key\'s tunnel field as the key text, on every captured receiver flow', () => {
    const lines = readdirSync(join(ROOT, pair)).filter((f) => /^hv\d\..*\.txt$/.test(f)).flatMap((f) => flows(pair, f));
    const tunnelled = lines.filter((f) => f.key.includes('tunnel('));
    expect(tunnelled.length).toBeGreaterThan(0);
    for (const f of lines) {
      const { inPort: _inPort, ...fromText } = tunnelMatch(f.key) ?? { inPort: undefined };
      const field = keyField(parseKey(f.key), 'tunnel');
      expect({ key: f.key, m: field && tunnelFieldMatch(field) }).toEqual({ key: f.key, m: field && { ...fromText, inPort: undefined } });
    }
  });

  it('finds no tunnel where there is none (a VM port flow, a tnl_pop flow)', () => {
    const vm = one(flows(pair, 'hv1.flows-m.txt'), 'ICMP to lsp2', (f) => f.key.includes('dst=50:54:00:00:00:02') && f.key.includes('icmp('));
    expect(tunnelMatch(vm.key)).toBeUndefined();
    const pop = flows(pair, 'hv2.flows-m.txt').find((f) => f.actions.startsWith('tnl_pop('))!;
    expect(tunnelPushes(pop.actions)).toEqual([]);
    expect(tunnelMatch(pop.key)).toBeUndefined();
  });
});

describe('tunnel parts: rules beyond the captures', () => {
  it('reads pushes nested in clone() and several pushes in one flow (a flood to two chassis)', () => {
    const push = (ip: string, opt: string) =>
      `tnl_push(tnl_port(genev_sys_6081),header(size=58,type=5,eth(dst=aa:aa:aa:aa:aa:aa,src=bb:bb:bb:bb:bb:bb,dl_type=0x0800),ipv4(src=192.168.0.1,dst=${ip},proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0xffff),geneve(crit,vni=0x5,options({class=0x102,type=0x80,len=4,${opt}}))),out_port(br-phys))`;
    const pushes = tunnelPushes(`clone(${push('192.168.0.2', '0x18000')},br-phys_n1),${push('192.168.0.3', '0x18000')},br-phys_n1`);
    expect(pushes.map((p) => p.remoteIp)).toEqual(['192.168.0.2', '192.168.0.3']);
    // Multicast egress keys are ≥ 0x8000: the egress field is 16 bits, the ingress 15.
    expect(pushes[0].ovn).toEqual({ ingress: 1, egress: 0x8000 });
  });

  it('reads an IPv6 underlay and a VXLAN header (formats of odp-util.c, not captured here)', () => {
    const [v6] = tunnelPushes('tnl_push(tnl_port(genev_sys_6081),header(size=78,type=5,eth(dst=aa:aa:aa:aa:aa:aa,src=bb:bb:bb:bb:bb:bb,dl_type=0x86dd),ipv6(src=fc00::1,dst=fc00::2,label=0,proto=17,tclass=0x0,hlimit=64),udp(src=0,dst=6081,csum=0xffff),geneve(crit,vni=0x3,options({class=0x102,type=0x80,len=4,0x40005}))),out_port(br-phys)),br-phys_n1');
    expect(v6).toMatchObject({ vni: '0x3', remoteIp: 'fc00::2', localIp: 'fc00::1', ovn: { ingress: 4, egress: 5 } });
    const [vx] = tunnelPushes('tnl_push(tnl_port(vxlan_sys_4789),header(size=50,type=4,eth(dst=aa:aa:aa:aa:aa:aa,src=bb:bb:bb:bb:bb:bb,dl_type=0x0800),ipv4(src=192.168.0.1,dst=192.168.0.2,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=4789,csum=0x0),vxlan(flags=0x8000000,vni=0x1c7)),out_port(br-phys))');
    expect(vx).toMatchObject({ kind: 'vxlan', vni: '0x1c7', geneve: [], ovn: undefined });
    const m = tunnelMatch('tunnel(tun_id=0x3,ipv6_src=fc00::1,ipv6_dst=fc00::2,geneve({class=0x102,type=0x80,len=4,0x40005/0x7fffffff}),flags(-df+csum+key))')!;
    expect(pushReaches(v6, m)).toBe(true);
  });

  it('applies the receiver mask: a wildcarded option matches any data, an exact one only its own', () => {
    const [p] = tunnelPushes('set(tunnel(tun_id=0x1,dst=192.168.0.2,ttl=64,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x10002}),flags(df|csum|key))),6081');
    const m = (opt: string) => tunnelMatch(`tunnel(tun_id=0x1,src=192.168.0.1,dst=192.168.0.2,geneve({class=0x102,type=0x80,len=4,${opt}}),flags(-df+csum+key)),in_port(6081)`)!;
    expect(pushReaches(p, m('0x80010002/0x7fffffff'))).toBe(true);
    expect(pushReaches(p, m('0x10003/0x7fffffff'))).toBe(false);
    expect(pushReaches(p, m('0x10002'))).toBe(true);
    expect(pushReaches({ ...p, vni: '0x2' }, m('0x10002'))).toBe(false);
    expect(pushReaches({ ...p, remoteIp: '192.168.0.3' }, m('0x10002'))).toBe(false);
  });

  it('keeps non-OVN options and leaves the port keys undefined without the OVN option', () => {
    const m = tunnelMatch('tunnel(tun_id=0x7,dst=10.0.0.1,geneve({class=0xffff,type=0x1,len=8,0x1122334455667788}))')!;
    expect(m.geneve).toEqual([{ optClass: 0xffff, type: 1, len: 8, data: '0x1122334455667788', mask: undefined }]);
    expect(m.ovn).toBeUndefined();
    expect(ovnKeys([])).toBeUndefined();
  });

  it.each([
    ['a truncated tnl_push', () => tunnelPushes('tnl_push(tnl_port(genev_sys_6081),header(size=58'), /expected '\)' before end/],
    ['a tnl_push without header', () => tunnelPushes('tnl_push(tnl_port(6081)),2'), /without tnl_port or header/],
    ['set(tunnel) with no output', () => tunnelPushes('set(tunnel(tun_id=0x1,dst=192.168.0.2))'), /no output after it/],
    ['a tunnel key without tun_id', () => tunnelMatch('tunnel(src=1.1.1.1,dst=2.2.2.2),in_port(1)'), /without tun_id/],
    ['a bad tun_id', () => tunnelMatch('tunnel(tun_id=zz,dst=2.2.2.2)'), /tun_id 'zz' is not a number/],
    ['a Geneve option without class', () => tunnelMatch('tunnel(tun_id=0x1,geneve({type=0x80,len=4,0x1}))'), /without class, type or len/],
  ])('rejects %s with an OvsParseError naming it', (_what, f, msg) => {
    expect(f).toThrow(OvsParseError);
    expect(f).toThrow(msg);
  });

  // The same keys parsed first (odp-key.ts takes them), as session selection reads them.
  it.each([
    ['a tunnel key without tun_id', 'tunnel(src=1.1.1.1,dst=2.2.2.2),in_port(1)', /without tun_id/],
    ['a bad tun_id', 'tunnel(tun_id=zz,dst=2.2.2.2)', /tun_id 'zz' is not a number/],
    ['a bad tun_id mask', 'tunnel(tun_id=0x1/0xzz,dst=2.2.2.2)', /tun_id mask '0xzz' is not a number/],
    ['a Geneve option without class', 'tunnel(tun_id=0x1,geneve({type=0x80,len=4,0x1}))', /without class, type or len/],
  ])('rejects %s parsed as a key with the same OvsParseError', (_what, key, msg) => {
    const f = () => tunnelFieldMatch(keyField(parseKey(key), 'tunnel')!);
    expect(f).toThrow(OvsParseError);
    expect(f).toThrow(msg);
  });
});
