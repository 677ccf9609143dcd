// OVN >= 25.03 floods an ARP reply reaching a transit router to every chassis of another availability zone
// (`flood_remote`), and over VXLAN that push's VNI carries the logical INGRESS port in bits 12..23
// (controller/physical.c put_remote_chassis_flood_encap), where every other push carries the egress.
// Captured on real daemons (scripts/capture-multichassis-fixtures flood-remote): hv1 and hv2 marked is-remote,
// lr0-az2 requested on hv2 (a transit router), lsp1's ARP reply to lr0 flooded to hv2. The pass's target named
// lr0-sw0, the router port the packet came in by on hv1, as the remote logical port the tunnel went to.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { passVerdict } from '../../../src/correlation/verdict';
import { parseActions } from '../../../src/ovs/odp-actions';
import { tunnelMatch, tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { capturedFlows, MULTICHASSIS_PAIRS, MULTICHASSIS_ROOT, multichassisKeysOf, multichassisModel, receiverZoneKeys } from '../../support/captured-multichassis';

const PAIRS = MULTICHASSIS_PAIRS.filter((p) => existsSync(join(MULTICHASSIS_ROOT, p, 'flood-remote.keys.json')));

describe.each(PAIRS)('a VXLAN flood to another availability zone (%s)', (pair) => {
  const k = multichassisKeysOf(pair, 'flood-remote.keys.json');
  const model = multichassisModel(k);
  const port = (name: string) => k.ports[name].tunnelKey;
  const [sent] = capturedFlows(pair, 'hv1.flood-remote-m.txt').filter((f) => f.key.includes('eth_type(0x0806)') && f.actions.includes('tnl_push('));
  const verdict = (actions: string) =>
    passVerdict({ datapathActions: actions, parsed: parseActions(actions), parseError: null, translationFailed: null, steps: [], lastOutport: null }, model);

  it('the capture: the VNI is lr0 | lr0-sw0 (the ingress) << 12, sent to hv2, which takes it by its remote-flood flow', () => {
    const [p] = tunnelPushes(sent.actions);
    expect(p).toMatchObject({ kind: 'vxlan', remoteIp: k.encap.hv2 });
    expect(Number(p.vni)).toBe(k.datapaths.lr0 | (port('lr0-sw0') << 12));
    expect(k.chassis).toMatchObject({ hv1: { isRemote: true }, hv2: { isRemote: true } });
    expect(readFileSync(join(MULTICHASSIS_ROOT, pair, 'hv2.flood-remote-trace.txt'), 'utf8')).toMatch(/^ 0\. arp,in_port=\d+,arp_op=2, priority 120, cookie /m);
  });

  it('decodes the ingress port and no egress', () => {
    const [p] = tunnelPushes(sent.actions);
    expect(model.tunnelKeys(p)).toEqual({ datapath: k.datapaths.lr0, ingress: port('lr0-sw0'), egress: null });
  });

  it("the pass's target names lr0 and no remote port; lr0-sw0 is no tunnel_out port", () => {
    const r = verdict(sent.actions);
    expect(r.verdict.tunnels).toEqual([{ chassis: 'hv2', remoteIp: k.encap.hv2, tunnelId: expect.stringMatching(/^0x/), datapath: 'lr0', outport: null }]);
    expect(r.ports.filter((x) => x.role === 'tunnel_out')).toEqual([]);
  });

  // Built from the captured push, its VNI changed as put_encapsulation would write it.
  it('a push to the port bound in that zone (lr0-az2 on hv2) keeps its egress; the same VNI to hv3 (this zone) too', () => {
    const [p] = tunnelPushes(sent.actions);
    const toAz2 = { ...p, vni: `0x${(k.datapaths.lr0 | (port('lr0-az2') << 12)).toString(16)}` };
    expect(model.tunnelKeys(toAz2)).toEqual({ datapath: k.datapaths.lr0, ingress: null, egress: port('lr0-az2') });
    expect(model.tunnelKeys({ ...p, remoteIp: k.encap.hv3 })).toEqual({ datapath: k.datapaths.lr0, ingress: null, egress: port('lr0-sw0') });
  });
});

// In a real interconnection each availability zone has its own southbound: in the sender's, the receiving gateway
// is-remote (ovn-ic registers it); in the receiver's, the receiver is a local chassis and the SENDER is-remote. OVN's
// receiver takes the flood by a table-0 flow per tunnel to a chassis that its own southbound marks is-remote
// (controller/physical.c physical_eval_remote_chassis_flows). The capture's one southbound marked both, so the
// model read the push by the receiver's flag alone; in hv2's zone that reading made lr0-sw0 an egress.
// The receiver's zone here is built from the captured southbound as ovn-ic would write it (receiverZoneKeys): no
// two-zone capture with ovn-ic on this machine.
describe.each(PAIRS)("the same flood read in the receiving zone's southbound (%s)", (pair) => {
  const k = multichassisKeysOf(pair, 'flood-remote.keys.json');
  const port = (name: string) => k.ports[name].tunnelKey;
  const [sent] = capturedFlows(pair, 'hv1.flood-remote-m.txt').filter((f) => f.key.includes('eth_type(0x0806)') && f.actions.includes('tnl_push('));
  const [arrived] = capturedFlows(pair, 'hv2.flood-remote-m.txt').filter((f) => f.key.includes('tunnel(') && f.key.includes('eth_type(0x0806)'));
  const flood = { datapath: k.datapaths.lr0, ingress: port('lr0-sw0'), egress: null };

  describe.each(['absent', 'transit'] as const)('lr0-sw0 %s there', (ingressPort) => {
    const model = multichassisModel(receiverZoneKeys(k, ingressPort));

    it("hv2's arrival (tun_src hv1, is-remote here; tun_dst hv2, local) carries the ingress lr0-sw0 and no egress", () => {
      const m = tunnelMatch(arrived.key)!;
      expect([m.src, m.dst]).toEqual([k.encap.hv1, k.encap.hv2]);
      expect(model.tunnelKeys({ kind: 'vxlan', vni: m.vni, geneve: [], remoteIp: m.dst!, localIp: m.src })).toEqual(flood);
    });

    it("hv1's push, by its header's source or (kernel form: no source) by the chassis that sent it", () => {
      const [p] = tunnelPushes(sent.actions);
      expect(model.tunnelKeys(p)).toEqual(flood);
      expect(model.tunnelKeys({ ...p, localIp: undefined }, 'hv1')).toEqual(flood);
    });

    it("the pass's target names lr0 and no remote port", () => {
      const r = passVerdict({ datapathActions: sent.actions, parsed: parseActions(sent.actions), parseError: null, translationFailed: null, steps: [], lastOutport: null, chassis: 'hv1' }, model);
      expect(r.verdict.tunnels).toEqual([{ chassis: 'hv2', remoteIp: k.encap.hv2, tunnelId: expect.stringMatching(/^0x/), datapath: 'lr0', outport: null }]);
    });

    // Built from the captured push, its VNI changed as put_encapsulation would write a unicast to lr0-az2.
    it('a push from hv1 to this zone\'s own port (lr0-az2) keeps its egress', () => {
      const [p] = tunnelPushes(sent.actions);
      const toAz2 = { ...p, vni: `0x${(k.datapaths.lr0 | (port('lr0-az2') << 12)).toString(16)}` };
      expect(model.tunnelKeys(toAz2)).toEqual({ datapath: k.datapaths.lr0, ingress: null, egress: port('lr0-az2') });
    });

    it('a push whose sender this southbound cannot name (no source, no chassis given) reads no port: egress or ingress is unknown', () => {
      const [p] = tunnelPushes(sent.actions);
      expect(model.tunnelKeys({ ...p, localIp: undefined })).toEqual({ datapath: k.datapaths.lr0, ingress: null, egress: null });
      // hv3 has no Chassis row in hv2's zone: unknown, not this zone's.
      expect(model.tunnelKeys({ ...p, localIp: k.encap.hv3 })).toEqual({ datapath: k.datapaths.lr0, ingress: null, egress: null });
    });
  });
});
