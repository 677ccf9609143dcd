// A packet that left by an OVS port no logical port stands for (an uplink with no localnet port
// behind it, a VIF with no iface-id): its verdict is output with unmappedOutputs, no logical port
// (f10f239). The page's and the terminal client's words (verdictText), the picture's verdict box and
// the served trace text said "output to a port", "output → ?" and "Verdict: output": where it left was
// in the answer, not on the screen.
//
// The verdicts are the served JSON of a captured pass (flood-vlan's lsp6 -> lsp7 on hv1, pushed onto
// br-vlan's uplink) read with no localnet outport, as test/unit/paths/unmapped-output-verdict.spec does.
import { pathVerdict, summarise } from '../../../src/paths/path-verdict';
import { TraceJson, verdictJson } from '../../../src/traces/trace-record';
import { renderTraceText } from '../../../src/traces/trace-text';
import { syntheticPath } from '../../../bench/ui/synthetic-path';
import { verdictText } from '../../../web/describe';
import { buildPicture } from '../../../web/graph';
import { isolatedParts } from '../../../web/safe-text';
import { FLOOD_VLAN_WITH_DUMPS, floodVlanPass } from '../../support/captured-ovn-trace';

const json = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const asIs = (s: string) => s;

describe.each(FLOOD_VLAN_WITH_DUMPS)('%s', (version) => {
  const { passes, pass } = floodVlanPass(version, 'vlan-unicast', [['vif6', 'lsp6'], ['uplink', null]]);
  const passJson = json(verdictJson(pass.verdict));
  const pathJson = json(pathVerdict([{ traceId: 1, recircId: 0, pass: summarise(pass) }]));

  it('the inputs: output with no logical port, by uplink', () => {
    for (const v of [passJson, pathJson]) expect(v).toMatchObject({ kinds: ['output'], logicalPorts: [], unmappedOutputs: expect.arrayContaining(['uplink']) });
  });

  it('verdictText names the OVS ports, for a pass and for a path', () => {
    for (const v of [passJson, pathJson] as Array<Parameters<typeof verdictText>[0]>) {
      const text = verdictText(v, (_k, t) => t, asIs);
      expect(text).toMatch(/^output to OVS ports? (\S+, )*uplink\b/);
      expect(text).not.toMatch(/a port/);
    }
  });

  it("the picture's verdict box names them", () => {
    const path = syntheticPath(1, 3) as any;
    path.passes[0].verdict = passJson;
    path.verdict = { ...pathJson, passes: 1, incomplete: false };
    const box = buildPicture(path).nodes.find((n) => n.role === 'verdict')!;
    expect(isolatedParts(box.label).join('')).toMatch(/^output → OVS ports? (\S+, )*uplink\b/);
  });

  it('the served trace text names them', () => {
    const t = { flow: passes[0].flow, steps: [], finalFlow: '', megaflow: '', datapathActions: passes[0].datapathActions, translationFailed: null, consistent: null, verdict: passJson } as unknown as TraceJson;
    expect(renderTraceText(t)).toMatch(/^Verdict: output -> OVS ports? (\S+, )*uplink\b/m);
  });
});
