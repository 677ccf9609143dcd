// feedCtStates on real ovn-trace outputs (scripts/capture-ovn-trace-fixtures) with live passes
// that do or do not stand where ovn-trace's conntrack actions resumed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { feedCtStates, LiveCtPass, OVN_TRACE_DEFAULT_CT } from '../../../src/cross-checks/ct-sequence';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';

const load = (version: string, name: string) => parseOvnTrace(readFileSync(join(__dirname, '../../fixtures/captured-ovn-trace', version, `${name}.txt`), 'utf8'));
const pass = (traceId: number, ctState: string, pipeline: 'ingress' | 'egress', datapath: string | null, tableId: number | null): LiveCtPass => ({ traceId, ctState, pipeline, datapath, tableId });

describe('feedCtStates', () => {
  it('gives each consuming section the state of the live pass that resumed there, in order', () => {
    const sim = load('ovs-3.5.0_ovn-25.03.0', 'icmp-new');
    const feed = feedCtStates(sim, [pass(2, 'new,trk', 'ingress', 'sw0', 7), pass(3, 'est,trk', 'egress', 'sw0', 5)]);
    expect(feed.flags).toEqual(['new,trk', 'est,trk']);
    expect(feed.sections.map((s) => s.liveTraceId)).toEqual([2, 3]);
  });

  it("a live pass of another pipeline or datapath does not stand for a section; ovn-trace's default is given there", () => {
    const sim = load('ovs-3.5.0_ovn-25.03.0', 'icmp-new');
    const feed = feedCtStates(sim, [pass(3, 'new,trk', 'egress', 'sw0', 5)]);
    expect(feed.flags).toEqual([OVN_TRACE_DEFAULT_CT, 'new,trk']);
    expect(feed.sections.map((s) => s.liveTraceId)).toEqual([null, 3]);
    expect(feedCtStates(sim, [pass(9, 'new,trk', 'ingress', 'sw1', 7)]).sections[0].liveTraceId).toBeNull();
  });

  it('a live pass that resumed after the first stage ovn-trace printed is not that section (ovn-trace only omits stages, never adds)', () => {
    const sim = load('ovs-3.5.0_ovn-25.03.0', 'icmp-new');
    const first = sim.sections[0].resumesAt!.table;
    expect(feedCtStates(sim, [pass(2, 'new,trk', 'ingress', 'sw0', first + 1)]).sections[0].liveTraceId).toBeNull();
  });

  it('sections that take no --ct (NAT on a packet ovn-trace holds tracked) still consume their live pass', () => {
    const sim = load('ovs-4.0.0_ovn-26.03.1', 'snat');
    const ct = sim.sections.filter((s) => s.conntrack);
    const live = ct.map((s, i) => pass(10 + i, i === 0 ? 'new,trk' : 'new,trk,snat', sim.pipelines[s.resumesAt!.pipelineIndex].pipeline, sim.pipelines[s.resumesAt!.pipelineIndex].datapath, s.resumesAt!.table));
    const feed = feedCtStates(sim, live);
    expect(feed.sections.map((s) => s.liveTraceId)).toEqual(live.map((l) => l.traceId));
    expect(feed.flags).toHaveLength(ct.filter((s) => s.consumesCt).length);
    expect(feed.sections.filter((s) => !s.consumesCt).every((s) => s.flag === null)).toBe(true);
  });
});
