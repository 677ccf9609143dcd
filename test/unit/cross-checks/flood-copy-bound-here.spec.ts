// A flood copy to a port the southbound binds on THIS chassis that the datapath did not run is a
// difference, even when a tunnel or a localnet copy also left. The live path has no step naming such a
// port (its Port_Binding's physical flows never ran: that is the difference), so which chassis binds it
// comes from the southbound, not from the path. From the real captures of flood-vlan-paths.spec.ts
// (test/fixtures/captured-ovn-trace/<version>/flood-vlan/), with the one local copy cut out of hv1's pass,
// as a pass looks when ovn-controller left the port out of the group's local flow.
// Likewise a live egress for another port than ovn-trace's stands in for it only when that port is a
// localnet port: a VIF here is where the datapath delivered the packet, not a hand-off.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareWithSimulation, LivePassWithSteps } from '../../../src/cross-checks/compare';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { modelFromDumps } from '../../support/captured-model';
import { CAPTURED_OVN_TRACE, capturedVersions, currentFlows } from '../../support/captured-ovn-trace';

interface Captured {
  verdict: { kinds: string[]; logicalPorts: string[] };
  passes: LivePassWithSteps[];
}

/** The pass without the egress segment that ended at `port`'s Port_Binding (and that step). */
function withoutCopy(passes: LivePassWithSteps[], port: string): LivePassWithSteps[] {
  return passes.map((p) => {
    const steps = p.steps ?? [];
    const end = steps.findIndex((s) => s.owners.some((o) => o.table === 'Port_Binding' && o.name === port));
    if (end < 0) return p;
    let start = end;
    while (start > 0 && !steps[start].owners.some((o) => o.table === 'Logical_Flow' && o.pipeline === 'egress' && o.tableId === 0)) start--;
    const kept = steps.filter((_, i) => i < start || i > end);
    expect(kept.some((s) => s.owners.some((o) => o.name === port))).toBe(false);
    return { ...p, steps: kept };
  });
}

describe.each(capturedVersions('flood-vlan'))('%s', (version) => {
  const dir = join(CAPTURED_OVN_TRACE, version, 'flood-vlan');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const path = (name: string) => JSON.parse(read(`${name}-path.json`)) as Captured;
  const model = modelFromDumps(dir, version);
  const port = (name: string) => model.portByName(name);

  it('the capture binds lsp5 and lsp6 on hv1, the chassis that traced', () => {
    expect([port('lsp5')?.chassis, port('lsp6')?.chassis, path('flood').passes[0].chassis]).toEqual(['hv1', 'hv1', 'hv1']);
  });

  it('flood: lsp5 (bound here) got no copy while the Geneve copy to hv2 left: diverged, lsp5 named', () => {
    const p = path('flood');
    const passes = withoutCopy(p.passes, 'lsp5');
    const c = compareWithSimulation(passes, { kinds: ['tunnel'], logicalPorts: [] }, parseOvnTrace(read('flood.ovn-trace.txt')), currentFlows(passes), port);
    expect(c.result).toBe('diverged');
    expect(c.divergence?.explanation).toMatch(/"lsp5" \(bound on hv1\).*although the port is bound here/);
  });

  it('vlan-flood: lsp7 bound here by the southbound (moved to hv1), no local copy, only the localnet copy: diverged', () => {
    const p = path('vlan-flood');
    const movedHere = (name: string) => {
      const r = port(name);
      return r && name === 'lsp7' ? { ...r, chassis: 'hv1' } : r;
    };
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(read('vlan-flood.ovn-trace.txt')), currentFlows(p.passes), movedHere);
    expect(c.result).toBe('diverged');
    expect(c.divergence?.explanation).toMatch(/"lsp7" \(bound on hv1\).*although the port is bound here/);
    // As captured (lsp7 on hv2), its copy is the localnet copy's.
    const asIs = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(read('vlan-flood.ovn-trace.txt')), currentFlows(p.passes), port);
    expect([asIs.result, asIs.notCompared?.pipelines]).toEqual(['match', [{ pipeline: 'egress', datapath: 'sw2', outport: 'lsp7' }]]);
  });

  it.each([
    // As when hv1 still sends by the tunnel of a chassis the port left (or lacks the new chassis's tunnel).
    ['to hv3', { chassis: 'hv3', remoteIp: '192.168.0.3' }, /tunnels went to hv3: .*binding the southbound no longer has/],
    // As when hv2 changed its encap IP (or was deleted) and hv1's flows were not recomputed.
    ['to an IP no Encap names', { chassis: null, remoteIp: '192.168.0.2' }, /tunnels went to 192\.168\.0\.2 \(no southbound Encap names it\): .*encap IP the southbound no longer names/],
  ])('flood: lsp2 is bound on hv2 but the one tunnel copy went %s: lsp2\'s copy was not carried, diverged', (_to, tunnel, why) => {
    const p = path('flood');
    const passes = p.passes.map((x) => {
      const v = (x as unknown as { verdict: { tunnels: Array<{ chassis: string | null; remoteIp: string }> } }).verdict;
      return { ...x, verdict: { ...v, tunnels: v.tunnels.map((t) => ({ ...t, ...tunnel })) } };
    });
    const c = compareWithSimulation(passes, p.verdict, parseOvnTrace(read('flood.ovn-trace.txt')), currentFlows(passes), port);
    expect(c.result).toBe('diverged');
    expect(c.divergence?.explanation).toMatch(/"lsp2" \(bound on hv2\).*no tunnel copy to hv2/);
    expect(c.divergence?.explanation).toMatch(why);
  });

  it('vlan-unicast: delivered to a VIF here (lsp5) where ovn-trace went to lsp7 on hv2: no localnet hand-off, diverged', () => {
    // As a stale FDB or L2 rule on hv1 delivers it: the same logical flows, the egress for a local VIF
    // instead of OVN's remote-port flow and the localnet port's.
    const p = path('vlan-unicast');
    const passes = p.passes.map((x) => ({
      ...x,
      steps: (x.steps ?? [])
        .filter((st) => !st.owners.some((o) => o.name === 'lsp7'))
        .map((st) => ({ ...st, owners: st.owners.map((o) => (o.name === 'ln-sw2' ? { ...o, name: 'lsp5', summary: 'Port Binding: logical_port "lsp5", chassis-name "hv1"' } : o)) })),
    }));
    const c = compareWithSimulation(passes, { kinds: ['output'], logicalPorts: ['lsp5'] }, parseOvnTrace(read('vlan-unicast.ovn-trace.txt')), currentFlows(passes), port);
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipeline: 'egress', datapath: 'sw2' });
    // As captured, the egress for ln-sw2 is the localnet port's hand-off.
    const asIs = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(read('vlan-unicast.ovn-trace.txt')), currentFlows(p.passes), port);
    expect([asIs.result, asIs.notCompared?.pipelines]).toEqual(['match', [{ pipeline: 'egress', datapath: 'sw2', outport: 'lsp7' }]]);
  });

  it('flood: the captured pass, with both copies, still matches', () => {
    const p = path('flood');
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(read('flood.ovn-trace.txt')), currentFlows(p.passes), port);
    expect([c.result, c.divergence?.explanation ?? null]).toEqual(['match', null]);
  });
});
