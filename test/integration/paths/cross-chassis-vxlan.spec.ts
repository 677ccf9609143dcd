// GET /paths/:id across chassis with OVN's VXLAN encapsulation, over the lines of the captured VXLAN run
// (debian12 hvK.vxlan-m.txt, vxlan.keys.json): the VNI is sw0's key | lsp2's key << 12, so the hop keeps
// that VNI as sent and names the egress port key decoded from it; VXLAN carries no ingress port.
import 'reflect-metadata';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathsService } from '../../../src/paths/paths.service';
import { multichassisKeysOf, multichassisModel, oneCapturedFlow, receiverZoneKeys, type CapturedFlow } from '../../support/captured-multichassis';
import { allStored, oneChassis, storePass, usePathStores } from '../../support/cross-chassis';

const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2', hv3: '192.168.0.3' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const one = (file: string, pred: (f: CapturedFlow) => boolean): CapturedFlow => oneCapturedFlow('debian12', file, pred);

describe('a path across chassis over VXLAN (GET /paths/:id)', () => {
  const s = usePathStores('livetrace-cross-chassis-vxlan-');
  const keys = multichassisKeysOf('debian12', 'vxlan.keys.json');

  const pass = (chassis: string, f: CapturedFlow, at: number, verdict: Record<string, unknown>) => storePass(s.db, chassis, f, at, verdict);

  it('links the ping to lsp2 on hv2; the hop keeps the VNI as sent and decodes the egress port (lsp2), no ingress', async () => {
    const sent = pass('hv1', one('hv1.vxlan-m.txt', (f) => f.key.includes('dst=50:54:00:00:00:02') && f.actions.includes('tnl_push(')), T0,
      { kinds: ['tunnel'], tunnels: [{ chassis: 'hv2', remoteIp: ENCAP.hv2 }] });
    const recv = pass('hv2', one('hv2.vxlan-m.txt', (f) => f.key.includes('dst=50:54:00:00:00:02') && f.actions === 'vif2'), T0 + 3,
      { kinds: ['output'], logicalPorts: ['lsp2'] });
    allStored(s.db, ['hv1', 'hv2']);
    const p = await new PathsService(new PathBuilder(s.store), s.traces, oneChassis(s.store, {}, ENCAP)).get(sent.path, false);
    expect(p.passes.map((x) => [x.chassis, x.id])).toEqual([['hv1', sent.trace], ['hv2', recv.trace]]);
    expect((p.verdict as unknown as { tunnels: unknown[] }).tunnels).toEqual([{
      fromChassis: 'hv1', fromTraceId: sent.trace, remoteIp: '192.168.0.2', remoteChassis: 'hv2', encap: 'vxlan',
      vni: keys.datapaths.sw0 | (keys.ports.lsp2.tunnelKey << 12), ingressKey: null, egressKey: keys.ports.lsp2.tunnelKey, toTraceId: recv.trace,
    }]);
  });
});

// OVN >= 25.03's flood of an ARP reply from a transit router to another availability zone's chassis
// (capture-multichassis-fixtures flood-remote): over VXLAN its VNI carries lr0 | the INGRESS port (lr0-sw0) << 12.
// The hop named lr0-sw0 as its egress; through the southbound (hv2 is-remote, lr0-sw0 bound to no chassis there)
// it names it as the ingress, no egress. hv2 took it by its table-0 flow for ARP replies from a remote chassis.
describe.each(['debian13', 'unstable'])('a VXLAN flood to another availability zone across chassis (%s)', (pair) => {
  const s = usePathStores(`livetrace-flood-remote-${pair}-`);
  const keys = multichassisKeysOf(pair, 'flood-remote.keys.json');
  const arp = (file: string, pred: (f: CapturedFlow) => boolean) => oneCapturedFlow(pair, file, (f) => f.key.includes('eth_type(0x0806)') && pred(f));

  it("links hv1's push to hv2's arrival; the hop names lr0-sw0 as the ingress and no egress", async () => {
    const sent = storePass(s.db, 'hv1', arp('hv1.flood-remote-m.txt', (f) => f.actions.includes('tnl_push(')), T0, { kinds: ['tunnel'], tunnels: [{ chassis: 'hv2', remoteIp: keys.encap.hv2 }] });
    const recv = storePass(s.db, 'hv2', arp('hv2.flood-remote-m.txt', (f) => f.key.includes('tunnel(')), T0 + 3, { kinds: ['drop'] });
    allStored(s.db, ['hv1', 'hv2']);
    const cross = oneChassis(s.store, {}, keys.encap, undefined, multichassisModel(keys));
    const p = await new PathsService(new PathBuilder(s.store), s.traces, cross).get(sent.path, false);
    expect(p.passes.map((x) => [x.chassis, x.id])).toEqual([['hv1', sent.trace], ['hv2', recv.trace]]);
    expect((p.verdict as unknown as { tunnels: unknown[] }).tunnels).toEqual([{
      fromChassis: 'hv1', fromTraceId: sent.trace, remoteIp: keys.encap.hv2, remoteChassis: 'hv2', encap: 'vxlan',
      vni: keys.datapaths.lr0 | (keys.ports['lr0-sw0'].tunnelKey << 12), ingressKey: keys.ports['lr0-sw0'].tunnelKey, egressKey: null, toTraceId: recv.trace,
    }]);
  });

  // The same hop built by an api whose southbound is the receiving zone's (receiverZoneKeys: hv2 local, hv1 the other
  // zone's gateway, as ovn-ic would write it; no two-zone capture here). The model read the push by the receiver's
  // is-remote alone: hv2 is local there, so the hop said egressKey lr0-sw0, ingressKey null. A minute later: its own link.
  it("in the receiving zone's southbound the hop names lr0-sw0 as the ingress and no egress too", async () => {
    const at = T0 + 60_000;
    const sent = storePass(s.db, 'hv1', arp('hv1.flood-remote-m.txt', (f) => f.actions.includes('tnl_push(')), at, { kinds: ['tunnel'], tunnels: [{ chassis: 'hv2', remoteIp: keys.encap.hv2 }] });
    const recv = storePass(s.db, 'hv2', arp('hv2.flood-remote-m.txt', (f) => f.key.includes('tunnel(')), at + 3, { kinds: ['drop'] });
    allStored(s.db, ['hv1', 'hv2']);
    const cross = oneChassis(s.store, {}, keys.encap, undefined, multichassisModel(receiverZoneKeys(keys, 'absent')));
    const p = await new PathsService(new PathBuilder(s.store), s.traces, cross).get(sent.path, false);
    expect((p.verdict as unknown as { tunnels: Array<Record<string, unknown>> }).tunnels.map((t) => [t.ingressKey, t.egressKey, t.toTraceId]))
      .toEqual([[keys.ports['lr0-sw0'].tunnelKey, null, recv.trace]]);
  });
});

