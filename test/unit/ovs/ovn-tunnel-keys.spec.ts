// OVN's logical keys read back from a tunnel push (ovnTunnelKeys), on lines captured from real daemons
// (scripts/capture-multichassis-fixtures: the Geneve run with keys.json, the VXLAN run with its own
// vxlan.keys.json). Expected keys come from the southbound of the same run, never from the lines.
// VXLAN's VNI is the datapath key | the egress port key << 12 (a multicast group's as 2048 | key & 2047);
// it carries no ingress port.
import { ovnTunnelKeys, tunnelPushes, type TunnelPush } from '../../../src/ovs/odp-tunnel';
import { capturedFlows, multichassisKeysOf, MULTICHASSIS_PAIRS, VXLAN_PAIRS } from '../../support/captured-multichassis';

const pushesIn = (pair: string, file: string, pred: (key: string) => boolean): TunnelPush[] =>
  capturedFlows(pair, file).filter((f) => pred(f.key)).flatMap((f) => tunnelPushes(f.actions));
const toLsp2 = (key: string) => key.includes('dst=50:54:00:00:00:02') && key.includes('icmp(');
const routed = (key: string) => key.includes('dst=00:00:00:00:ff:01');
const broadcast = (key: string) => key.includes('dst=ff:ff:ff:ff:ff:ff');

describe.each(VXLAN_PAIRS)('VXLAN pushes captured on %s', (pair) => {
  const k = multichassisKeysOf(pair, 'vxlan.keys.json');
  const port = (name: string) => k.ports[name].tunnelKey;
  const sameSwitch = { datapath: k.datapaths.sw0, ingress: null, egress: port('lsp2') };
  const routedKeys = { datapath: k.datapaths.sw1, ingress: null, egress: port('lsp3') };
  const floodGroups = Object.values(k.multicastGroups.sw0);

  it.each([
    ['userspace tnl_push (-m)', 'hv1.vxlan-m.txt'],
    ['kernel set(tunnel(…)), -m and without', 'hv1.vxlan-kernel-form.txt'],
  ])('decodes the datapath and egress port of the %s, and no ingress', (_what, file) => {
    const same = pushesIn(pair, file, toLsp2);
    expect(same.length).toBeGreaterThan(0);
    for (const p of same) {
      expect(p.kind).toBe('vxlan');
      expect(ovnTunnelKeys(p)).toEqual(sameSwitch);
      // The raw VNI stays as sent: not the datapath key.
      expect(Number(p.vni)).not.toBe(k.datapaths.sw0);
    }
    const r = pushesIn(pair, file, routed);
    expect(r.length).toBeGreaterThan(0);
    for (const p of r) expect(ovnTunnelKeys(p)).toEqual(routedKeys);
  });

  it('decodes a flood to a multicast group of sw0 (egress ≥ 32768), userspace and kernel form', () => {
    const flood = [...pushesIn(pair, 'hv1.vxlan-m.txt', broadcast), ...pushesIn(pair, 'hv1.vxlan-kernel-form.txt', broadcast)];
    expect(flood.length).toBeGreaterThan(0);
    for (const p of flood) {
      const keys = ovnTunnelKeys(p)!;
      expect(keys).toMatchObject({ datapath: k.datapaths.sw0, ingress: null });
      expect(floodGroups).toContain(keys.egress);
      expect(keys.egress).toBeGreaterThanOrEqual(32768);
    }
    // OVN 23.03 floods sw0's broadcast as its _MC_flood group.
    if (k.versions.includes('ovn=23.03')) expect(flood.map((p) => ovnTunnelKeys(p)!.egress)).toEqual(flood.map(() => k.multicastGroups.sw0._MC_flood));
  });
});

describe.each(MULTICHASSIS_PAIRS)('Geneve pushes captured on %s', (pair) => {
  const k = multichassisKeysOf(pair, 'keys.json');
  const port = (name: string) => k.ports[name].tunnelKey;

  it('reads the VNI as the datapath and the OVN option as ingress/egress, userspace and kernel form alike', () => {
    for (const file of ['hv1.flows-m.txt', 'hv1.kernel-form.txt']) {
      const [p] = pushesIn(pair, file, toLsp2);
      expect(p.kind).toBe('geneve');
      expect(ovnTunnelKeys(p)).toEqual({ datapath: k.datapaths.sw0, ingress: port('lsp1'), egress: port('lsp2') });
      const [r] = pushesIn(pair, file, routed);
      expect(ovnTunnelKeys(r)).toEqual({ datapath: k.datapaths.sw1, ingress: port('sw1-lr0'), egress: port('lsp3') });
    }
  });
});

// No daemon here has STT (no kernel module in current OVS) or a VTEP gateway: these lines are built from
// OVN's put_encapsulation (controller/physical.c) in the kernel form the captured lines show.
describe('tunnels no daemon here produces (built lines)', () => {
  it('decodes an STT tun_id: datapath | egress << 24 | ingress << 40', () => {
    const [p] = tunnelPushes('set(tunnel(tun_id=0x30002000001,dst=192.168.0.2,ttl=64,tp_dst=7471,flags(df|key))),7471');
    expect(p.kind).toBe('stt');
    expect(ovnTunnelKeys(p)).toEqual({ datapath: 1, ingress: 3, egress: 2 });
  });

  it("leaves the egress unknown for a VXLAN ramp switch's VNI (the datapath key alone), named by the port with -m", () => {
    const [p] = tunnelPushes('set(tunnel(tun_id=0x5,dst=192.168.0.9,ttl=64,flags(df|key))),vxlan_sys_4789');
    expect(p.kind).toBe('vxlan');
    expect(ovnTunnelKeys(p)).toEqual({ datapath: 5, ingress: null, egress: null });
  });

  it('decodes nothing for a tunnel whose kind the line does not show', () => {
    const [p] = tunnelPushes('set(tunnel(tun_id=0x1002,dst=192.168.0.9,ttl=64,flags(df|key))),7');
    expect(p.kind).toBe('other');
    expect(ovnTunnelKeys(p)).toBeNull();
  });
});
