// A routed packet to an EVPN neighbour (OVN 26.03), cross-checked: the datapath's get_arp/get_nd found
// ovn-controller's rule for the neighbour it learned from the kernel's neighbour table on the EVPN
// bridge (tables 66/67, evpn-flows.ts); ovn-trace reads the southbound's MAC_Binding only, finds no
// binding and sends an ARP request / neighbour solicitation instead. From real daemons
// (scripts/capture-fixtures --evpn: test/fixtures/evpn/<version>/traces/<name>.txt the live pass,
// ovn-trace/<name>.txt the ovn-trace --detailed the service runs for it).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { compareWithSimulation, type Comparison, type LivePassWithSteps, type LiveVerdict } from '../../../src/cross-checks/compare';
import { macBindingLookup } from '../../../src/cross-checks/learned-binding';
import { buildMicroflow } from '../../../src/cross-checks/microflow';
import { parseOvnTrace } from '../../../src/cross-checks/ovn-trace-parse';
import { ovnTraceArgs } from '../../../src/cross-checks/ovn-trace-runner';
import type { TraceJson } from '../../../src/traces';
import { TraceStore } from '../../../src/traces/trace-store';
import { CAPTURED_OVN_TRACE, currentFlows } from '../../support/captured-ovn-trace';
import { EVPN_VERSIONS, evpnModel, evpnNeighbours, evpnPass, readEvpn } from '../../support/evpn-fixtures';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const ROUTED = ['routed-neighbour', 'routed-neighbour6', 'routed-static'];

it('the EVPN capture holds ovn-trace of its routed packets (unstable pair)', () => {
  expect(EVPN_VERSIONS).toEqual(['ovs-4.0.0_ovn-26.03.1']);
  for (const n of ROUTED) expect(readEvpn(EVPN_VERSIONS[0], `ovn-trace/${n}.txt`)).toMatch(/^ingress\(dp="ls-b"/m);
});

describe.each(EVPN_VERSIONS)('%s', (version) => {
  const model = evpnModel(version);
  /** Each routed pass as the service reads it back to cross-check it (steps with their controllerFlow). */
  const stored = new Map<string, TraceJson>();
  beforeAll(async () => {
    const m = await openMigratedSqlite('evpn-cross-check');
    try {
      const store = new TraceStore({ db: m.db, writer: m.writer });
      for (const n of ROUTED) {
        const trace = annotatePass(evpnPass(version, n), model);
        const id = await m.writer.submit((tx) => store.insert(tx, { trace, chassis: 'hv1', createdAt: '2026-12-07T22:24:00.000Z' }));
        stored.set(n, (await store.read(id, true))!);
      }
    } finally {
      await closeMigratedSqlite(m);
    }
  });
  const compare = (name: string, passes = [stored.get(name)!]): Comparison =>
    compareWithSimulation(passes, passes[0].verdict, parseOvnTrace(readEvpn(version, `ovn-trace/${name}.txt`)), currentFlows(passes), (p) => model.portByName(p), macBindingLookup(model));
  /** The neighbour evpn/vtep-arp-list gives for the EVPN step of the pass. */
  const neighbourOf = (name: string) => {
    const neighbours = evpnNeighbours(version);
    const step = stored.get(name)!.steps!.find((s) => s.cookie && neighbours.has(s.cookie))!;
    return neighbours.get(step.cookie!)!;
  };
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it.each(ROUTED)('%s: the capture ran ovn-trace with the microflow the service builds from the pass', (name) => {
    const { args, exitStatus } = JSON.parse(readEvpn(version, `ovn-trace/${name}.args.json`)) as { args: string[]; exitStatus: number };
    expect(exitStatus).toBe(0);
    expect(ovnTraceArgs(buildMicroflow([stored.get(name)!]), { db: 'DB', leaderOnly: true }).slice(1)).toEqual(args);
  });

  it.each(['routed-neighbour', 'routed-neighbour6'])(
    '%s: the divergence after get_arp/get_nd says the datapath used the EVPN neighbour, which ovn-trace does not read',
    (name) => {
      const { ip, mac } = neighbourOf(name);
      expect(stored.get(name)!.datapathActions).toContain(`dst=${mac}`);
      const c = compare(name);
      // Diverged, as a first sight is: the two tools saw different state, and the answer says which.
      expect(c).toMatchObject({ result: 'diverged', divergence: { pipeline: 'ingress', datapath: 'lr-evpn', stage: 'lr_in_arp_request' } });
      expect(c.divergence!.explanation).toMatch(
        new RegExp(`^At ingress\\(dp="lr-evpn"\\) table \\d+ \\(lr_in_arp_request\\) .* the datapath used EVPN neighbour ${esc(ip)} → ${esc(mac)}, learned from the kernel's neighbour table, which ovn-trace does not read`),
      );
      // Where to look, and the lookup both ran: ovn-trace's found no MAC binding.
      expect(c.divergence!.explanation).toMatch(/get_(arp|nd).*lr_in_arp_resolve.*no MAC binding/);
      expect(c.divergence!.explanation).toMatch(/ip neigh.*evpn\/vtep-arp-list/);
    },
  );

  // ovn-trace's get_arp as it reads when the southbound has a MAC_Binding for the address (its line as
  // the real captures print it: test/fixtures/captured-ovn-trace/*/tunnel/tunnel-stale-encap-flood.ovn-trace.txt).
  it('routed-neighbour: ovn-trace that found a stale MAC_Binding is named; one that found the same MAC is not an EVPN difference', () => {
    const { ip, mac } = neighbourOf('routed-neighbour');
    const text = readEvpn(version, 'ovn-trace/routed-neighbour.txt');
    expect(text).toContain('/* No MAC binding. */');
    const p = [stored.get('routed-neighbour')!];
    const withBinding = (m: string) =>
      compareWithSimulation(p, p[0].verdict, parseOvnTrace(text.replace('/* No MAC binding. */', `/* MAC binding to ${m}. */`)), currentFlows(p), (x) => model.portByName(x), macBindingLookup(model));
    expect(withBinding('f0:00:0f:16:99:99').divergence!.explanation).toMatch(new RegExp(`EVPN neighbour ${esc(ip)} → ${esc(mac)}.* found the southbound's MAC_Binding ${esc(ip)} → f0:00:0f:16:99:99\\.`));
    expect(withBinding(mac).divergence!.explanation).not.toMatch(/EVPN/);
  });

  it('routed-neighbour: without the EVPN step (a neighbour rule not recognised), the explanation claims no EVPN neighbour', () => {
    const p = stored.get('routed-neighbour')!;
    const bare = { ...p, steps: p.steps!.map(({ controllerFlow: _cf, ...s }) => s) };
    const c = compare('routed-neighbour', [bare]);
    expect(c.result).toBe('diverged');
    expect(c.divergence!.explanation).not.toMatch(/EVPN/);
  });

  // ovn-trace never reads the southbound's Static_MAC_Binding (utilities/ovn-trace.c read_mac_bindings reads
  // MAC_Binding only, in every release since the table came in 22.06): its get_arp finds no binding where
  // the datapath's found the rule ovn-controller installed for the row.
  it("routed-static: the divergence after get_arp names the Static_MAC_Binding the datapath used, not an EVPN neighbour", () => {
    const [row] = [...model.db.sb.rows('Static_MAC_Binding')];
    const [ip, mac, port] = [String(row.ip), String(row.mac), String(row.logical_port)];
    expect(stored.get('routed-static')!.datapathActions).toContain(`dst=${mac}`);
    expect(readEvpn(version, 'ovn-trace/routed-static.txt')).toContain('/* No MAC binding. */');
    const c = compare('routed-static');
    expect(c).toMatchObject({ result: 'diverged', divergence: { pipeline: 'ingress', datapath: 'lr-evpn', stage: 'lr_in_arp_request' } });
    expect(c.divergence!.explanation).not.toMatch(/EVPN/);
    expect(c.divergence!.explanation).toMatch(
      new RegExp(`^At ingress\\(dp="lr-evpn"\\) table \\d+ \\(lr_in_arp_request\\) .* the datapath used Static_MAC_Binding ${esc(ip)} → ${esc(mac)} on ${esc(port)}, which ovn-trace does not read`),
    );
    expect(c.divergence!.explanation).toMatch(/get_arp.*lr_in_arp_resolve.*no MAC binding for 172\.16\.1\.80/);
    expect(c.divergence!.explanation).toMatch(/static-mac-binding-list/);
  });
});

// The other cross-check captures (every pair: live, tunnel, flood-vlan; routed paths and a router's first
// sight among them) have no EVPN: no divergence of theirs is put down to an EVPN neighbour.
it('no cross-check of a capture without EVPN names an EVPN neighbour', () => {
  const paths = readdirSync(CAPTURED_OVN_TRACE, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('-path.json'));
  let compared = 0;
  for (const f of paths) {
    const sim = [f.replace(/-path\.json$/, '.ovn-trace.txt'), f.replace(/\.json$/, '.ovn-trace.txt')].map((x) => join(CAPTURED_OVN_TRACE, x)).find((x) => existsSync(x));
    if (!sim) continue;
    const p = JSON.parse(readFileSync(join(CAPTURED_OVN_TRACE, f), 'utf8')) as { verdict: LiveVerdict; passes: LivePassWithSteps[] };
    const c = compareWithSimulation(p.passes, p.verdict, parseOvnTrace(readFileSync(sim, 'utf8')), currentFlows(p.passes));
    expect({ f, explanation: c.divergence?.explanation ?? null }).toEqual({ f, explanation: expect.not.stringMatching(/EVPN/) });
    compared++;
  }
  expect(compared).toBeGreaterThan(20);
});
