// VXLAN on a non-default dst_port in the kernel datapath's form, captured on real daemons
// (scripts/capture-multichassis-fixtures vxlan-port: every southbound Encap options:dst_port=4790,
// tnl_push_pop off on hv1). With -m the push names its port `vxlan_sys_4790`; without -m, and in every
// ofproto/trace, only by number, and `tp_dst=4790` is no default port either: the push read as 'other'
// and OVN's keys were not decoded. The userspace datapath numbers the port by its dst_port (4790); the
// kernel numbers vports in order (lib/dpif-netlink.c) and names this one vxlan_sys_4790
// (lib/netdev-vport.c netdev_vport_get_dpif_port). No kernel datapath runs here: the kernel's numbering
// is the captured line with its port renumbered.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDpifShow } from '../../../src/ovs/dpif-show';
import { dpifMaps } from '../../../src/correlation/verdict';
import { ovnTunnelKeys, tunnelPushes, type PortTypeOf } from '../../../src/ovs/odp-tunnel';
import { capturedFlows, MULTICHASSIS_ROOT, multichassisKeysOf, VXLAN_PAIRS } from '../../support/captured-multichassis';

const PAIRS = VXLAN_PAIRS.filter((p) => {
  try {
    multichassisKeysOf(p, 'vxlan4790.keys.json');
    return true;
  } catch {
    return false;
  }
});

describe.each(PAIRS)('VXLAN on dst_port 4790, kernel form (%s)', (pair) => {
  const k = multichassisKeysOf(pair, 'vxlan4790.keys.json');
  const toLsp2 = { datapath: k.datapaths.sw0, ingress: null, egress: k.ports.lsp2.tunnelKey };
  const flows = capturedFlows(pair, 'hv1.vxlan4790-kernel-form.txt').filter((f) => f.actions.includes('set(tunnel('));
  const numbered = flows.filter((f) => /\),\d+$/.test(f.actions));
  const trace = readFileSync(join(MULTICHASSIS_ROOT, pair, 'hv1.vxlan4790-trace.txt'), 'utf8');
  const traced = /^Datapath actions: (.*)$/m.exec(trace)![1];
  const maps = dpifMaps(parseDpifShow(readFileSync(join(MULTICHASSIS_ROOT, pair, 'hv1.vxlan4790-dpif-show.txt'), 'utf8')).datapaths[0])!;
  const byDpif: PortTypeOf = (port) => (/^\d+$/.test(port) ? maps.types.get(maps.names.get(Number(port)) ?? '') : maps.types.get(port));

  it('the capture holds the three pushes with -m and without, and the trace', () => {
    expect(flows).toHaveLength(6);
    expect(numbered).toHaveLength(3);
    for (const f of numbered) expect(f.actions).toMatch(/tp_dst=4790,.*\),4790$/);
    expect(traced).toMatch(/tp_dst=4790,.*\),4790$/);
  });

  it('reads every push as VXLAN and decodes its keys: -m, without -m, the trace', () => {
    for (const a of [...flows.map((f) => f.actions), traced]) {
      for (const p of tunnelPushes(a)) {
        expect(p.kind).toBe('vxlan');
        expect(ovnTunnelKeys(p)?.datapath).toBeGreaterThan(0);
      }
    }
    const [p] = tunnelPushes(traced);
    expect(ovnTunnelKeys(p)).toEqual(toLsp2);
  });

  it("the datapath's own port type decides when the caller knows it (dpif/show)", () => {
    const [p] = tunnelPushes(traced, byDpif);
    expect(p.kind).toBe('vxlan');
    expect(ovnTunnelKeys(p)).toEqual(toLsp2);
  });

  it('as the kernel numbers the vport (its number is no dst_port): VXLAN still, keys decoded', () => {
    const kernel = traced.replace(/\),4790$/, '),4');
    const [p] = tunnelPushes(kernel);
    expect(p.kind).toBe('vxlan');
    expect(ovnTunnelKeys(p)).toEqual(toLsp2);
    // The kernel's dpif/show: ovn-hv2-0 on datapath port 4, type vxlan.
    const [q] = tunnelPushes(kernel, (port) => (port === '4' ? 'vxlan' : undefined));
    expect(q.kind).toBe('vxlan');
  });
});

describe('a non-default port the line cannot place', () => {
  it('an STT tun_id (ingress at bit 40) on a non-default port stays STT', () => {
    const [p] = tunnelPushes('set(tunnel(tun_id=0x30002000001,dst=192.168.0.2,ttl=64,tp_dst=7000,flags(df|key))),5');
    expect(p.kind).toBe('stt');
    expect(ovnTunnelKeys(p)).toEqual({ datapath: 1, ingress: 3, egress: 2 });
  });

  it("the dpif/show type wins over the line's own fields", () => {
    const [p] = tunnelPushes('set(tunnel(tun_id=0x1001,dst=192.168.0.2,ttl=64,tp_dst=4790,flags(df|csum|key))),5', () => 'geneve');
    expect(p.kind).toBe('geneve');
  });
});

describe.each(PAIRS)("a kernel Geneve push names itself: a stale dpif/show's port type does not override it (%s)", (pair) => {
  // hv1's Geneve pushes in the kernel form (set(tunnel(…,geneve({class=0x102,…}),…)),6081): the option
  // list is the encapsulation's own field. A dpif/show read before the port was re-created as Geneve
  // (or another moment's) still says vxlan for that port.
  const pushes = capturedFlows(pair, 'hv1.kernel-form.txt')
    .map((f) => f.actions)
    .filter((a) => /set\(tunnel\([^)]*geneve\(/.test(a));
  const staleVxlan: PortTypeOf = () => 'vxlan';

  it('the capture holds kernel Geneve pushes', () => {
    expect(pushes.length).toBeGreaterThan(0);
  });

  it('each reads Geneve, its OVN keys from the option, whatever the port type says', () => {
    for (const a of pushes) {
      const [own] = tunnelPushes(a);
      for (const p of tunnelPushes(a, staleVxlan)) {
        expect([p.kind, ovnTunnelKeys(p)]).toEqual(['geneve', ovnTunnelKeys(own)]);
        expect(p.ovn).not.toBeNull();
      }
    }
  });
});
