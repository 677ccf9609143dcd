// GET /paths/:id across chassis with OVN's VXLAN encapsulation, over the lines of the captured VXLAN run
// (debian12 hvK.vxlan-m.txt, vxlan.keys.json): the VNI is sw0's key | lsp2's key << 12, so the hop keeps
// that VNI as sent and names the egress port key decoded from it; VXLAN carries no ingress port.
import 'reflect-metadata';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathsService } from '../../../src/paths/paths.service';
import { multichassisKeysOf, oneCapturedFlow, type CapturedFlow } from '../../support/captured-multichassis';
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
