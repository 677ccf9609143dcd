// The path picture's model and layout (web/graph.ts) and the words of a verdict (web/describe.ts),
// on the synthetic path bench/ui draws and on the captured drop path of the OpenAPI examples.
import { syntheticPath } from '../../../bench/ui/synthetic-path';
import captured from '../../../src/openapi/captured-examples.json';
import { flowSummary, verdictText as line } from '../../../web/describe';
import { isolatedParts } from '../../../web/safe-text';
import { buildPicture, GNode } from '../../../web/graph';
import { simulatedSegments, stepBlocks } from '../../../web/parse';

/** A label as the picture shows it (its names' isolates drawn as isolates, not as text). */
const shown = (s: string) => isolatedParts(s).join('');
const overlap = (a: GNode, b: GNode) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe('the path picture', () => {
  const path = syntheticPath(5, 30);
  const pic = buildPicture(path as any);
  const boxes = pic.nodes.filter((n) => !['pass', 'datapath'].includes(n.role));

  it('has a cluster per pass, a box per logical stage, and a recirculation edge between passes', () => {
    expect(pic.nodes.filter((n) => n.role === 'pass')).toHaveLength(5);
    expect(pic.stages).toBe(150);
    expect(pic.nodes.filter((n) => n.role === 'stage')).toHaveLength(150);
    const recirc = pic.edges.filter((e) => e.kind === 'recirc');
    expect(recirc.map((e) => e.label)).toEqual(['recirc 0x1', 'recirc 0x2', 'recirc 0x3', 'recirc 0x4']);
    // Each pass crosses sw0, lr0 and sw1 in both pipelines it runs: one datapath cluster per run of stages.
    expect(new Set(pic.nodes.filter((n) => n.role === 'datapath').map((n) => shown(n.label).split(' ')[0]))).toEqual(new Set(['sw0', 'lr0', 'sw1']));
  });

  it('marks the dropping stage and its ACL, and only those, as the drop', () => {
    const drops = pic.nodes.filter((n) => n.mark === 'drop');
    expect(drops.map((n) => n.role).sort()).toEqual(['northbound', 'stage', 'verdict']);
    expect(drops.find((n) => n.role === 'stage')!.lflow!.uuid).toBe(path.verdict.logicalFlow);
    expect(drops.find((n) => n.role === 'northbound')!.label).toContain('priority=1002');
  });

  it('lays boxes out without overlaps, each inside its pass, inside the picture', () => {
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) expect([boxes[i].id, boxes[j].id, overlap(boxes[i], boxes[j])]).toEqual([boxes[i].id, boxes[j].id, false]);
    for (const b of boxes) {
      const pass = pic.nodes.find((n) => n.id === `pass:${b.pass.id}`)!;
      expect(b.x >= pass.x && b.y >= pass.y && b.x + b.width <= pass.x + pass.width && b.y + b.height <= pass.y + pass.height).toBe(true);
      expect(b.x + b.width <= pic.width && b.y + b.height <= pic.height).toBe(true);
    }
  });

  it('draws a cross-chassis path: a tunnel edge from the sender pass to the receiving chassis pass', () => {
    const two = syntheticPath(2, 10) as any;
    const [a, b] = two.passes;
    const cross = {
      ...two,
      edges: [],
      passes: [a, { ...b, chassis: 'hv2' }],
      verdict: { ...two.verdict, chassis: 'hv2', tunnels: [{ fromTraceId: a.id, toTraceId: b.id, vni: 1, remoteIp: '192.168.0.2', remoteChassis: 'hv2', ingressKey: 1, egressKey: 2 }] },
    };
    const p = buildPicture(cross);
    const tunnel = p.edges.filter((e) => e.kind === 'tunnel');
    expect(tunnel).toHaveLength(1);
    expect(tunnel[0].to).toBe(`head:${b.id}`);
    expect(shown(tunnel[0].label!)).toBe('geneve vni 1 → hv2');
    expect(p.nodes.find((n) => n.id === tunnel[0].from)!.pass.id).toBe(a.id);
    // A link the look's bound left unsure says so on its edge.
    const unsure = buildPicture({ ...cross, verdict: { ...cross.verdict, tunnels: [{ ...cross.verdict.tunnels[0], lookBounded: true }] } });
    expect(unsure.edges.filter((e) => e.kind === 'tunnel').map((e) => shown(e.label!))).toEqual(['geneve vni 1 → hv2 (nearest unsure)']);
    // An unlinked hop (no receiving pass found) draws no edge.
    const unlinked = buildPicture({ ...cross, verdict: { ...cross.verdict, tunnels: [{ ...cross.verdict.tunnels[0], toTraceId: null }] } });
    expect(unlinked.edges.filter((e) => e.kind === 'tunnel')).toEqual([]);
  });

  it('draws a hop across the physical network as a tunnel edge, in its own words', () => {
    const two = syntheticPath(2, 10) as any;
    const [a, b] = two.passes;
    const hop = { fromChassis: 'hv1', fromTraceId: a.id, port: 'pub-ln', network: 'phys', vlan: null, toChassis: 'hv2', toTraceId: b.id };
    const p = buildPicture({ ...two, edges: [], passes: [a, { ...b, chassis: 'hv2' }], verdict: { ...two.verdict, chassis: 'hv2', tunnels: [], localnetHops: [hop] } });
    const edges = p.edges.filter((e) => e.kind === 'tunnel');
    expect(edges.map((e) => [e.to, shown(e.label!)])).toEqual([[`head:${b.id}`, 'localnet pub-ln (phys) → hv2']]);
    expect(p.nodes.find((n) => n.id === edges[0].from)!.pass.id).toBe(a.id);
  });

  it('draws a flood to two chassis with their passes apart: no pass over another, every box inside the picture', () => {
    const three = syntheticPath(3, 6) as any;
    const [a, b, c] = three.passes;
    const hop = (to: number, remoteChassis: string) => ({ fromTraceId: a.id, toTraceId: to, vni: 1, remoteIp: '192.168.0.2', remoteChassis });
    // hv1's one pass sends the packet to hv2 and hv3 (a multicast or an unknown MAC): both receivers are one hop from it.
    const flood = buildPicture({ ...three, edges: [], passes: [a, { ...b, chassis: 'hv2' }, { ...c, chassis: 'hv3' }], verdict: { ...three.verdict, tunnels: [hop(b.id, 'hv2'), hop(c.id, 'hv3')] } });
    const passes = flood.nodes.filter((n) => n.role === 'pass');
    expect(passes).toHaveLength(3);
    for (let i = 0; i < passes.length; i++) for (let j = i + 1; j < passes.length; j++) expect([passes[i].id, passes[j].id, overlap(passes[i], passes[j])]).toEqual([passes[i].id, passes[j].id, false]);
    for (const n of flood.nodes) expect([n.id, n.x + n.width <= flood.width && n.y + n.height <= flood.height]).toEqual([n.id, true]);
    // Each tunnel edge ends on its own receiver's head, and leaves the sender's rank right of every pass in it.
    for (const e of flood.edges.filter((x) => x.kind === 'tunnel')) {
      const head = flood.nodes.find((n) => n.id === e.to)!;
      expect(e.points[e.points.length - 1]).toEqual({ x: head.x, y: head.y + head.height / 2 });
      const sender = passes.find((n) => n.pass.id === a.id)!;
      expect(e.points[1].x).toBeGreaterThan(sender.x + sender.width);
    }
  });

  it('draws the captured drop path of a real sandbox: 3 passes, the ACL that dropped it', () => {
    const real = captured.path as any;
    const drop = captured.trace as any;
    // The example keeps the passes before the drop without their steps, and the drop pass (trace 6) apart.
    const passes = [...real.passes.filter((p: any) => p.id !== drop.id).map((p: any) => ({ ...p, steps: [] })), drop];
    const p = buildPicture({ ...real, passes });
    expect(p.nodes.filter((n) => n.role === 'pass')).toHaveLength(real.verdict.passes);
    expect(p.edges.filter((e) => e.kind === 'recirc')).toHaveLength(real.verdict.passes - 1);
    expect(p.nodes.find((n) => n.role === 'northbound' && n.mark === 'drop')?.northbound?.uuid).toBe(real.verdict.northbound.uuid);
  });
});

// The words as the page shows them: its names isolated (<bdi>, verdict-bidi.spec.ts), the text the same.
const verdictText = (v: Parameters<typeof line>[0]) => isolatedParts(line(v)).join('');

describe('the words of the page', () => {
  it('say what happened in one line', () => {
    expect(verdictText((captured.trace as any).verdict)).toBe('dropped by ACL: to-lport, priority=1002, match=(outport == "lsp3" && ip4 && udp.dst == 53), drop');
    expect(verdictText({ kinds: ['output'], logicalPorts: ['lsp2'], logicalFlow: null, northbound: null })).toBe('output to lsp2');
    expect(verdictText({ kinds: ['controller'], logicalPorts: [], logicalFlow: null, northbound: null, controller: { reason: 'ARP resolution', stage: null } })).toBe('to ovn-controller: ARP resolution');
    expect(flowSummary('udp,in_port=1,nw_src=10.0.0.1,nw_dst=10.0.0.3,tp_src=5353,tp_dst=53')).toEqual({ proto: 'udp', text: 'udp 10.0.0.1:5353 → 10.0.0.3:53' });
  });

  it('split the ovn-detrace text by step and read ovn-trace --detailed stages', () => {
    const text = 'Flow: x\n\nbridge("br-int")\n-------\n 0. in_port=1, priority 100, cookie 0x1\n    resubmit(,8)\n  * Logical flow: a\n 8. metadata=0x1, priority 50\n    drop\n\nFinal flow: y\n';
    expect(stepBlocks(text)).toEqual([[' 0. in_port=1, priority 100, cookie 0x1', '    resubmit(,8)', '  * Logical flow: a'], [' 8. metadata=0x1, priority 50', '    drop']]);
    const out = 'ingress(dp="sw0", inport="lsp1")\n-------\n 0. ls_in_check_port_sec (northd.c:1): 1, priority 50, uuid ae6df7c1\n    next;\negress(dp="sw0", inport="lsp1", outport="lsp3")\n 4. ls_out_acl (northd.c:2): ip && !ct.est, priority 1, uuid 87578c13\n';
    expect(simulatedSegments(out)).toEqual([
      { pipeline: 'ingress', datapath: 'sw0', entries: [{ tableId: 0, stage: 'ls_in_check_port_sec', uuid: 'ae6df7c1', text: '1, priority 50' }] },
      { pipeline: 'egress', datapath: 'sw0', outport: 'lsp3', entries: [{ tableId: 4, stage: 'ls_out_acl', uuid: '87578c13', text: 'ip && !ct.est, priority 1' }] },
    ]);
  });
});
