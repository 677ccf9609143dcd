// A provider bridge's NORMAL flood reaches its own LOCAL port too (the host's interface named as the
// bridge, OpenFlow port 65534): that copy is the bridge's, not OVN's, so it is neither the localnet
// port's delivery nor an output "no logical port stands for". The verdict names it in `bridgeLocal`.
// Real passes of every captured pair:
// - sender (scripts/capture-ovn-trace-fixtures --flood-vlan): lsp6's ARP flood on sw2, whose copy to
//   ln-sw2 leaves br-vlan by its uplink and, flooded by br-vlan, by br-vlan's LOCAL port
//   (`push_vlan(vid=100,pcp=0),4,5`, dpif/show: 4 is br-vlan 65534/4, 5 the uplink). ln-sw2's output
//   is the uplink alone.
// - receiver (scripts/capture-nat-fixtures --chassis 2, distributed-dnat-and-snat-2hv): hv2 takes in
//   hv1's ARP broadcast from the physical network; br-phys floods it to its LOCAL port and to br-int,
//   where OVN drops every copy (the router does not answer it; the copy back to pub-ln, its inport,
//   is dropped by the loopback check). Its installed actions (dump-flows -m, names, as a detrace pass
//   holds them) are `br-phys`: once read as pub-ln's delivery, a wrong verdict.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { parseDpifShow } from '../../../src/ovs/dpif-show';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { passOfStored, pathVerdict } from '../../../src/paths/path-verdict';
import { verdictJson } from '../../../src/traces/trace-record';
import { modelFromDumps } from '../../support/captured-model';
import { CAPTURED_NAT, NAT_VERSIONS, natCapture } from '../../support/captured-nat';
import { CAPTURED_OVN_TRACE, dpifOfport, FLOOD_VLAN_WITH_DUMPS } from '../../support/captured-ovn-trace';

const SCENARIO = 'distributed-dnat-and-snat-2hv';

function senderPass(version: string) {
  const dir = join(CAPTURED_OVN_TRACE, version, 'flood-vlan');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const ofport = (name: string) => dpifOfport(read('hv1.dpif-show.txt'), name);
  const model = modelFromDumps(dir, version, [['vif1', ofport('vif1'), 'lsp1'], ['vif5', ofport('vif5'), 'lsp5'], ['vif6', ofport('vif6'), 'lsp6'], ['uplink', ofport('uplink'), null]]);
  const parsed = parseOfprotoTrace(read('vlan-flood.hv1-trace-0.txt'));
  if (parsed.kind !== 'trace') throw new Error(parsed.kind);
  return annotatePass(parsed.pass, model, { dpif: parseDpifShow(read('hv1.dpif-show.txt')).datapaths[0] });
}

/** hv2's broadcasts taken in from the network (an ARP of hv1's, one flow per ARP target seen). */
function broadcastsIn(version: string): string[] {
  const lines = natCapture(version, SCENARIO, { chassis: 'hv2' }).lines.filter((l) => l.includes('in_port(br-phys_n1)') && l.includes('dst=ff:ff:ff:ff:ff:ff') && l.includes('recirc_id(0)'));
  if (!lines.length) throw new Error(`no broadcast taken in from the network on hv2 (${version})`);
  return lines;
}

function receiverPass(version: string, line: string) {
  const hv2 = natCapture(version, SCENARIO, { chassis: 'hv2' });
  const ufid = /^ufid:([^,]+),/.exec(line)![1];
  const installed = /, actions:(.*?)(?:, dp-extra-info:.*)?$/.exec(line)![1];
  const text = readFileSync(join(CAPTURED_NAT, version, SCENARIO, 'hv2', 'traces', `${ufid}.txt`), 'utf8');
  const parsed = parseOfprotoTrace(text.replace(/^Datapath actions: .*$/m, `Datapath actions: ${installed}`));
  if (parsed.kind !== 'trace') throw new Error(parsed.kind);
  return annotatePass(parsed.pass, new OvnModel({ nb: hv2.nb, ...hv2.zones! }));
}

type Case = { what: string; version: string; pass: () => ReturnType<typeof annotatePass>; outputs: string[]; bridgeLocal: string[]; kinds: string[] };
const cases: Case[] = [
  ...FLOOD_VLAN_WITH_DUMPS.map((version) => ({ what: 'sender: lsp6 floods to ln-sw2', version, pass: () => senderPass(version), outputs: ['ln-sw2'], bridgeLocal: ['br-vlan'], kinds: ['output'] })),
  ...NAT_VERSIONS.flatMap((version) =>
    broadcastsIn(version).map((line) => ({
      what: `receiver: hv2 takes an ARP broadcast in from the network (${/^ufid:([^,]+),/.exec(line)![1]})`,
      version,
      pass: () => receiverPass(version, line),
      outputs: [],
      bridgeLocal: ['br-phys'],
      kinds: ['drop'],
    })),
  ),
];

describe.each(cases)('$what ($version)', ({ pass, outputs, bridgeLocal, kinds }) => {
  const t = pass();

  it(`outputs to ${outputs.join(', ') || 'no logical port'}, the bridge's LOCAL copy named as such`, () => {
    expect(t.verdict.outputs).toEqual(outputs);
    expect(t.verdict.bridgeLocal).toEqual(bridgeLocal);
    expect(t.verdict.unmappedOutputs).toBeUndefined();
  });

  it('a localnet output port, if any, left by the NIC only, never by the bridge itself', () => {
    const out = t.ports.filter((p) => p.role === 'output');
    expect(out.map((p) => p.logicalPort)).toEqual(outputs);
    for (const p of out) for (const b of bridgeLocal) expect(p.via).not.toMatch(new RegExp(`\\b${b}\\b`));
  });

  it('stored and path verdicts keep it', () => {
    const stored = verdictJson(t.verdict);
    expect(stored).toMatchObject({ kinds, logicalPorts: outputs, bridgeLocal });
    expect(stored).not.toHaveProperty('unmappedOutputs');
    const path = pathVerdict([{ traceId: 1, recircId: 0, pass: passOfStored(stored) }]);
    expect(path).toMatchObject({ kinds, logicalPorts: outputs, bridgeLocal });
    expect(path).not.toHaveProperty('unmappedOutputs');
  });
});
