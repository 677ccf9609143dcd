// A pass that leaves by a physical port no logical port stands for: a bridge's uplink with no iface-id
// and no localnet port behind it. The pass's verdict says output (unmappedOutputs: the OVS port names
// dpif/show gives); the path's verdict said 'recirculate' (no port, "not complete"), as if the packet
// were still in the datapath, because it counted outputs from logical ports only, and the stored pass
// verdict did not keep the port names for a reader to recompute it.
//
// The input is built from a captured pass (scripts/capture-ovn-trace-fixtures --flood-vlan: lsp6 ->
// lsp7, which hv1 sends by br-vlan with push_vlan(vid=100)): its datapath actions, hv1's dpif/show and
// that run's NB/SB, with no localnet outport behind the output (the pass's outports left out), which
// is what a bridge without a localnet port gives. No capture has such a bridge yet.
import { isComplete, passOfStored, pathVerdict, summarise } from '../../../src/paths/path-verdict';
import { verdictJson } from '../../../src/traces/trace-record';
import { FLOOD_VLAN_WITH_DUMPS, floodVlanPass } from '../../support/captured-ovn-trace';

const withDumps = FLOOD_VLAN_WITH_DUMPS;

it('a flood-vlan capture with its NB/SB exists for debian12 at least', () => {
  expect(withDumps).toContain('ovs-3.1.0_ovn-23.03.1');
});

describe.each(withDumps)('%s', (version) => {
  const { passes, pass } = floodVlanPass(version, 'vlan-unicast', [['vif6', 'lsp6'], ['uplink', null]]);
  const captured = passes[0];

  it('the pass: output, by OVS ports no logical port stands for', () => {
    expect(captured.datapathActions).toMatch(/push_vlan\(vid=100,/);
    expect(pass.verdict).toMatchObject({ kind: 'output', outputs: [], unmappedOutputs: expect.arrayContaining(['uplink']) });
  });

  it('the path (as the tracer builds it, and as a reader recomputes it from the stored pass): output by those ports, complete', () => {
    const ports = [...pass.verdict.unmappedOutputs!];
    for (const summary of [summarise({ ports: pass.ports, verdict: pass.verdict }), passOfStored(verdictJson(pass.verdict))]) {
      const v = pathVerdict([{ traceId: 1, recircId: 0, pass: summary }]);
      expect(v).toMatchObject({ kinds: ['output'], logicalPorts: [], unmappedOutputs: ports, incomplete: false });
      expect(isComplete(v)).toBe(true);
    }
  });
});
