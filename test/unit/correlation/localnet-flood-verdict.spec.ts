// A flood on a switch with a VLAN localnet port, from real daemons (scripts/capture-ovn-trace-fixtures
// --flood-vlan: test/fixtures/captured-ovn-trace/<version>/flood-vlan/): lsp6@hv1's ARP request on sw2,
// whose _MC_flood is lsp6, ln-sw2 (tag 100) and lsp7@hv2. hv1's ofproto/trace of it, with that run's
// NB/SB and dpif/show: the copy to ln-sw2 leaves by br-vlan's uplink (push_vlan(vid=100)), which has no
// iface-id, and ovn-controller then handles the copy to lsp6 (the inport: dropped by the loopback
// check), so the last outport the pass set is lsp6's. The order of a group's members is ovn-controller's
// (the southbound set's), not ours: the physical outputs belong to the localnet outport wherever it
// stands among the pass's outports.
// flood-container: the same flood on sw0 once lsp8 sits behind lsp5 (parent_name lsp5, tag 8): hv1's
// datapath gives vif5 two copies, the tagged one lsp8's (table 65's rule its Port_Binding owns: push_vlan,
// set_field:4104->vlan_vid, output:5), in an order of ovn-controller's that differs between captures
// (`push_vlan(vid=8,pcp=0),6,pop_vlan,6` on debian12, `6,push_vlan(vid=8,pcp=0),6` on debian13/unstable).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { parseDpifShow } from '../../../src/ovs/dpif-show';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { passOfStored, pathVerdict } from '../../../src/paths/path-verdict';
import { verdictJson } from '../../../src/traces/trace-record';
import { modelFromDumps } from '../../support/captured-model';
import { CAPTURED_OVN_TRACE, containerCopyOrder, dpifOfport, FLOOD_VLAN_WITH_DUMPS } from '../../support/captured-ovn-trace';

const withDumps = FLOOD_VLAN_WITH_DUMPS;

it('a flood-vlan capture with its NB/SB exists for debian12 at least', () => {
  expect(withDumps).toContain('ovs-3.1.0_ovn-23.03.1');
});

describe.each(withDumps)('%s', (version) => {
  const dir = join(CAPTURED_OVN_TRACE, version, 'flood-vlan');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const dpif = parseDpifShow(read('hv1.dpif-show.txt')).datapaths[0];
  // hv1's interfaces as dpif/show names them: the VIFs with their iface-id, the localnet bridge's NIC without one.
  const ofport = (name: string) => dpifOfport(read('hv1.dpif-show.txt'), name);
  const model = modelFromDumps(dir, version, [['vif1', ofport('vif1'), 'lsp1'], ['vif5', ofport('vif5'), 'lsp5'], ['vif6', ofport('vif6'), 'lsp6'], ['uplink', ofport('uplink'), null]]);
  const annotate = (name: string) => {
    const parsed = parseOfprotoTrace(read(`${name}.hv1-trace-0.txt`));
    if (parsed.kind !== 'trace') throw new Error(`${name}: ${parsed.kind}`);
    return annotatePass(parsed.pass, model, { dpif });
  };

  it('vlan-flood: this capture has the copy to lsp6 (the inport, dropped) after the localnet copy', () => {
    expect(annotate('vlan-flood').ports.filter((p) => p.role === 'outport').map((p) => p.logicalPort)).toEqual(['ln-sw2', 'lsp6']);
  });

  it.each(['vlan-flood', 'vlan-unicast'])('%s: leaves by ln-sw2 (uplink, VLAN 100)', (name) => {
    const t = annotate(name);
    expect(t.datapathActions).toMatch(/push_vlan\(vid=100,/);
    expect(t.verdict).toMatchObject({ kind: 'output', outputs: ['ln-sw2'] });
    expect(t.ports).toContainEqual(expect.objectContaining({ logicalPort: 'ln-sw2', role: 'output' }));
  });

  it('flood on sw0: lsp5 here, lsp2\'s copy by tunnel', () => {
    const t = annotate('flood');
    expect(t.verdict.outputs).toEqual(['lsp5']);
  });

  it('flood-container: the tagged copy to vif5 is lsp8\'s, the untagged one lsp5\'s, in the datapath\'s order', () => {
    const show = read('flood-container.hv1.dpif-show.txt');
    const at = (name: string) => dpifOfport(show, name);
    const m = modelFromDumps(dir, version, [['vif1', at('vif1'), 'lsp1'], ['vif5', at('vif5'), 'lsp5']], 'flood-container.');
    const parsed = parseOfprotoTrace(read('flood-container.hv1-trace-0.txt'));
    if (parsed.kind !== 'trace') throw new Error(parsed.kind);
    const t = annotatePass(parsed.pass, m, { dpif: parseDpifShow(show).datapaths[0] });
    const order = containerCopyOrder(t.datapathActions);
    const via = { lsp8: expect.stringMatching(/ vlan 8$/), lsp5: expect.not.stringMatching(/vlan/) };
    expect(t.verdict).toMatchObject({ kind: 'mixed', outputs: order });
    expect(t.ports.filter((p) => p.role === 'output').map((p) => [p.logicalPort, p.via])).toEqual(order.map((port) => [port, via[port]]));
  });

  // The stored pass's and the path's unmappedOutputs are the OVS ports no logical port stands for
  // (trace-record.ts, path-verdict.ts). br-vlan's uplink (and the bridge's own port NORMAL floods to)
  // stand for ln-sw2: naming them too said the packet also left by ports nothing stood for, and the
  // page and the client read 'output to ln-sw2, OVS ports br-vlan, uplink'.
  it.each(['vlan-flood', 'vlan-unicast'])('%s: stored and path verdicts name ln-sw2 and no OVS port without a logical port', (name) => {
    const t = annotate(name);
    const stored = verdictJson(t.verdict);
    expect(stored).toMatchObject({ kinds: ['output'], logicalPorts: ['ln-sw2'] });
    expect(stored).not.toHaveProperty('unmappedOutputs');
    const path = pathVerdict([{ traceId: 1, recircId: 0, pass: passOfStored(stored) }]);
    expect(path).toMatchObject({ kinds: ['output'], logicalPorts: ['ln-sw2'] });
    expect(path).not.toHaveProperty('unmappedOutputs');
    // The NIC it left by is still named where the localnet port is: its output port's `via`.
    expect(t.ports).toContainEqual(expect.objectContaining({ logicalPort: 'ln-sw2', role: 'output', via: expect.stringMatching(/uplink/) }));
  });
});
