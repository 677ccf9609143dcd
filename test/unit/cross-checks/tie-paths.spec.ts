// Two equal-priority logical flows that both match, each tool running another (src/cross-checks/tie.ts),
// from real daemons (scripts/capture-ovn-trace-fixtures --tie: test/fixtures/captured-ovn-trace/<version>/tie/,
// one chassis): lsp1's UDP broadcast on sw0, whose copy to the router port sw0-lr0 matches ls_out_pre_lb's
// `eth.mcast → next;` and `ip && outport == "sw0-lr0" → ct_clear; next;` (26.03: `flags.pkt_sampled = 0;`
// first), both at priority 110. Both arrangements are captured: tie-mcast (OVS ran eth.mcast, ovn-trace the
// router port's flow) and tie-router (the other way). The flows are resolved from that run's southbound,
// as the service's replica resolves them. Cases marked "edited" change the captured ovn-trace text or a
// resolved row to make what the daemons did not: a later stage that differs, another priority, a stale flow.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareWithSimulation, LivePassWithSteps, LogicalFlowResolver } from '../../../src/cross-checks/compare';
import { logicalFlowResolver } from '../../../src/cross-checks/live-segments';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { dumpToUpdates } from '../../../src/ovn/fixture-loader';
import { modelFromDumps } from '../../support/captured-model';
import { CAPTURED_OVN_TRACE, capturedVersions } from '../../support/captured-ovn-trace';

const VERSIONS = capturedVersions('tie');
const MCAST = 'eth.mcast';
const ROUTER_PORT = 'ip && outport == "sw0-lr0"';

it('tie captures exist for the three pairs', () => {
  expect(VERSIONS).toEqual(expect.arrayContaining(['ovs-3.1.0_ovn-23.03.1', 'ovs-3.5.0_ovn-25.03.0', 'ovs-4.0.0_ovn-26.03.1']));
});

describe.each(VERSIONS)('%s', (version) => {
  const dir = join(CAPTURED_OVN_TRACE, version, 'tie');
  type Name = 'tie-mcast' | 'tie-router';
  const path = (name: Name) => JSON.parse(readFileSync(join(dir, `${name}-path.json`), 'utf8')) as { verdict: { kinds: string[]; logicalPorts: string[] }; passes: LivePassWithSteps[] };
  const text = (name: Name) => readFileSync(join(dir, `${name}.ovn-trace.txt`), 'utf8');
  const resolverOf = (name: Name) => logicalFlowResolver(modelFromDumps(dir, version, [], `${name}.`));
  const compare = (name: Name, edit: { sim?: (t: string) => string; resolve?: (r: LogicalFlowResolver) => LogicalFlowResolver } = {}) => {
    const p = path(name);
    const resolve = resolverOf(name);
    return compareWithSimulation(p.passes, p.verdict, parseOvnTrace((edit.sim ?? ((t) => t))(text(name))), edit.resolve ? edit.resolve(resolve) : resolve);
  };
  /** The tied flows: the live one and ovn-trace's, by capture. */
  const tied = (name: Name) => (name === 'tie-mcast' ? { live: MCAST, sim: ROUTER_PORT } : { live: ROUTER_PORT, sim: MCAST });
  /** The southbound row of ls_out_pre_lb's flow with this match. */
  const row = (name: Name, match: string) => {
    const flows = dumpToUpdates(readFileSync(join(dir, `${name}.southbound.json`), 'utf8')).Logical_Flow;
    const found = Object.entries(flows).filter(([, r]) => r.initial!.match === match && JSON.stringify(r.initial!.external_ids).includes('"ls_out_pre_lb"'));
    expect(found).toHaveLength(1);
    return { uuid: found[0][0], priority: found[0][1].initial!.priority as number };
  };
  /** ovn-trace's stage lines of its egress to sw0-lr0, and where in the text they are. */
  const routerEgress = (t: string) => {
    const lines = t.split('\n');
    const head = lines.findIndex((l) => l.includes('outport="sw0-lr0"'));
    const stages: number[] = [];
    for (let i = head + 2; i < lines.length && !/^\s*$/.test(lines[i]); i++) if (/^\s*\d+\. /.test(lines[i])) stages.push(i);
    return { lines, stages };
  };
  /** Edited: a stage inserted into ovn-trace's egress to sw0-lr0 right after ls_out_pre_lb, at the live path's next table. */
  const insertAfterPreLb = (name: Name, match: string, uuid: string) => (t: string) => {
    const { lines, stages } = routerEgress(t);
    const at = stages.find((i) => lines[i].includes('ls_out_pre_lb'))!;
    const [, indent, table] = /^(\s*)(\d+)\. /.exec(lines[at])!;
    const next = Number(table) + 1;
    const stage = path(name).passes.flatMap((p) => p.steps ?? []).flatMap((s) => s.owners).find((o) => o.pipeline === 'egress' && o.tableId === next)!.stage;
    lines.splice(stages[stages.indexOf(at) + 1] ?? at + 3, 0, `${indent}${next}. ${stage} (northd.c:1): ${match}, priority 1, uuid ${uuid}`, `${indent}    next;`);
    return lines.join('\n');
  };

  it('the captures are what they say: each tool ran its own one of the two flows for the router port', () => {
    for (const name of ['tie-mcast', 'tie-router'] as const) {
      const { live, sim } = tied(name);
      expect(row(name, live).priority).toBe(row(name, sim).priority);
      // lsp2's copy runs eth.mcast too: the router port's copy ran eth.mcast (twice in all) or its own flow.
      const cookies = path(name).passes.flatMap((p) => p.steps ?? []).map((s) => s.cookie?.replace(/^0x/, '').padStart(8, '0'));
      const times = (match: string) => cookies.filter((c) => c === row(name, match).uuid.slice(0, 8)).length;
      expect([times(MCAST), times(ROUTER_PORT)]).toEqual(name === 'tie-mcast' ? [2, 0] : [1, 1]);
      const { lines, stages } = routerEgress(text(name));
      expect(stages.map((i) => lines[i]).find((l) => l.includes('ls_out_pre_lb'))).toContain(`uuid ${row(name, sim).uuid.slice(0, 8)}`);
    }
  });

  it.each(['tie-mcast', 'tie-router'] as const)('%s: a tie OVS broke otherwise than ovn-trace, not a divergence: match, both flows named', (name) => {
    const { live, sim } = tied(name);
    const c = compare(name);
    expect(c.divergence?.explanation ?? null).toBeNull();
    expect(c.result).toBe('match');
    expect(c.ties).toHaveLength(1);
    const t = c.ties![0];
    expect(t).toMatchObject({ pipeline: 'egress', datapath: 'sw0', stage: 'ls_out_pre_lb', priority: row(name, live).priority, followedBy: [] });
    expect([t.live.uuid, t.live.match, t.simulated.uuid, t.simulated.match]).toEqual([row(name, live).uuid, live, row(name, sim).uuid, sim]);
    expect(t.explanation).toContain(row(name, live).uuid.slice(0, 8));
    expect(t.explanation).toContain(row(name, sim).uuid.slice(0, 8));
    expect(t.explanation).toMatch(/OVS picks between overlapping equal-priority flows arbitrarily/);
    expect(c.pipelines[t.pipelineIndex].excused.equalPriorityTie).toEqual([t.tableId]);
  });

  it.each(['tie-mcast', 'tie-router'] as const)('%s, edited: at another priority the same two flows are a divergence, as before', (name) => {
    const simUuid = row(name, tied(name).sim).uuid;
    const c = compare(name, { resolve: (r) => (prefix) => r(prefix).map((x) => (x.uuid === simUuid ? { ...x, priority: x.priority + 10 } : x)) });
    expect(c.result).toBe('diverged');
    expect(c.ties).toBeUndefined();
    expect(c.divergence).toMatchObject({ pipeline: 'egress', stage: 'ls_out_pre_lb' });
    expect(c.divergence?.explanation).toMatch(/conntrack state, an OpenFlow rule changed by hand/);
  });

  it.each(['tie-mcast', 'tie-router'] as const)('%s, edited: a stale live flow is ovn-controller behind, not a tie', (name) => {
    const liveUuid = row(name, tied(name).live).uuid;
    const c = compare(name, { resolve: (r) => (prefix) => r(prefix).map((x) => (x.uuid === liveUuid ? { ...x, stale: true } : x)) });
    expect(c.result).toBe('diverged');
    expect(c.ties).toBeUndefined();
    expect(c.divergence?.explanation).toMatch(/stale/);
  });

  it.each(['tie-mcast', 'tie-router'] as const)('%s, edited: flows that test conntrack state are not taken for a tie (the state may differ)', (name) => {
    const simUuid = row(name, tied(name).sim).uuid;
    const c = compare(name, { resolve: (r) => (prefix) => r(prefix).map((x) => (x.uuid === simUuid ? { ...x, match: `${x.match} && ct.est` } : x)) });
    expect(c.result).toBe('diverged');
    expect(c.ties).toBeUndefined();
  });

  it.each(['tie-mcast', 'tie-router'] as const)('%s, edited: a later stage of the egress that differs for another reason diverges there, the tie listed', (name) => {
    const c = compare(name, { sim: insertAfterPreLb(name, 'outport == "sw0-lr0"', 'feedf00d') });
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ pipeline: 'egress', datapath: 'sw0', simulated: { uuidPrefix: 'feedf00d' } });
    expect(c.divergence!.tableId).toBe(c.ties![0].tableId + 1);
    expect(c.ties).toHaveLength(1);
  });

  it('edited: after the live flow\'s ct_clear, a later stage where ovn-trace tested conntrack state follows from the tie (tie-router); not when ovn-trace\'s flow cleared it (tie-mcast)', () => {
    const cleared = compare('tie-router', { sim: insertAfterPreLb('tie-router', 'ct.est && ct_mark.blocked == 0', 'feedf00d') });
    expect(cleared.divergence?.explanation ?? null).toBeNull();
    expect(cleared.result).toBe('match');
    const t = cleared.ties![0];
    expect(t.followedBy).toEqual([t.tableId + 1]);
    expect(cleared.pipelines[t.pipelineIndex].excused.followsTie).toEqual([t.tableId + 1]);
    expect(t.explanation).toMatch(/conntrack state/);
    // The live packet kept its conntrack state there: ovn-trace's ct.est flow is not explained by the tie.
    const kept = compare('tie-mcast', { sim: insertAfterPreLb('tie-mcast', 'ct.est && ct_mark.blocked == 0', 'feedf00d') });
    expect(kept.result).toBe('diverged');
    expect(kept.divergence).toMatchObject({ simulated: { uuidPrefix: 'feedf00d' } });
    expect(kept.ties).toHaveLength(1);
  });
});

// A tie whose flows did more than write registers or clear conntrack (here an edited eth.dst rewrite
// on the live one) leaves two packets that may differ: its explanation says any later difference
// counts. A later stage where each tool ran another flow of one priority was taken for a second tie,
// and the whole answer was a match.
describe.each(capturedVersions('tie'))('%s, edited: after a tie whose flows did otherwise', (version) => {
  const dir = join(CAPTURED_OVN_TRACE, version, 'tie');
  const name = 'tie-router';
  const p = JSON.parse(readFileSync(join(dir, `${name}-path.json`), 'utf8')) as { verdict: { kinds: string[]; logicalPorts: string[] }; passes: LivePassWithSteps[] };
  const text = readFileSync(join(dir, `${name}.ovn-trace.txt`), 'utf8');
  const resolve = logicalFlowResolver(modelFromDumps(dir, version, [], `${name}.`));

  it('a later equal-priority difference is a divergence, not a second tie', () => {
    const first = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(text), resolve).ties![0];
    // The live path's flow at the next table of that egress, and an edited ovn-trace stage there: another flow at its priority.
    const owners = p.passes.flatMap((x) => x.steps ?? []).flatMap((s) => s.owners);
    const next = owners.find((o) => o.pipeline === 'egress' && o.tableId === first.tableId + 1 && o.table === 'Logical_Flow')!;
    const liveNext = resolve(next.uuid.slice(0, 8)).find((r) => r.uuid === next.uuid)!;
    const other = { ...liveNext, uuid: 'feedf00d-0000-4000-8000-000000000000', match: 'eth.dst == 00:00:00:00:00:01' };
    const lines = text.split('\n');
    const head = lines.findIndex((l) => l.includes('outport="sw0-lr0"'));
    const at = lines.findIndex((l, i) => i > head && l.includes(`uuid ${first.simulated.uuid!.slice(0, 8)}`));
    const indent = /^(\s*)/.exec(lines[at])![1];
    const drop = lines.findIndex((l, i) => i > at && /^\s*\d+\. /.test(l));
    lines.splice(drop, new RegExp(`^\\s*${first.tableId + 1}\\. `).test(lines[drop]) ? 2 : 0, `${indent}${first.tableId + 1}. ${liveNext.stage} (northd.c:1): ${other.match}, priority ${liveNext.priority}, uuid feedf00d`, `${indent}    next;`);
    const edited: LogicalFlowResolver = (prefix) =>
      prefix === 'feedf00d' ? [other] : resolve(prefix).map((r) => (r.uuid === first.live.uuid ? { ...r, actions: `eth.dst = 00:00:00:00:00:01; ${r.actions}` } : r));
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(lines.join('\n')), edited);
    expect(c.ties?.[0].explanation).toMatch(/any later difference counts/);
    expect(c.result).toBe('diverged');
    expect(c.divergence).toMatchObject({ tableId: first.tableId + 1, simulated: { uuidPrefix: 'feedf00d' } });
    expect(c.ties).toHaveLength(1);
  });
});
