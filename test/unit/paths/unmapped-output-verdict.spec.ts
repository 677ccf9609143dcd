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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dpifMaps, passVerdict } from '../../../src/correlation/verdict';
import { parseDpifShow } from '../../../src/ovs/dpif-show';
import { parseActions } from '../../../src/ovs/odp-actions';
import { isComplete, passOfStored, pathVerdict, summarise } from '../../../src/paths/path-verdict';
import { verdictJson } from '../../../src/traces/trace-record';
import { modelFromDumps } from '../../support/captured-model';
import { CAPTURED_OVN_TRACE, dpifOfport, FLOOD_VLAN_WITH_DUMPS } from '../../support/captured-ovn-trace';

const withDumps = FLOOD_VLAN_WITH_DUMPS;

it('a flood-vlan capture with its NB/SB exists for debian12 at least', () => {
  expect(withDumps).toContain('ovs-3.1.0_ovn-23.03.1');
});

describe.each(withDumps)('%s', (version) => {
  const dir = join(CAPTURED_OVN_TRACE, version, 'flood-vlan');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const show = read('hv1.dpif-show.txt');
  const ofport = (name: string) => dpifOfport(show, name);
  const model = modelFromDumps(dir, version, [['vif6', ofport('vif6'), 'lsp6'], ['uplink', ofport('uplink'), null]]);
  const captured = (JSON.parse(read('vlan-unicast-path.json')) as { passes: Array<{ datapathActions: string }> }).passes[0];
  const maps = dpifMaps(parseDpifShow(show).datapaths[0])!;
  const pass = passVerdict(
    {
      datapathActions: captured.datapathActions,
      parsed: parseActions(captured.datapathActions),
      parseError: null,
      translationFailed: null,
      steps: [],
      lastOutport: null,
      outports: [],
      dpifPortNames: maps.names,
      dpifPortTypes: maps.types,
    },
    model,
  );

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
