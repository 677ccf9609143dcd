// The tunnel signature (datapath_flow.tunnel_sig) of keys captured on a real three-chassis sandbox
// (scripts/capture-multichassis-fixtures: OVS 3.1, 3.5 and 4.0 dummy datapaths, with and without
// -m), the expected keys from the same run's southbound database (keys.json); and the rule the
// index relies on: every arrival a push reaches (pushReaches) carries one of the push's eight
// signatures, on the captures and on masks the captures do not hold.
import { pushReaches, tunnelMatch, tunnelPushes, type TunnelPush } from '../../../src/ovs/odp-tunnel';
import { signaturesReaching, tunnelSignature } from '../../../src/ovs/tunnel-signature';
import { capturedFlows, MULTICHASSIS_PAIRS, multichassisKeys, type CapturedFlow } from '../../support/captured-multichassis';

const PAIRS = MULTICHASSIS_PAIRS;
type Flow = CapturedFlow;
const flows = (pair: string): Flow[] => capturedFlows(pair);

const pushesIn = (fs: Flow[]): TunnelPush[] => fs.flatMap((f) => tunnelPushes(f.actions));

describe.each(PAIRS)('tunnel signatures of the keys captured on %s', (pair) => {
  const k = multichassisKeys(pair);
  const all = flows(pair);
  const port = (name: string) => k.ports[name].tunnelKey;
  const sameSwitch = `${k.encap.hv2}|${k.datapaths.sw0}|${port('lsp1')}|${port('lsp2')}`;
  const routed = `${k.encap.hv3}|${k.datapaths.sw1}|${port('sw1-lr0')}|${port('lsp3')}`;
  const arrivals = (file: string) => all.filter((f) => f.file === file && f.recirc === 0 && f.key.includes('tunnel('));

  it('captured what the table needs (arrivals on hv2 and hv3, both printings, pushes of both forms)', () => {
    for (const file of ['hv2.flows-m.txt', 'hv2.flows.txt', 'hv3.flows-m.txt', 'hv3.flows.txt']) expect(arrivals(file).length).toBeGreaterThan(0);
    expect(pushesIn(all).map((p) => p.form)).toEqual(expect.arrayContaining(['tnl_push', 'set_tunnel']));
  });

  it.each([
    ['hv2.flows-m.txt', 'switched on hv1, with -m'],
    ['hv2.flows.txt', 'switched on hv1, without -m'],
    ['hv2.stateful.flows-m.txt', 'after ct(commit) on hv1'],
  ])("hv2's first passes from a tunnel (%s: %s) carry sw0's key and lsp1 → lsp2, or are wildcarded where the megaflow is", (file) => {
    const sigs = arrivals(file).map((f) => tunnelSignature(f.key, f.recirc));
    expect(sigs.length).toBeGreaterThan(0);
    for (const sig of sigs) expect([sameSwitch, `${k.encap.hv2}|${k.datapaths.sw0}|*|*`]).toContain(sig);
    expect(sigs).toContain(sameSwitch);
  });

  it.each(['hv3.flows-m.txt', 'hv3.flows.txt'])("hv3's first pass from a tunnel (%s) carries sw1's key and the router port → lsp3", (file) => {
    expect(arrivals(file).map((f) => tunnelSignature(f.key, f.recirc))).toEqual(arrivals(file).map(() => routed));
  });

  it('has none for a flow from a VM port, a tnl_pop flow or a recirculated pass that still holds the tunnel', () => {
    const none = all.filter((f) => !f.key.includes('tunnel(') || f.recirc !== 0);
    expect(none.some((f) => f.key.includes('tunnel(') && f.recirc !== 0)).toBe(true);
    expect(none.some((f) => f.actions.startsWith('tnl_pop('))).toBe(true);
    for (const f of none) expect(tunnelSignature(f.key, f.recirc)).toBeNull();
  });

  it("a push's eight signatures hold that of every arrival it reaches, and those of no arrival on another switch or chassis", () => {
    const pushes = pushesIn(all);
    const received = all.filter((f) => f.recirc === 0 && f.key.includes('tunnel('));
    let reached = 0;
    for (const push of pushes)
      for (const f of received) {
        const sig = tunnelSignature(f.key, 0)!;
        const reaches = pushReaches(push, tunnelMatch(f.key)!);
        if (reaches) reached++;
        if (reaches) expect(signaturesReaching(push)).toContain(sig);
        // The captures hold no wildcarded VNI: another switch's or chassis's arrival is never sought.
        if (sig.split('|')[1] !== BigInt(push.vni).toString() || !sig.startsWith(`${push.remoteIp}|`)) expect(signaturesReaching(push)).not.toContain(sig);
      }
    expect(reached).toBeGreaterThan(0);
  });
});

describe('tunnel signatures: masks and forms beyond the captures', () => {
  const key = (tunnel: string, recirc = 0) => `${tunnel},recirc_id(${recirc}),in_port(6081),eth_type(0x0800)`;
  const geneve = (opt: string) => key(`tunnel(tun_id=0x5,src=10.1.0.1,dst=10.1.0.2,geneve({class=0x102,type=0x80,len=4,${opt}}),flags(-df+csum+key))`);

  it.each([
    ['an exact option', geneve('0x30004'), '10.1.0.2|5|3|4'],
    ['the option under the full port mask', geneve('0x30004/0x7fffffff'), '10.1.0.2|5|3|4'],
    ['the egress port wildcarded', geneve('0x30004/0x7fff0000'), '10.1.0.2|5|3|*'],
    ['the ingress port wildcarded', geneve('0x30004/0xffff'), '10.1.0.2|5|*|4'],
    ['only the multicast bit of the egress port', geneve('0x38000/0x7fff8000'), '10.1.0.2|5|3|*'],
    ['part of the ingress port', geneve('0x30004/0x7f00ffff'), '10.1.0.2|5|*|4'],
    ['the whole option wildcarded', geneve('0x30004/0'), '10.1.0.2|5|*|*'],
    ['a masked tun_id', key('tunnel(tun_id=0x5/0xff,src=10.1.0.1,dst=10.1.0.2,geneve({class=0x102,type=0x80,len=4,0x30004}))'), '10.1.0.2|*|3|4'],
    ['a VXLAN tunnel (no option)', key('tunnel(tun_id=0x5,src=10.1.0.1,dst=10.1.0.2,flags(-df-csum+key))'), '10.1.0.2|5|*|*'],
    ['only a non-OVN option', key('tunnel(tun_id=0x5,dst=10.1.0.2,geneve({class=0xffff,type=0x1,len=4,0x1}))'), '10.1.0.2|5|*|*'],
    ['an IPv6 underlay', key('tunnel(tun_id=0x5,ipv6_src=fc00::1,ipv6_dst=fc00::2,geneve({class=0x102,type=0x80,len=4,0x30004/0x7fffffff}))'), 'fc00::2|5|3|4'],
  ])('%s', (_what, k, sig) => {
    expect(tunnelSignature(k, 0)).toBe(sig);
  });

  it.each([
    ['a recirculated pass', key('tunnel(tun_id=0x5,dst=10.1.0.2)', 1), 1],
    ['a tunnel without dst', key('tunnel(tun_id=0x5,src=10.1.0.1)'), 0],
    ['a tunnel key the parser refuses', key('tunnel(tun_id=zz,dst=10.1.0.2)'), 0],
    ['option data that is no number', key('tunnel(tun_id=0x5,dst=10.1.0.2,geneve({class=0x102,type=0x80,len=4,0xzz}))'), 0],
    ['an option mask that is no number', key('tunnel(tun_id=0x5,dst=10.1.0.2,geneve({class=0x102,type=0x80,len=4,0x1/zz}))'), 0],
    ['no tunnel at all', 'recirc_id(0),in_port(2),eth_type(0x0800)', 0],
  ])('none for %s', (_what, k, recirc) => {
    expect(tunnelSignature(k, recirc)).toBeNull();
  });

  it('reaches every masked arrival pushReaches accepts (random option data and masks)', () => {
    // A fixed-seed generator: the same cases every run.
    let seed = 19;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed);
    const push = (data: number): TunnelPush => tunnelPushes(`set(tunnel(tun_id=0x5,dst=10.1.0.2,geneve({class=0x102,type=0x80,len=4,0x${data.toString(16)}}),flags(df|csum|key))),4`)[0];
    let reached = 0;
    for (let i = 0; i < 2000; i++) {
      // Few distinct ports, so that pushes and arrivals often agree.
      const ports = () => (((rnd() % 3) << 16) | (rnd() % 3)) >>> 0;
      const masks = [0x7fffffff, 0x7fff0000, 0xffff, 0, rnd() & 0x7fffffff, 0x7fff8000];
      const arrival = geneve(`0x${ports().toString(16)}/0x${masks[rnd() % masks.length].toString(16)}`);
      const p = push(ports());
      if (!pushReaches(p, tunnelMatch(arrival)!)) continue;
      reached++;
      expect(signaturesReaching(p)).toContain(tunnelSignature(arrival, 0));
    }
    expect(reached).toBeGreaterThan(300);
  });

  it('gives eight signatures for a push without the OVN option too (one statement text)', () => {
    const [p] = tunnelPushes('set(tunnel(tun_id=0x5,dst=10.1.0.2,flags(df|key))),4');
    expect(signaturesReaching(p)).toEqual(['10.1.0.2|5|*|*', '10.1.0.2|5|*|*', '10.1.0.2|5|*|*', '10.1.0.2|5|*|*', '10.1.0.2|*|*|*', '10.1.0.2|*|*|*', '10.1.0.2|*|*|*', '10.1.0.2|*|*|*']);
  });
});
