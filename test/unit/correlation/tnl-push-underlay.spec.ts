// A userspace datapath (netdev, DPDK; the e2e's dummy datapath) pushes a tunnel header with tnl_push
// and goes on through the underlay bridge: `clone(tnl_push(…,out_port(1)),101)` outputs the
// encapsulated packet by the underlay NIC (101: br-phys_n1), which no logical port stands for. That
// output is the tunnel's way out, not the packet's: the verdict listed br-phys_n1 among
// unmappedOutputs, so since f10f239 a tunnelled path read as also left by br-phys_n1.
//
// From flood-vlan's capture: lsp1's ARP flood on hv1 (a Geneve copy to hv2, then lsp5 by vif5), read
// with hv1's dpif/show and that run's NB/SB (floodVlanPass).
import { pathVerdict, summarise } from '../../../src/paths/path-verdict';
import { verdictJson } from '../../../src/traces/trace-record';
import { FLOOD_VLAN_WITH_DUMPS, floodVlanPass } from '../../support/captured-ovn-trace';

it('a flood-vlan capture with its NB/SB exists for debian12 at least', () => {
  expect(FLOOD_VLAN_WITH_DUMPS).toContain('ovs-3.1.0_ovn-23.03.1');
});

describe.each(FLOOD_VLAN_WITH_DUMPS)('%s', (version) => {
  it('the underlay NIC after tnl_push is no output of the packet: lsp5 and the tunnel only', () => {
    const { passes, pass } = floodVlanPass(version, 'flood', [['vif1', 'lsp1'], ['vif5', 'lsp5']]);
    expect(passes[0].datapathActions).toMatch(/^clone\(tnl_push\(.*\),\d+\),\d+$/);
    expect(pass.verdict).toMatchObject({ kind: 'mixed', outputs: ['lsp5'], tunnels: [expect.objectContaining({ chassis: 'hv2' })] });
    expect(pass.verdict.unmappedOutputs).toBeUndefined();
    expect(verdictJson(pass.verdict).unmappedOutputs).toBeUndefined();
    const path = pathVerdict([{ traceId: 1, recircId: 0, pass: summarise(pass) }]);
    expect(path).toMatchObject({ kinds: ['output', 'tunnel'], logicalPorts: ['lsp5'] });
    expect(path).not.toHaveProperty('unmappedOutputs');
  });

  it('with vif5 carrying no iface-id, vif5 alone is the unmapped output', () => {
    const { pass } = floodVlanPass(version, 'flood', [['vif1', 'lsp1'], ['vif5', null]]);
    expect(pass.verdict).toMatchObject({ outputs: [], unmappedOutputs: ['vif5'] });
  });
});
