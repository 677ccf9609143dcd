// Names from OVN, OVS and ingested events (some set by tenants) and page addresses someone typed or
// sent: the picture stays the size of its boxes, the audit page reads only the audit routes, and a
// badly encoded address is a page that says so.
import { syntheticPath } from '../../../bench/ui/synthetic-path';
import { buildPicture } from '../../../web/graph';
import { auditSources, routeParams } from '../../../web/parse';

const LONG = 'p'.repeat(65536);
/** A label as the picture shows it: names are isolated (U+2068 … U+2069, drawn as isolates, taking no room). */
const shown = (s: string) => s.replace(/[\u2068\u2069]/g, '');

describe('hostile names and addresses on the page', () => {
  it('a 64 KB port, chassis or datapath name is clipped in the picture: no box or label wider than a short one', () => {
    const two = syntheticPath(2, 3) as any;
    const [a, b] = two.passes;
    const longDp = (p: any) => ({ ...p, steps: p.steps.map((s: any) => ({ ...s, owners: s.owners.map((o: any) => ({ ...o, datapaths: [{ name: LONG }] })) })) });
    const path = {
      ...two,
      edges: [],
      passes: [longDp(a), { ...b, chassis: LONG, verdict: { kinds: ['output'], logicalPorts: [LONG] } }],
      verdict: { ...two.verdict, tunnels: [{ fromTraceId: a.id, toTraceId: b.id, vni: 1, remoteIp: '192.168.0.2', remoteChassis: LONG }] },
    };
    const pic = buildPicture(path);
    const short = buildPicture(two);
    for (const n of pic.nodes) {
      expect([n.id, shown(n.label).length <= 52]).toEqual([n.id, true]);
      if (n.role !== 'pass' && n.role !== 'datapath') expect([n.id, n.width < 600]).toEqual([n.id, true]);
    }
    for (const e of pic.edges) expect(shown(e.label ?? '').length).toBeLessThanOrEqual(52);
    expect(shown(pic.edges.find((e) => e.kind === 'tunnel')!.label!)).toMatch(/^geneve vni 1 → p+…$/);
    expect(shown(pic.nodes.find((n) => n.role === 'verdict' && n.mark === 'output')!.label)).toMatch(/^output → p+…$/);
    expect(pic.width).toBeLessThan(short.width * 2);
  });

  it("an audit page's uuid and table from its address are encoded in the API address", () => {
    expect(auditSources(null, '../../trace-sessions?x=')).toEqual({ flows: '/logical-flows/..%2F..%2Ftrace-sessions%3Fx%3D/datapath-flows?limit=500', lflow: '/logical-flows/..%2F..%2Ftrace-sessions%3Fx%3D' });
    expect(auditSources('ACL', 'a#b')).toEqual({ flows: '/northbound/ACL/a%23b/datapath-flows?limit=500', lflow: null });
    const u = '0d1c9a2e-0000-4000-8000-000000000001';
    expect(auditSources(null, u)).toEqual({ flows: `/logical-flows/${u}/datapath-flows?limit=500`, lflow: `/logical-flows/${u}` });
    // Resolved as the browser's fetch resolves it: still the audit route.
    expect(new URL(auditSources(null, '../../trace-sessions?x=').flows, 'http://h').pathname).toMatch(/^\/logical-flows\/[^/]+\/datapath-flows$/);
  });

  it('a page address with bad percent-encoding matches no page instead of throwing', () => {
    expect(routeParams(/^\/ui\/ports\/([^/]+)\/?$/, '/ui/ports/a%zz')).toBeUndefined();
    expect(routeParams(/^\/ui\/ports\/([^/]+)\/?$/, '/ui/ports/a%2Fb%23c')).toEqual(['a/b#c']);
    expect(routeParams(/^\/ui\/ports\/([^/]+)\/?$/, '/ui/paths/1')).toBeUndefined();
  });
});
