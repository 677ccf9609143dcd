// Verdicts, ports and paths of the captured scenarios, whose topology is known (manifest.json):
// lsp1..lsp3 on sw0, lsp4 on sw1, lr0 between them and `public` (localnet ln-public, NAT on lr0).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { parseOfprotoTrace, TracePass } from '../../../src/ovs/ofproto-trace';
import { capturedModel, CAPTURED } from '../../support/captured-model';
import { scenarioNodes } from '../../support/captured-paths';
import { nodeEdges, packetPaths } from '../../support/packet-paths';

const model = capturedModel();
const pathsOf = (scenario: string) => packetPaths(scenarioNodes(scenario, model));
const summary = (scenario: string) =>
  pathsOf(scenario).map((p) => ({ recirc: p.passes.map((x) => x.recircId), kinds: p.verdict.kinds, outputs: p.verdict.logicalPorts }));

describe('paths over captured datapath flows', () => {
  it('acl-drop: the packet is dropped in its third pass by the to-lport ACL, its ports are lsp1 → lsp3', () => {
    const [path] = pathsOf('acl-drop');
    expect(path.passes.map((p) => p.recircId)).toEqual(['0x0', '0x1', '0x5']);
    expect(path.verdict).toMatchObject({ kinds: ['drop'], dropTraceId: path.traceIds[2], logicalFlow: '66c1233a-1dad-4e60-a752-70c24b935699', incomplete: false });
    expect(path.verdict.northbound).toMatchObject({ table: 'ACL', summary: expect.stringContaining('to-lport, priority=2000') });
    expect(path.ports.map((p) => `${p.role}:${p.logicalPort}`)).toEqual(['inport:lsp1', 'outport:lsp3']);
    expect(path.passes[0].verdict).toMatchObject({ kind: 'recirculate', recircIds: ['0x1'] });
  });

  it('icmp-allow-related: request and reply, each through two conntrack recirculations', () => {
    expect(summary('icmp-allow-related')).toEqual([
      { recirc: ['0x0', '0x1', '0x2'], kinds: ['output'], outputs: ['lsp2'] },
      { recirc: ['0x0', '0x3', '0x4'], kinds: ['output'], outputs: ['lsp1'] },
    ]);
  });

  it('routed: sw1 → lr0 → sw0 sees each datapath’s ports with their roles', () => {
    const p = pathsOf('routed').find((x) => x.verdict.logicalPorts.includes('lsp1'))!;
    expect(p.ports.map((x) => `${x.role}:${x.logicalPort}@${x.datapath}`)).toEqual([
      'inport:lsp4@sw1', 'outport:sw1-lr0@sw1', 'inport:lr0-sw1@lr0', 'outport:lr0-sw0@lr0', 'inport:sw0-lr0@sw0', 'outport:lsp1@sw0', 'output:lsp1@sw0',
    ]);
  });

  it('snat-gateway: leaves by the physical NIC, attributed to the localnet port', () => {
    for (const p of pathsOf('snat-gateway')) {
      expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['ln-public'] });
      // The NIC is named by the localnet port's output, not as a port nothing stands for.
      const last = p.passes[p.passes.length - 1];
      expect(last.ports).toContainEqual(expect.objectContaining({ logicalPort: 'ln-public', role: 'output', via: expect.stringMatching(/ext0/) }));
      expect(last.verdict.unmappedOutputs).toBeUndefined();
    }
  });

  it('ipv6-nd: neighbour solicitations go to the controller', () => {
    expect(summary('ipv6-nd').filter((p) => p.kinds.includes('controller'))).toHaveLength(2);
  });

  it('links a child only to parents on its in_port that recirculate into its recirc_id', () => {
    const nodes = scenarioNodes('icmp-allow-related', model);
    const edges = nodeEdges(nodes);
    expect(edges.length).toBeGreaterThan(0);
    for (const e of edges) {
      expect(nodes[e.parent].flow.recircTargets).toContain(nodes[e.child].flow.recircId);
      expect(nodes[e.child].flow.inPort).toBe(nodes[e.parent].flow.inPort);
    }
    // The same child on another in_port is no longer linked to that parent.
    const e = edges[0];
    const moved = nodes.map((n, i) => (i === e.child ? { ...n, flow: { ...n.flow, inPort: 'vif9' } } : n));
    expect(nodeEdges(moved).filter((x) => x.child === e.child && x.parent === e.parent)).toEqual([]);
  });

  it('a pass whose recirculation was not captured gives an incomplete path', () => {
    const incomplete = pathsOf('dnat-and-snat').filter((p) => p.verdict.incomplete);
    expect(incomplete.length).toBeGreaterThan(0);
    // Each says what is missing: a recirculation's next pass, or the packet's first pass.
    for (const p of incomplete) expect(p.verdict.incompleteReason).toMatch(/has no pass in the path|no first pass \(recirc_id 0\)/);
    expect(incomplete.some((p) => /recirculation 0x[0-9a-f]+ queued by trace \d+ .* has no pass in the path/.test(p.verdict.incompleteReason!))).toBe(true);
  });
});

describe('annotated trace of a pass', () => {
  const text = readFileSync(join(CAPTURED, 'acl-drop/traces/c18ab9e3-05d2-4739-9226-22dae8fd93e9.txt'), 'utf8');
  const parsed = parseOfprotoTrace(text);
  const pass = (parsed.kind === 'trace' ? parsed.pass : null) as TracePass;

  it('carries the pass fields and cookie-0 steps without owners', () => {
    const t = annotatePass(pass, model, { method: 'trace', inPort: 'vif1' });
    expect(t).toMatchObject({ method: 'trace', recircId: '0x0', inPort: 'vif1', bridge: 'br-int', datapathActions: 'ct(zone=11,nat),recirc(0x1)', translationFailed: null });
    expect(t.steps[0]).toMatchObject({ seq: 0, table: 0, cookie: '0xb3b25c79', priority: 100, match: 'in_port=1', outcome: 'match', collision: false });
    expect(t.steps[0].owners[0]).toMatchObject({ table: 'Port_Binding', name: 'lsp1', stale: false });
    const noMatch = t.steps.find((s) => s.outcome === 'no_match')!;
    expect(noMatch).toMatchObject({ cookie: null, owners: [], hint: null });
    expect(t.logicalFlows!.length).toBe(t.steps.filter((s) => s.owners.some((o) => o.logicalFlow)).length);
  });
});
