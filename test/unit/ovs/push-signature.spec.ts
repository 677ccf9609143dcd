// The push signature (datapath_flow.push_sig) of actions captured on a real three-chassis sandbox
// (scripts/capture-multichassis-fixtures: OVS 3.1, 3.5 and 4.0 dummy datapaths, tnl_push with and
// without -m, the kernel form set(tunnel(…))), the expected keys from the same run's southbound
// database (keys.json); and the rule the reverse link's index relies on: every flow with a push that
// reaches an arrival (pushReaches) holds a push signature the arrival's seek finds, on the captures,
// on floods built of captured pushes and on masks the captures do not hold.
import { pushReaches, tunnelMatch, tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { pushSignature, pushSignaturesSought, type PushSignatureSeek } from '../../../src/ovs/push-signature';
import { tunnelSignature } from '../../../src/ovs/tunnel-signature';
import { capturedFlows, MULTICHASSIS_PAIRS, multichassisKeys, type CapturedFlow } from '../../support/captured-multichassis';

const PAIRS = MULTICHASSIS_PAIRS;
type Flow = CapturedFlow;
const flows = (pair: string): Flow[] => capturedFlows(pair);

/** Whether a seek finds this push signature: one of its exact values, or inside one of its prefixes (byte order, as the databases compare). */
const finds = (seek: PushSignatureSeek, sig: string) => seek.exact.includes(sig) || seek.prefixes.some((p) => sig >= p.from && sig < p.below);
/** Whether any push of these actions reaches the arrival of this key: what senderOf asks first. */
const reaches = (actions: string, key: string) => tunnelPushes(actions).some((p) => pushReaches(p, tunnelMatch(key)!));

describe.each(PAIRS)('push signatures of the actions captured on %s', (pair) => {
  const k = multichassisKeys(pair);
  const all = flows(pair);
  const port = (name: string) => k.ports[name].tunnelKey;
  const sameSwitch = `${k.encap.hv2}|${k.datapaths.sw0}|${port('lsp1')}|${port('lsp2')}`;
  const routed = `${k.encap.hv3}|${k.datapaths.sw1}|${port('sw1-lr0')}|${port('lsp3')}`;
  const of = (file: string, pred: (f: Flow) => boolean) => all.filter((f) => f.file === file && pred(f));
  const toLsp2 = (f: Flow) => f.key.includes('dst=50:54:00:00:00:02');
  const toRouter = (f: Flow) => f.key.includes('dst=00:00:00:00:ff:01');

  it.each([
    ['hv1.flows-m.txt', 'tnl_push, with -m'],
    ['hv1.flows.txt', 'tnl_push, without -m'],
    ['hv1.kernel-form.txt', 'set(tunnel(…)), the kernel form'],
  ])('hv1 (%s: %s): lsp1 → lsp2 pushes to hv2 with sw0 and the two ports, the routed packet to hv3 with sw1, sw1-lr0 → lsp3', (file) => {
    const same = of(file, toLsp2);
    const viaRouter = of(file, toRouter);
    expect(same.length).toBeGreaterThan(0);
    expect(viaRouter.length).toBeGreaterThan(0);
    expect(same.map((f) => pushSignature(f.actions))).toEqual(same.map(() => sameSwitch));
    expect(viaRouter.map((f) => pushSignature(f.actions))).toEqual(viaRouter.map(() => routed));
  });

  it('hv1 after ct(commit): the push after the commit, none for the pass that recirculates', () => {
    const file = of('hv1.stateful.flows-m.txt', () => true);
    expect(file.filter((f) => f.actions.includes('tnl_push(')).map((f) => pushSignature(f.actions))).toEqual([sameSwitch]);
    const recirc = file.filter((f) => f.actions.includes('recirc('));
    expect(recirc.length).toBeGreaterThan(0);
    for (const f of recirc) expect(pushSignature(f.actions)).toBeNull();
  });

  it('has none for a flow that pushes nothing: a VM delivery, a tnl_pop, a drop', () => {
    const none = all.filter((f) => !f.actions.includes('tnl_push(') && !f.actions.includes('set(tunnel('));
    expect(none.some((f) => f.actions.startsWith('tnl_pop('))).toBe(true);
    expect(none.some((f) => f.key.includes('tunnel('))).toBe(true);
    for (const f of none) expect(pushSignature(f.actions)).toBeNull();
  });

  it("an arrival's seek finds every captured flow whose push reaches it, and no sender of another switch or chassis", () => {
    const senders = all.filter((f) => pushSignature(f.actions) !== null);
    const arrivals = all.filter((f) => tunnelSignature(f.key, f.recirc) !== null);
    expect(arrivals.length).toBeGreaterThan(0);
    let reached = 0;
    for (const r of arrivals) {
      const seek = pushSignaturesSought(tunnelSignature(r.key, r.recirc))!;
      for (const s of senders) {
        const sig = pushSignature(s.actions)!;
        if (reaches(s.actions, r.key)) {
          reached++;
          expect(finds(seek, sig)).toBe(true);
        }
        // The captures hold no wildcarded VNI: a push into another switch, or to another chassis, is never found.
        const [ip, vni] = sig.split('|');
        if (ip !== tunnelMatch(r.key)!.dst || vni !== BigInt(tunnelMatch(r.key)!.vni).toString()) expect(finds(seek, sig)).toBe(false);
      }
    }
    expect(reached).toBeGreaterThan(0);
  });

  it('a flood of the captured pushes (cloned to hv2 and hv3 alike) keeps the switch and ports, the remote IP as *', () => {
    const push = tunnelPushes(of('hv1.flows-m.txt', toLsp2)[0].actions)[0].text;
    const toHv3 = push.replace(`dst=${k.encap.hv2},`, `dst=${k.encap.hv3},`);
    const flood = `clone(${push},br-phys_n1),${toHv3},br-phys_n1`;
    const [, vni, ingress, egress] = sameSwitch.split('|');
    expect(pushSignature(flood)).toBe(`*|${vni}|${ingress}|${egress}`);
    // Each chassis's arrival of it finds it.
    const arrival = of('hv2.flows-m.txt', (f) => f.recirc === 0 && tunnelSignature(f.key, 0) === sameSwitch)[0];
    expect(finds(pushSignaturesSought(sameSwitch)!, pushSignature(flood)!)).toBe(true);
    expect(reaches(flood, arrival.key)).toBe(true);
    expect(finds(pushSignaturesSought(`${k.encap.hv3}|${vni}|${ingress}|${egress}`)!, pushSignature(flood)!)).toBe(true);
  });
});

describe('push signatures: forms beyond the captures', () => {
  const push = (dst: string, vni: string, opts = ',options({class=0x102,type=0x80,len=4,0x30004})') =>
    `tnl_push(tnl_port(genev_sys_6081),header(size=58,type=5,eth(dst=be:58:1a:17:12:4e,src=c6:b3:54:dd:b7:42,dl_type=0x0800),ipv4(src=10.1.0.1,dst=${dst},proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=6081,csum=0xffff),geneve(crit,vni=${vni}${opts})),out_port(br-phys))`;

  it.each([
    ['one push', `${push('10.1.0.2', '0x5')},br-phys_n1`, '10.1.0.2|5|3|4'],
    ['two pushes to one chassis (the same signature)', `clone(${push('10.1.0.2', '0x5')},1),${push('10.1.0.2', '0x5')},1`, '10.1.0.2|5|3|4'],
    ['pushes into two switches to one chassis', `clone(${push('10.1.0.2', '0x5')},1),${push('10.1.0.2', '0x6')},1`, '10.1.0.2|*|*|*'],
    ['pushes into two switches to two chassis', `clone(${push('10.1.0.2', '0x5')},1),${push('10.1.0.3', '0x6')},1`, '*|*|*|*'],
    ['a push without options', `${push('10.1.0.2', '0x5', '')},1`, '10.1.0.2|5|-|-'],
    ['a push with only a non-OVN option', `${push('10.1.0.2', '0x5', ',options({class=0xffff,type=0x1,len=4,0x1})')},1`, '10.1.0.2|5|-|-'],
    ['the OVN option with empty data (read as 0, as pushReaches does)', 'set(tunnel(tun_id=0x5,dst=10.1.0.2,geneve({class=0x102,type=0x80,len=0}),flags(df|csum|key))),4', '10.1.0.2|5|0|0'],
    ['the kernel form with an IPv6 underlay', 'set(tunnel(tun_id=0x5,ipv6_dst=fc00::2,geneve({class=0x102,type=0x80,len=4,0x30004}),flags(df|csum|key))),4', 'fc00::2|5|3|4'],
    ['a VXLAN push', 'set(tunnel(tun_id=0x7,dst=10.1.0.2,flags(df|key))),4', '10.1.0.2|7|-|-'],
  ])('%s', (_what, actions, sig) => {
    expect(pushSignature(actions)).toBe(sig);
  });

  it.each([
    ['no push', 'set(eth(src=00:00:00:00:ff:02)),2'],
    ['a drop', 'drop'],
    ['a truncated tnl_push', 'tnl_push(tnl_port(genev_sys_6081),header(size=58'],
    ['option data that is no number', 'set(tunnel(tun_id=0x5,dst=10.1.0.2,geneve({class=0x102,type=0x80,len=4,0xzz}),flags(df))),4'],
    ['set(tunnel(…)) with no output after it', 'set(tunnel(tun_id=0x5,dst=10.1.0.2))'],
    ['a tun_id that is no number', 'set(tunnel(tun_id=zz,dst=10.1.0.2)),4'],
  ])('none for %s (never throws)', (_what, actions) => {
    expect(pushSignature(actions)).toBeNull();
  });

  it.each([
    ['an exact receiver: two exact values a remote IP form', '10.1.0.2|5|3|4', { exact: ['10.1.0.2|5|3|4', '10.1.0.2|*|*|*', '*|5|3|4', '*|*|*|*'], prefixes: [] }],
    ['the egress wildcarded', '10.1.0.2|5|3|*', { exact: ['10.1.0.2|*|*|*', '*|*|*|*'], prefixes: [{ from: '10.1.0.2|5|3|', below: '10.1.0.2|5|3}' }, { from: '*|5|3|', below: '*|5|3}' }] }],
    ['the VNI wildcarded', '10.1.0.2|*|3|4', { exact: ['10.1.0.2|*|*|*', '*|*|*|*'], prefixes: [{ from: '10.1.0.2|', below: '10.1.0.2}' }, { from: '*|', below: '*}' }] }],
  ])('the seek for %s', (_what, sig, seek) => {
    expect(pushSignaturesSought(sig)).toEqual(seek);
  });

  it('no seek without a tunnel signature', () => {
    expect(pushSignaturesSought(null)).toBeNull();
  });

  it('finds every flow with a push pushReaches accepts (random ports, masks, floods and switches)', () => {
    // A fixed-seed generator: the same cases every run.
    let seed = 19;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed);
    // Few distinct values, so that pushes and arrivals often agree.
    const ports = () => (((rnd() % 3) << 16) | (rnd() % 3)) >>> 0;
    const ip = () => `10.1.0.${2 + (rnd() % 2)}`;
    const vni = () => 5 + (rnd() % 2);
    const onePush = () => `set(tunnel(tun_id=0x${vni().toString(16)},dst=${ip()},geneve({class=0x102,type=0x80,len=4,0x${ports().toString(16)}}),flags(df|csum|key))),4`;
    let reached = 0;
    let exactSingle = 0;
    for (let i = 0; i < 3000; i++) {
      const masks = [0x7fffffff, 0x7fff0000, 0xffff, 0, rnd() & 0x7fffffff, 0x7fff8000];
      const tunId = rnd() % 5 ? `0x${vni().toString(16)}` : `0x${vni().toString(16)}/0xfe`;
      const arrival = `tunnel(tun_id=${tunId},src=10.1.0.1,dst=${ip()},geneve({class=0x102,type=0x80,len=4,0x${ports().toString(16)}/0x${masks[rnd() % masks.length].toString(16)}}),flags(-df+csum+key)),recirc_id(0),in_port(6081),eth_type(0x0800)`;
      // One to three pushes, nested in clone() as a flood prints them.
      const n = 1 + (rnd() % 3);
      const pushes = Array.from({ length: n }, onePush);
      const actions = pushes.slice(0, -1).map((p) => `clone(${p})`).concat(pushes[pushes.length - 1]).join(',');
      const sig = tunnelSignature(arrival, 0)!;
      const found = finds(pushSignaturesSought(sig)!, pushSignature(actions)!);
      if (reaches(actions, arrival)) {
        reached++;
        expect(found).toBe(true);
      }
      // The seek narrows: an arrival that matches the whole tunnel exactly finds one push exactly when it reaches it.
      if (n === 1 && !sig.includes('*')) {
        exactSingle++;
        expect(found).toBe(reaches(actions, arrival));
      }
    }
    expect(reached).toBeGreaterThan(300);
    expect(exactSingle).toBeGreaterThan(100);
  });
});
