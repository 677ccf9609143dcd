// ovn-trace's copies of every flood set in the order a chassis's datapath ran them, on real outputs
// holding several floods (scripts/capture-ovn-trace-fixtures: <version>/two-floods.txt, mcast-relay.txt).
// The live side is what one chassis ran, as live-segments.ts cuts it: its own copies in its own order,
// each followed by what that copy went on to; copies to ports on other chassis left by tunnel and have
// no segment here.
//  - two-floods: lsp1's packet to an Ethernet multicast address floods sw0 (lsp1 omitted as the inport,
//    lsp2, lsp3, the router port sw0-lr0, the port named we"ird…), and the router copy, routed by lr0 to
//    a MAC no port has, floods sw1 as unknown unicast (lsp5, lsp6). OVN 26.03 floods such a packet to
//    _MC_flood_l2, which holds no router port: one flood there.
//  - mcast-relay: lsp1's UDP packet to 239.1.1.1 (joined by lsp2, lsp3 on sw0, lsp4 on sw1) floods sw0's
//    mrouter ports (a clone: the router port), lr0 relays it to its group (lr0-sw0 omitted, lr0-sw1),
//    sw1 to its mrouter ports (sw1-lr0 omitted) and to its group (lsp4), then sw0's group (lsp2, lsp3).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alignFloodCopies, SegmentShape } from '../../../src/cross-checks/fan-out';
import { OvnTraceResult, parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { CAPTURED_OVN_TRACE } from '../../support/captured-ovn-trace';

const PAIRS = ['ovs-3.1.0_ovn-23.03.1', 'ovs-3.5.0_ovn-25.03.0', 'ovs-4.0.0_ovn-26.03.1'];
const captured = (name: string) => readdirSync(CAPTURED_OVN_TRACE).filter((d) => existsSync(join(CAPTURED_OVN_TRACE, d, `${name}.txt`)));
const load = (version: string, name: string) => parseOvnTrace(readFileSync(join(CAPTURED_OVN_TRACE, version, `${name}.txt`), 'utf8'));
const floods = (sim: OvnTraceResult) => sim.sections.filter((s) => s.title.startsWith('multicast(')).map((s) => s.title);
const onePerFlood = (version: string) => /_ovn-26\./.test(version);

const WEIRD = 'we"ird\\ $(x);';
const ingress = (datapath: string): SegmentShape => ({ pipeline: 'ingress', datapath, outport: null });
const egress = (datapath: string, outport: string): SegmentShape => ({ pipeline: 'egress', datapath, outport });
/** sw0's copy to the router port and what it went on to, up to sw1's flood. */
const ROUTED = [egress('sw0', 'sw0-lr0'), ingress('lr0'), egress('lr0', 'lr0-sw1'), ingress('sw1')];
const shape = (p: { pipeline: string; datapath: string | null; outport: string | null }) => `${p.pipeline}(${p.datapath})${p.outport ? ` -> ${p.outport}` : ''}`;

function expectAligned(sim: OvnTraceResult, live: SegmentShape[], apart: string[]) {
  const a = alignFloodCopies(sim, live);
  expect(a.pipelines.map(shape)).toEqual(live.map(shape));
  expect(a.unmatched.map((c) => c.outport)).toEqual(apart);
  for (const c of a.unmatched) expect(c.pipelines.map((p) => p.outport)).toEqual([c.outport]);
  // The outputs of the copies that ran here, and no other.
  expect(a.matchedOutputs.map((o) => o.port)).toEqual(live.filter((s) => s.pipeline === 'egress').map((s) => s.outport));
}

it('captures of several floods exist for the three supported pairs', () => {
  expect([captured('two-floods'), captured('mcast-relay')]).toEqual([expect.arrayContaining(PAIRS), expect.arrayContaining(PAIRS)]);
});

describe.each(captured('two-floods'))('two-floods (%s)', (version) => {
  const sim = load(version, 'two-floods');

  it(`holds ${onePerFlood(version) ? 'one flood, of _MC_flood_l2 (no router port)' : 'both floods, the second in the router copy of the first'}`, () => {
    expect(floods(sim)).toEqual(
      onePerFlood(version)
        ? ['multicast(dp="sw0", mcgroup="_MC_flood_l2")']
        : ['multicast(dp="sw0", mcgroup="_MC_flood")', 'multicast(dp="sw1", mcgroup="_MC_unknown")'],
    );
  });
});

describe.each(captured('two-floods').filter((v) => !onePerFlood(v)))('two-floods: sw0\'s flood and sw1\'s unknown unicast (%s)', (version) => {
  const sim = load(version, 'two-floods');

  it('has the copies this table names', () => {
    expect(sim.pipelines.filter((p) => p.pipeline === 'egress' && p.datapath !== 'lr0').map((p) => p.outport)).toEqual(['lsp1', 'lsp2', 'lsp3', 'sw0-lr0', 'lsp5', 'lsp6', WEIRD]);
  });

  it.each([
    ['every copy here, in ovn-trace\'s order', [ingress('sw0'), egress('sw0', 'lsp2'), egress('sw0', 'lsp3'), ...ROUTED, egress('sw1', 'lsp5'), egress('sw1', 'lsp6'), egress('sw0', WEIRD)], []],
    ['sw1\'s second copy here, its first by tunnel', [ingress('sw0'), egress('sw0', 'lsp3'), ...ROUTED, egress('sw1', 'lsp6')], ['lsp2', 'lsp5', WEIRD]],
    ['the router copy first, sw1\'s copies the other way round, sw0\'s last two swapped', [ingress('sw0'), ...ROUTED, egress('sw1', 'lsp6'), egress('sw1', 'lsp5'), egress('sw0', WEIRD), egress('sw0', 'lsp3')], ['lsp2']],
    ['sw1\'s copies all by tunnel', [ingress('sw0'), egress('sw0', 'lsp3'), ...ROUTED], ['lsp2', 'lsp5', 'lsp6', WEIRD]],
  ])('%s: each flood\'s copies in the live order, the others apart', (_what, live, apart) => {
    expectAligned(sim, live, apart);
  });
});

describe.each(captured('mcast-relay'))('mcast-relay: a multicast relayed by lr0 (%s)', (version) => {
  const sim = load(version, 'mcast-relay');
  const RELAYED = [...ROUTED, egress('sw1', 'lsp4')];

  it('holds the floods of sw0, lr0 and sw1, and sw0\'s group', () => {
    expect(floods(sim)).toEqual([
      'multicast(dp="sw0", mcgroup="_MC_mrouter_flood")',
      'multicast(dp="lr0", mcgroup="239.1.1.1")',
      'multicast(dp="sw1", mcgroup="_MC_mrouter_flood")',
      'multicast(dp="sw1", mcgroup="239.1.1.1")',
      'multicast(dp="sw0", mcgroup="239.1.1.1")',
    ]);
  });

  it.each([
    ['every copy here, in ovn-trace\'s order', [ingress('sw0'), ...RELAYED, egress('sw0', 'lsp2'), egress('sw0', 'lsp3')], []],
    ['sw0\'s group copies the other way round', [ingress('sw0'), ...RELAYED, egress('sw0', 'lsp3'), egress('sw0', 'lsp2')], []],
    ['lsp4 and lsp2 by tunnel', [ingress('sw0'), ...ROUTED, egress('sw0', 'lsp3')], ['lsp4', 'lsp2']],
  ])('%s: each flood\'s copies in the live order, the omitted ones left out, the others apart', (_what, live, apart) => {
    expectAligned(sim, live, apart);
  });
});
