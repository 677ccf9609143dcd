// The --ct derivation and the stage-by-stage comparison on real live paths of every supported pair
// and the real ovn-trace output the service compared each with (scripts/capture-ovn-trace-fixtures
// --live: test/fixtures/captured-ovn-trace/<version>/live/). Same-switch, routed, SNAT and
// load-balanced paths match; with ovn-controller paused behind an ACL turned drop they diverge at
// the ACL stage; the ct_commit excuse does not hide a difference conntrack state cannot explain.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareWithSimulation, explainedByMissingPasses, LivePassWithSteps, LogicalFlowResolver } from '../../../src/cross-checks/compare';
import { feedCtStates, liveCtPasses } from '../../../src/cross-checks/ct-sequence';
import type { Microflow } from '../../../src/cross-checks/microflow';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { CAPTURED_OVN_TRACE, capturedVersions, currentFlows } from '../../support/captured-ovn-trace';

const ROOT = CAPTURED_OVN_TRACE;
const VERSIONS = capturedVersions('live');

interface Captured {
  verdict: { kinds: string[]; logicalPorts: string[] };
  microflow: Microflow;
  passes: LivePassWithSteps[];
}

const current = (p: Captured): LogicalFlowResolver => currentFlows(p.passes);
/** Resolves nothing: every live flow counts as gone from the southbound (ovn-controller lagging). */
const nothing: LogicalFlowResolver = () => [];

it('live captures exist for the three supported pairs', () => {
  expect(VERSIONS).toEqual(expect.arrayContaining(['ovs-3.1.0_ovn-23.03.1', 'ovs-3.5.0_ovn-25.03.0', 'ovs-4.0.0_ovn-26.03.1']));
});

describe.each(VERSIONS)('live paths of %s', (version) => {
  const dir = join(ROOT, version, 'live');
  const path = (name: string) => JSON.parse(readFileSync(join(dir, `${name}-path.json`), 'utf8')) as Captured;
  const text = (name: string) => readFileSync(join(dir, `${name}.ovn-trace.txt`), 'utf8');

  it.each(['icmp', 'routed', 'snat', 'lb-vip'])('%s: the --ct values the service settled on are the ones its output calls for, and it matches', (name) => {
    const p = path(name);
    const sim = parseOvnTrace(text(name));
    const feed = feedCtStates(sim, liveCtPasses(p.passes));
    expect(feed.flags).toEqual(p.microflow.ctStates);
    expect(feed.sections.filter((s) => s.flag).every((s) => s.liveTraceId !== null)).toBe(true);
    const c = compareWithSimulation(p.passes, p.verdict, sim, current(p));
    expect(c.divergence).toBeNull();
    expect(c.result).toBe('match');
  });

  it('routed: the egress toward the router port differs only by the conntrack state OVS cleared, and is excused for that', () => {
    const p = path('routed');
    const sim = parseOvnTrace(text('routed'));
    const c = compareWithSimulation(p.passes, p.verdict, sim, current(p));
    expect(c.pipelines.map((x) => `${x.pipeline}/${x.datapath}`)).toEqual(['ingress/sw0', 'egress/sw0', 'ingress/lr0', 'egress/lr0', 'ingress/sw1', 'egress/sw1']);
    const hint = sim.pipelines[1].stages.find((s) => s.stage === 'ls_out_acl_hint')!;
    expect(c.pipelines[1].excused.ctClearedByCommit).toContain(hint.table);
    // Nothing before the ingress ct_commit is excused that way.
    expect(c.pipelines[0].excused.ctClearedByCommit ?? []).toEqual([]);
  });

  it('routed: a difference in the cleared region that conntrack state does not explain still diverges', () => {
    const p = path('routed');
    const t = text('routed');
    // ovn-trace's egress ACL hint no longer tests conntrack: the live !ct.trk flow is then unexplained.
    const hint = parseOvnTrace(t).pipelines[1].stages.find((s) => s.stage === 'ls_out_acl_hint')!;
    const lines = t.split('\n');
    lines[hint.line - 1] = lines[hint.line - 1].replace(/: ct\.new && !ct\.est, priority/, ': ip, priority');
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(lines.join('\n')), current(p));
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipelineIndex: 1, stage: 'ls_out_acl_hint' });
    // The router's route is not conntrack business either.
    const route = parseOvnTrace(t).pipelines[2].stages.find((s) => s.stage === 'lr_in_ip_routing')!;
    const c2 = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(t.replace(`uuid ${route.uuid}`, 'uuid 0badc0de')), current(p));
    expect(c2.divergence).toMatchObject({ pipeline: 'ingress', datapath: 'lr0', stage: 'lr_in_ip_routing' });
  });

  // ovn-trace reads no Static_MAC_Binding on any pair (utilities/ovn-trace.c read_mac_bindings: MAC_Binding only).
  it('routed-static: the divergence after get_arp names the Static_MAC_Binding the datapath used', () => {
    const p = path('routed-static');
    const t = text('routed-static');
    expect(t).toContain('/* No MAC binding. */');
    const row = p.passes.flatMap((x) => x.steps ?? []).flatMap((s) => s.owners).find((o) => o.table === 'Static_MAC_Binding')!;
    const [, ip, port, mac] = /ip "([^"]+)", logical_port "([^"]+)", mac "([^"]+)"/.exec(row.summary ?? '')!;
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(t), current(p));
    expect(c).toMatchObject({ result: 'diverged', divergence: { pipeline: 'ingress', datapath: 'lr0', stage: 'lr_in_arp_request' } });
    expect(c.divergence!.explanation).toContain(`the datapath used Static_MAC_Binding ${ip} → ${mac} on ${port}, which ovn-trace does not read`);
    expect(c.divergence!.explanation).toContain(`found no MAC binding for ${ip}`);
  });

  it('snat: the router NAT after sw0 conntrack takes no --ct; each flag stands for a live pass', () => {
    const sim = parseOvnTrace(text('snat'));
    const feed = feedCtStates(sim, liveCtPasses(path('snat').passes));
    expect(feed.sections.find((s) => /^ct_snat/.test(s.kind))).toMatchObject({ consumesCt: false, flag: null });
    expect(feed.sections[0]).toMatchObject({ kind: 'ct_lb_mark', consumesCt: true, flag: 'new,trk' });
  });

  it('lb-vip: the pass after the LB commit is new|trk|dnat and feeds the backend ct_lb_mark', () => {
    const p = path('lb-vip');
    const feed = feedCtStates(parseOvnTrace(text('lb-vip')), liveCtPasses(p.passes));
    expect(feed.flags.slice(0, 2)).toEqual(['new,trk', 'new,trk,dnat']);
    expect(p.verdict).toEqual({ kinds: ['output'], logicalPorts: ['lsp2'] });
  });

  // An incomplete live path (a pass not traced) diverges from ovn-trace where it has nothing to
  // compare: that is no disagreement of the tools (the service answers 422). A pass missing at the
  // start (an arrival whose sender was not traced: its pipelines start later than ovn-trace's) was
  // answered 'diverged', "ovn-trace went through ingress(dp="sw0"), the live path through egress".
  it('routed with a pass missing at its end or its start: the divergence is where the live path has nothing; a real one is not', () => {
    const p = path('routed');
    const sim = parseOvnTrace(text('routed'));
    const headless = p.passes.map((x) => ({ ...x, steps: x.steps?.filter((s) => !s.owners.some((o) => o.pipeline === 'ingress' && o.datapaths?.some((d) => d.name === 'sw0'))) }));
    for (const passes of [p.passes.slice(0, 1), headless]) {
      const c = compareWithSimulation(passes, p.verdict, sim, current(p));
      expect(c.result).toBe('diverged');
      expect(explainedByMissingPasses(c)).toBe(true);
    }
    const real = path('acl-changed-routed');
    expect(explainedByMissingPasses(compareWithSimulation(real.passes, real.verdict, parseOvnTrace(text('acl-changed-routed')), nothing))).toBe(false);
  });

  // A path missing passes at its end (a recirculation not traced yet) is incomplete too, but its
  // live side runs out, nowhere else: where both tools went through a pipeline and differ on which,
  // that is a disagreement whatever passes are missing later. Only a path missing its start begins
  // in another pipeline than ovn-trace's, at the first.
  it('routed: a pipeline both reached and differ on, past the first, is not explained by missing passes', () => {
    const p = path('routed');
    const sim = parseOvnTrace(text('routed'));
    sim.pipelines[2] = { ...sim.pipelines[2], datapath: 'lr9' };
    const c = compareWithSimulation(p.passes, p.verdict, sim, current(p));
    expect(c.divergence).toMatchObject({ pipelineIndex: 2, datapath: 'lr9' });
    expect(c.divergence!.live).not.toBeNull();
    expect(explainedByMissingPasses(c)).toBe(false);
  });

  it.each(['same-switch', 'routed', 'snat', 'load-balanced'])('%s behind an ACL turned drop with ovn-controller paused diverges at the ACL stage', (what) => {
    const p = path(`acl-changed-${what}`);
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text(`acl-changed-${what}`)), nothing);
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipelineIndex: 0, pipeline: 'ingress', datapath: 'sw0', stage: expect.stringMatching(/^ls_in_acl(_eval)?$/) });
    expect(c.divergence!.live).toMatchObject({ stale: true });
    expect(c.verdicts.simulated.dropped).toBe(true);
  });
});
