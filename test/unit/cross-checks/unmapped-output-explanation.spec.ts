// A live path that left by an OVS port no logical port stands for has verdict output with
// unmappedOutputs (paths/path-verdict.ts). Where ovn-trace ran the same logical flows and left by a
// logical port, the cross-check's last message said the live packet "was dropped": it read the
// verdict's logical ports only.
//
// Built from the flood-vlan capture of lsp1's ARP flood (hv1 runs lsp5's egress, outputs to vif5 and
// sends a Geneve copy to hv2) as test/unit/paths/unmapped-output-verdict.spec.ts builds its pass: the
// captured datapath actions, hv1's dpif/show and that run's NB/SB, here with vif5 carrying no iface-id
// (an OVS interface whose iface-id was removed while ovn-controller's flows still send to it).
import { compareWithSimulation } from '../../../src/cross-checks/compare';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { pathVerdict, summarise } from '../../../src/paths/path-verdict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURED_OVN_TRACE, currentFlows, FLOOD_VLAN_WITH_DUMPS, floodVlanPass } from '../../support/captured-ovn-trace';

it('a flood-vlan capture with its NB/SB exists for debian12 at least', () => {
  expect(FLOOD_VLAN_WITH_DUMPS).toContain('ovs-3.1.0_ovn-23.03.1');
});

describe.each(FLOOD_VLAN_WITH_DUMPS)('%s', (version) => {
  const { passes, pass } = floodVlanPass(version, 'flood', [['vif1', 'lsp1'], ['vif5', null]]);
  const verdict = pathVerdict([{ traceId: passes[0].id, recircId: 0, pass: summarise({ ports: pass.ports, verdict: pass.verdict }) }]);
  const sim = parseOvnTrace(readFileSync(join(CAPTURED_OVN_TRACE, version, 'flood-vlan', 'flood.ovn-trace.txt'), 'utf8'));

  it('the path: output by vif5 (no logical port) and a tunnel', () => {
    expect(verdict).toMatchObject({ kinds: expect.arrayContaining(['output', 'tunnel']), logicalPorts: [], unmappedOutputs: ['vif5'] });
  });

  it('the cross-check says the live packet left by vif5, not that it was dropped, and keeps the port in its live verdict', () => {
    const c = compareWithSimulation(passes, verdict, sim, currentFlows(passes));
    expect(c.result).toBe('diverged');
    expect(c.divergence?.explanation).not.toMatch(/live packet was dropped/);
    expect(c.divergence?.explanation).toMatch(/the live packet left by OVS port vif5 \(no logical port\), ovn-trace's left by lsp5\.$/);
    expect(c.verdicts.live).toEqual({ kinds: verdict.kinds, logicalPorts: [], unmappedOutputs: verdict.unmappedOutputs });
  });
});
