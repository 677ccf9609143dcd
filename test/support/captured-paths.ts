// The datapath flows of each captured scenario as pass nodes: the trace of each flow's own key
// (traces/<ufid>.txt, first pass only) with the flow as dumped (dump-flows.txt). `version` is the captured
// version folder (test/fixtures/captured/ovs-X_ovn-Y), Debian 12's by default; the model must be
// built from the same version (capturedModel(undefined, version)).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../src/correlation/annotate';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import type { OvnModel } from '../../src/ovn/ovn-model';
import { parseDpifShow } from '../../src/ovs/dpif-show';
import { parseOfprotoTrace } from '../../src/ovs/ofproto-trace';
import { keyValue, parseKey } from '../../src/ovs/odp-key';
import { DEBIAN12, versionDir } from './captured-model';
import { indexedFlow, PassNode } from './packet-paths';
import { recircIdHex } from '../../src/ovs/ids';

export function scenarioNodes(scenario: string, model: OvnModel, version = DEBIAN12): PassNode[] {
  const dir = join(versionDir(version), scenario);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { ownKeys: Record<string, string> };
  const dpif = parseDpifShow(readFileSync(join(dir, 'dpif-show.txt'), 'utf8')).datapaths[0];
  const dumped = new Map(parseDumpFlows(readFileSync(join(dir, 'dump-flows.txt'), 'utf8')).items.map((d) => [d.ufid, d]));
  return Object.entries(manifest.ownKeys).map(([ufid, key]) => {
    const parsed = parseOfprotoTrace(readFileSync(join(dir, 'traces', `${ufid}.txt`), 'utf8'));
    if (parsed.kind !== 'trace') throw new Error(`${scenario}/${ufid}: ${parsed.kind}`);
    const k = parseKey(key);
    const trace = annotatePass(parsed.pass, model, {
      method: 'trace',
      recircId: recircIdHex(keyValue(k, 'recirc_id') ?? 0),
      inPort: keyValue(k, 'in_port'),
      dpif,
    });
    const d = dumped.get(ufid);
    if (!d) throw new Error(`${scenario}/${ufid}: not in dump-flows.txt`);
    return { ufid, trace, flow: indexedFlow(d) };
  });
}
