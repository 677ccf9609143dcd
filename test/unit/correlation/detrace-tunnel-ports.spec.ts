// A tunnel arrival traced by ofproto/detrace names its logical ports as ofproto/trace's does. The
// detrace pass has no Flow line: its flow is the datapath key, whose tunnel is
// `tunnel(tun_id=0x1,…,geneve({class=0x102,type=0x80,len=4,0x30001/0x7fffffff}),…)`, and OVN's
// table 0 only moves the Geneve option into reg14/reg15 (no match or set_field names them), so the
// ingress port (tunnel_in: what ?logical_port= and the cross-chassis arrivals read) and the egress port
// must come from the key. Real hv2 arrivals and detrace replies of the three-chassis capture
// (scripts/capture-multichassis-fixtures detrace), read against that run's southbound keys.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { detracePass } from '../../../src/collectors/detrace-pass';
import type { LiveFlow } from '../../../src/collectors/datapath-diff';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import { formatKey } from '../../../src/ovs/odp-key';
import { parseOfprotoDetrace } from '../../../src/ovs/ofproto-detrace';
import { MULTICHASSIS_PAIRS, MULTICHASSIS_ROOT, multichassisKeysOf, multichassisModel } from '../../support/captured-multichassis';

const PAIRS = MULTICHASSIS_PAIRS.filter((p) => existsSync(join(MULTICHASSIS_ROOT, p, 'hv2.detrace.txt')));

it('the pairs with ofproto/detrace have the capture', () => {
  expect(PAIRS).toEqual(['debian13', 'unstable']);
});

describe.each(PAIRS)('%s', (pair) => {
  it("hv2's arrival of lsp1's echo to lsp2: tunnel_in lsp1 from hv1, outport lsp2, output lsp2", () => {
    const dir = join(MULTICHASSIS_ROOT, pair);
    const dumped = parseDumpFlows(readFileSync(join(dir, 'hv2.detrace-m.txt'), 'utf8')).items.find((f) => /in_port\(genev_sys_6081\)/.test(f.keyText ?? formatKey(f.key)) && (f.actionsText ?? '') === 'vif2')!;
    const r = parseOfprotoDetrace(readFileSync(join(dir, 'hv2.detrace.txt'), 'utf8'));
    if (r.kind !== 'entries') throw new Error(r.message);
    const live = { ufid: dumped.ufid!, key: dumped.keyText ?? formatKey(dumped.key), actions: dumped.actionsText! } as LiveFlow;
    const model = multichassisModel(multichassisKeysOf(pair, 'detrace.keys.json'));
    const t = annotatePass(detracePass(r.entries, live), model, { method: 'detrace' });
    const ports = t.ports.map((p) => ({ logicalPort: p.logicalPort, role: p.role, chassis: p.chassis }));
    expect(ports).toEqual(expect.arrayContaining([
      { logicalPort: 'lsp1', role: 'tunnel_in', chassis: 'hv1' },
      { logicalPort: 'lsp2', role: 'outport', chassis: null },
    ]));
  });
});
