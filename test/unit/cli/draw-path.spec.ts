// `ovn-livetrace path N` across chassis: between two chassis's passes the Geneve hop that linked them
// (GET /paths/:id's verdict.tunnels), not a recirculation; an incomplete path says why, in the API's
// words. The real three-chassis path is drawn in test/support/three-chassis-checks.ts; here the
// shapes the sandbox does not make on demand (a flood's second hop, an unsure link, a missing far end).
import { drawPath, paint } from '../../../src/cli/render';
import { hopText, incompleteWhy } from '../../../web/describe';
import { markFields } from '../../support/mark-fields';

const plain = paint(false);
const pass = (id: number, chassis: string, recircId: string, kinds: string[], logicalPorts: string[] = []) => ({
  id,
  chassis,
  recircId,
  flow: 'icmp,in_port=1,nw_src=10.0.0.1,nw_dst=10.0.0.2',
  datapathActions: kinds.includes('tunnel') ? 'tnl_push(…)' : 'vif2',
  steps: [],
  verdict: { kinds, logicalPorts, logicalFlow: null, northbound: null },
});
const hop = (fromTraceId: number, toTraceId: number | null, remoteChassis: string, extra: object = {}) => ({
  fromChassis: 'hv1', fromTraceId, remoteIp: `192.168.0.${remoteChassis.slice(2)}`, remoteChassis, vni: 1, ingressKey: 1, egressKey: 2, toTraceId, ...extra,
});

describe('drawPath across chassis', () => {
  it("a flood: each far chassis's pass follows its hop; a hop not from the pass just drawn names its sender", () => {
    const path = {
      id: 4,
      chassis: 'hv1',
      passes: [pass(10, 'hv1', '0', ['tunnel']), pass(11, 'hv1', '0x1', ['tunnel']), pass(20, 'hv2', '0', ['output'], ['lsp2']), pass(21, 'hv2', '0x3', ['output'], ['lsp2']), pass(30, 'hv3', '0', ['output'], ['lsp3'])],
      verdict: { kinds: ['output'], logicalPorts: ['lsp2', 'lsp3'], logicalFlow: null, northbound: null, chassis: 'hv3', incomplete: false, tunnels: [hop(11, 20, 'hv2'), hop(11, 30, 'hv3', { lookBounded: true })] },
    };
    const between = drawPath(path, plain)
      .split('\n')
      .filter((l) => l.startsWith('   │ '));
    expect(between).toEqual(['   │ recirc 0x1', '   │ geneve vni 1 → hv2', '   │ recirc 0x3', '   │ geneve vni 1 → hv3 (nearest unsure) (sent by trace 11)']);
  });

  it('a hop across the physical network: the localnet port, its network and VLAN, the receiving chassis and the flooded copies', () => {
    const ln = { fromChassis: 'hv1', fromTraceId: 10, port: 'pub-ln', network: 'phys', vlan: 100, toChassis: 'hv2', toTraceId: 20, copies: [{ chassis: 'hv3', traceId: 30 }] };
    const path = {
      id: 6,
      chassis: 'hv1',
      passes: [pass(10, 'hv1', '0', ['output'], ['pub-ln']), pass(20, 'hv2', '0', ['recirculate']), pass(21, 'hv2', '0x1', ['output'], ['lsp6'])],
      verdict: { kinds: ['output'], logicalPorts: ['pub-ln', 'lsp6'], logicalFlow: null, northbound: null, chassis: 'hv2', incomplete: false, tunnels: [], localnetHops: [ln] },
    };
    const between = drawPath(path, plain)
      .split('\n')
      .filter((l) => l.startsWith('   │ '));
    expect(between).toEqual(['   │ localnet pub-ln (phys, vlan 100) → hv2, copy on hv3', '   │ recirc 0x1']);
  });

  it('a provisional hop (the receiver may not have stored this arrival yet): the verdict, the hop and why, in the API\'s words', () => {
    const provisionalReason = 'chassis hv2 has stored what its agent traced through 2026-12-07T03:00:01.000Z only: the hop from trace 10 may still link an arrival stored later, until that mark passes 2026-12-07T03:00:01.800Z';
    const path = {
      id: 5,
      chassis: 'hv1',
      passes: [pass(10, 'hv1', '0', ['tunnel']), pass(20, 'hv2', '0', ['output'], ['lsp2'])],
      verdict: { kinds: ['output'], logicalPorts: ['lsp2'], logicalFlow: null, northbound: null, chassis: 'hv2', incomplete: false, provisional: true, provisionalReason, tunnels: [hop(10, 20, 'hv2', { provisional: true })] },
    };
    const lines = drawPath(path, plain).split('\n');
    expect(lines.slice(0, 2)).toEqual(['path 5 on hv1: provisional; output to lsp2', `provisional: ${provisionalReason}`]);
    expect(lines.filter((l) => l.startsWith('   │ '))).toEqual(['   │ geneve vni 1 → hv2 (provisional)']);
  });

  // A path settled without a chassis (hv2 never told what its agent stored, two days on) read like a
  // whole one: nothing in the terminal said hv2 was not waited for; then its verdict line did, and
  // its hop was still drawn like a whole one.
  describe('settled without a chassis: named in the verdict line and after its hop, why under the verdict (the API\'s words); a whole path says neither', () => {
    const path = ({ verdict, hop: marks }: { verdict: object; hop: object }, far: { remoteChassis: string | null; remoteIp: string } = { remoteChassis: 'hv2', remoteIp: '192.168.0.2' }) => ({
      id: 7,
      chassis: 'hv1',
      passes: [pass(10, 'hv1', '0', ['tunnel']), pass(20, 'hv2', '0', ['output'], ['lsp2'])],
      verdict: { kinds: ['output'], logicalPorts: ['lsp2'], logicalFlow: null, northbound: null, chassis: 'hv2', incomplete: false, tunnels: [hop(10, 20, 'hv2', { ...far, ...marks })], ...verdict },
    });
    const hopLines = (text: string) => text.split('\n').filter((l) => l.startsWith('   │ '));

    it('a receiver silent past the bound', async () => {
      const fields = await markFields('settled', 10);
      const text = drawPath(path(fields), plain);
      const lines = text.split('\n');
      expect(lines.slice(0, 3)).toEqual(['path 7 on hv1: settled without hv2; output to lsp2', `settled without hv2: ${fields.verdict.settledReason}`, '']);
      expect(lines[1]).toMatch(/^settled without hv2: chassis hv2 has not told what its agent stored, silent for more than 24 h past \S+: the hop from trace 10 was settled without it: an arrival stored later is linked when the path is read again$/);
      expect(hopLines(text)).toEqual(['   │ geneve vni 1 → hv2 (settled without hv2)']);
      expect(lines.some((l) => l.startsWith('provisional'))).toBe(false);
    });

    it('a chassis unknown for the tunnel, by its IP', async () => {
      const fields = await markFields('settled', 10, null, '192.168.0.9');
      const text = drawPath(path(fields, { remoteChassis: null, remoteIp: '192.168.0.9' }), plain);
      expect(text.split('\n').slice(0, 2)).toEqual(['path 7 on hv1: settled without 192.168.0.9; output to lsp2', `settled without 192.168.0.9: ${fields.verdict.settledReason}`]);
      expect(hopLines(text)).toEqual(['   │ geneve vni 1 → 192.168.0.9 (settled without 192.168.0.9)']);
    });

    it('a whole path, and one still provisional', async () => {
      const whole = drawPath(path({ verdict: {}, hop: {} }), plain);
      expect(whole.split('\n').slice(0, 2)).toEqual(['path 7 on hv1: output to lsp2', '']);
      expect(hopLines(whole)).toEqual(['   │ geneve vni 1 → hv2']);
      const fields = await markFields('provisional', 10);
      const text = drawPath(path(fields), plain);
      expect(text.split('\n').slice(0, 3)).toEqual(['path 7 on hv1: provisional; output to lsp2', `provisional: ${fields.verdict.provisionalReason}`, '']);
      expect(hopLines(text)).toEqual(['   │ geneve vni 1 → hv2 (provisional)']);
    });
  });

  it('two segments of one chassis meet: hv1 floods to hv2 and hv3, hv2 forwards to hv3 again; the second hv3 pass follows its hop, not a recirculation', () => {
    const path = {
      id: 6,
      chassis: 'hv1',
      passes: [pass(10, 'hv1', '0', ['tunnel']), pass(20, 'hv2', '0', ['tunnel']), pass(30, 'hv3', '0', ['output'], ['lsp3']), pass(31, 'hv3', '0', ['output'], ['lsp3'])],
      verdict: { kinds: ['output'], logicalPorts: ['lsp3'], logicalFlow: null, northbound: null, chassis: 'hv3', incomplete: false, tunnels: [hop(10, 20, 'hv2'), hop(10, 30, 'hv3'), { ...hop(20, 31, 'hv3'), fromChassis: 'hv2' }] },
    };
    const between = drawPath(path, plain)
      .split('\n')
      .filter((l) => l.startsWith('   │ '));
    expect(between).toEqual(['   │ geneve vni 1 → hv2', '   │ geneve vni 1 → hv3 (sent by trace 10)', '   │ geneve vni 1 → hv3 (sent by trace 20)']);
  });

  it("an incomplete path says why under its verdict, in the API's words", () => {
    const reason = 'the pass of trace 10 on hv1 sent the packet through a tunnel to 192.168.0.3 (chassis hv3) and no first pass there with that tunnel and packet lies within the time window';
    const path = {
      id: 5,
      chassis: 'hv1',
      passes: [pass(10, 'hv1', '0', ['tunnel'])],
      verdict: { kinds: ['tunnel'], logicalPorts: [], logicalFlow: null, northbound: null, chassis: 'hv1', incomplete: true, incompleteReason: reason, tunnels: [hop(10, null, 'hv3')] },
    };
    expect(drawPath(path, plain).split('\n').slice(0, 2)).toEqual(['path 5 on hv1: incomplete; tunnelled to hv3', `incomplete: ${reason}`]);
  });

  it('a whole path has no such line; the words are the page\'s (web/describe.ts)', () => {
    expect(incompleteWhy({ kinds: ['output'], logicalPorts: ['lsp2'], logicalFlow: null, northbound: null, incomplete: false })).toBeNull();
    // An old answer without a reason says "incomplete" in its verdict and nothing more.
    expect(incompleteWhy({ kinds: ['output'], logicalPorts: ['lsp2'], logicalFlow: null, northbound: null, incomplete: true })).toBeNull();
    expect(hopText({ vni: 7, remoteChassis: null, remoteIp: '192.168.0.9' })).toBe('geneve vni 7 → 192.168.0.9');
    // A VXLAN hop's VNI holds the egress key too (datapath 1 | lsp2's key 2 << 12): called by its encapsulation.
    expect(hopText({ encap: 'vxlan', vni: 8193, remoteChassis: 'hv2', remoteIp: '192.168.0.2' })).toBe('vxlan vni 8193 → hv2');
  });
});
