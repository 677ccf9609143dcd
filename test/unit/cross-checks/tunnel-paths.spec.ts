// The sending chassis's path of a packet that leaves through Geneve, on every supported pair: real
// passes stored by a service on hv1 of a three-chassis sandbox and the real ovn-trace output the
// service compared them with (scripts/capture-ovn-trace-fixtures --tunnel:
// test/fixtures/captured-ovn-trace/<version>/tunnel/). hv1 runs the ingress pipeline(s) up to the
// tunnel; the egress of the last switch runs on the receiver. A routed packet's one pass names an
// inport per datapath it crossed (lsp1, lr0-sw0, sw1-lr0), stored in name order.
// stale-encap(-flood): hv2 changed its encap IP while hv1's ovn-controller was paused, so hv1 still
// tunnels a packet for lsp2 (bound on hv2), and an ARP flood's copy for it, to hv2's old IP, which no
// southbound Encap names (the pass's tunnel: chassis null).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareWithSimulation, LivePassWithSteps, LogicalFlowResolver } from '../../../src/cross-checks/compare';
import { boundChassis, tunnelCarries } from '../../../src/cross-checks/fan-out';
import { buildMicroflow } from '../../../src/cross-checks/microflow';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { CAPTURED_OVN_TRACE, capturedVersions, currentFlows } from '../../support/captured-ovn-trace';

const ROOT = CAPTURED_OVN_TRACE;
const VERSIONS = capturedVersions('tunnel');

interface Captured {
  verdict: { kinds: string[]; logicalPorts: string[] };
  passes: LivePassWithSteps[];
}

const current = (p: Captured): LogicalFlowResolver => currentFlows(p.passes);

it('tunnel captures exist for the three supported pairs', () => {
  expect(VERSIONS).toEqual(expect.arrayContaining(['ovs-3.1.0_ovn-23.03.1', 'ovs-3.5.0_ovn-25.03.0', 'ovs-4.0.0_ovn-26.03.1']));
});

describe.each(VERSIONS)('the sending chassis of %s', (version) => {
  const dir = join(ROOT, version, 'tunnel');
  const path = (name: string) => JSON.parse(readFileSync(join(dir, `tunnel-${name}-path.json`), 'utf8')) as Captured;
  const text = (name: string) => readFileSync(join(dir, `tunnel-${name}.ovn-trace.txt`), 'utf8');

  it('routed: ovn-trace starts where the packet entered, lsp1 on sw0, not at the router port stored first', () => {
    const p = path('routed');
    expect(p.passes[0].logicalPorts.filter((x) => x.role === 'inport' && x.scope === 'pass').map((x) => x.name)).toEqual(['lr0-sw0', 'lsp1', 'sw1-lr0']);
    expect(buildMicroflow(p.passes)).toMatchObject({ datapath: 'sw0', inport: 'lsp1' });
    expect(buildMicroflow(p.passes).expression).toMatch(/^inport == "lsp1" && /);
  });

  it.each([
    ['same-switch', ['ingress/sw0'], 'sw0', 'lsp2'],
    ['routed', ['ingress/sw0', 'egress/sw0', 'ingress/lr0', 'egress/lr0', 'ingress/sw1'], 'sw1', 'lsp3'],
  ])('%s: matches up to the tunnel; the receiver\'s egress is named, not a divergence', (name, compared, lastSwitch, outport) => {
    const p = path(name);
    expect(p.verdict.kinds).toEqual(['tunnel']);
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text(name)), current(p));
    expect(c.divergence).toBeNull();
    expect(c.result).toBe('match');
    expect(c.pipelines.map((x) => `${x.pipeline}/${x.datapath}`)).toEqual(compared);
    expect(c.notCompared?.pipelines).toEqual([{ pipeline: 'egress', datapath: lastSwitch, outport }]);
  });

  it('a path that did not leave through a tunnel still diverges where ovn-trace went on', () => {
    const p = path('same-switch');
    const c = compareWithSimulation(p.passes, { kinds: ['output'], logicalPorts: ['lsp2'] }, parseOvnTrace(text('same-switch')), current(p));
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipelineIndex: 1, pipeline: 'egress', live: null });
  });
});

describe.each(VERSIONS)('the tunnel of a unicast goes to its outport\'s chassis (%s)', (version) => {
  const dir = join(ROOT, version, 'tunnel');
  const path = (name: string) => JSON.parse(readFileSync(join(dir, `tunnel-${name}-path.json`), 'utf8')) as Captured;
  const text = (name: string) => readFileSync(join(dir, `tunnel-${name}.ovn-trace.txt`), 'utf8');
  /** The real capture with its tunnel's remote chassis changed (not captured so): as when hv1's ovn-controller still tunnels by a chassis the port left. */
  const tunnelTo = (p: Captured, chassis: string): LivePassWithSteps[] =>
    p.passes.map((x) => {
      const v = (x as unknown as { verdict: { tunnels: Array<{ chassis: string | null; remoteIp: string }> } }).verdict;
      return { ...x, verdict: { ...v, tunnels: v.tunnels.map((t) => ({ ...t, chassis, remoteIp: `192.168.0.${chassis.slice(2)}` })) } };
    });

  it.each([
    ['same-switch', 'lsp2', 'hv2'],
    ['routed', 'lsp3', 'hv3'],
  ])('%s: %s is bound on %s but the tunnel went elsewhere: diverged, naming both chassis', (name, outport, boundOn) => {
    const p = path(name);
    const wrong = boundOn === 'hv2' ? 'hv3' : 'hv2';
    const passes = tunnelTo(p, wrong);
    const c = compareWithSimulation(passes, p.verdict, parseOvnTrace(text(name)), current(p));
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipeline: 'egress', live: null });
    expect(c.divergence?.explanation).toContain(`"${outport}" (bound on ${boundOn})`);
    expect(c.divergence?.explanation).toContain(`tunnel to ${wrong}`);
  });

  it('the captured tunnel (to the chassis the outport is bound on) still matches', () => {
    const p = path('same-switch');
    const c = compareWithSimulation(tunnelTo(p, 'hv2'), p.verdict, parseOvnTrace(text('same-switch')), current(p));
    expect(c.result).toBe('match');
  });
});

describe.each(VERSIONS)('a tunnel to an IP no Encap names does not carry a packet to a port bound on a known chassis (%s)', (version) => {
  const dir = join(ROOT, version, 'tunnel');
  const path = (name: string) => JSON.parse(readFileSync(join(dir, `tunnel-${name}-path.json`), 'utf8')) as Captured;
  const text = (name: string) => readFileSync(join(dir, `tunnel-${name}.ovn-trace.txt`), 'utf8');
  const tunnels = (p: Captured) => p.passes.flatMap((x) => x.verdict?.tunnels ?? []);

  it('the captures tunnel to hv2\'s old IP, 192.168.0.2, which no Encap named when traced', () => {
    for (const name of ['stale-encap', 'stale-encap-flood']) expect([name, tunnels(path(name))]).toEqual([name, [expect.objectContaining({ chassis: null, remoteIp: '192.168.0.2' })]]);
  });

  it('stale-encap: lsp2 is bound on hv2 (as the pass saw it): diverged, naming the IP and hv2', () => {
    const p = path('stale-encap');
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text('stale-encap')), current(p));
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipeline: 'egress', datapath: 'sw0', live: null });
    expect(c.divergence?.explanation).toMatch(/"lsp2" \(bound on hv2\).*by a tunnel to 192\.168\.0\.2 \(no southbound Encap names it\), none to hv2: .*encap IP the southbound no longer names/);
  });

  it('stale-encap-flood: the copy to lsp2 (bound on hv2) went by that tunnel: diverged, naming the IP and hv2', () => {
    const p = path('stale-encap-flood');
    // The flood's pass has no step naming lsp2 (its copy's egress runs on the receiver): where lsp2 is
    // bound comes from the southbound, here as the unicast's pass, traced in the same state, saw it.
    const bound = boundChassis(path('stale-encap').passes);
    const portOf = (name: string) => (bound(name) === undefined ? null : { type: '', tag: null, chassis: bound(name)! });
    expect(portOf('lsp2')).toMatchObject({ chassis: 'hv2' });
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text('stale-encap-flood')), current(p), portOf);
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipeline: 'egress', datapath: 'sw0', live: null });
    expect(c.divergence?.explanation).toMatch(/flood sent a copy to "lsp2" \(bound on hv2\).*no tunnel copy to hv2.*its tunnels went to 192\.168\.0\.2 \(no southbound Encap names it\)/);
    // Where lsp2 is bound cannot be told: taken as carried.
    expect(compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text('stale-encap-flood')), current(p)).result).toBe('match');
  });
});

it.each([
  ['bound nowhere (a patch port)', null, [{ chassis: null }], true],
  ['bound where it cannot be told', undefined, [{ chassis: null }], true],
  ['a pass that names no tunnel', 'hv2', [], true],
  ['the tunnel to its chassis', 'hv2', [{ chassis: 'hv2' }], true],
  ['a tunnel to its chassis among one to an IP no Encap names', 'hv2', [{ chassis: null }, { chassis: 'hv2' }], true],
  ['only a tunnel to an IP no Encap names', 'hv2', [{ chassis: null, remoteIp: '192.168.0.2' }], false],
  ['only a tunnel to another chassis', 'hv2', [{ chassis: 'hv3' }], false],
])('tunnelCarries, a port %s', (_what, at, to, carried) => {
  expect(tunnelCarries(at, to)).toBe(carried);
});
