// OpenFlow rules ovn-controller installs for EVPN (OVN >= 25.09) carry cookies no southbound row
// owns: the first 32 bits of a UUID ovn-controller draws at random for each remote VTEP binding,
// flood group, FDB entry and (26.03) neighbour (controller/evpn-binding.c, evpn-fdb.c, evpn-arp.c:
// `.flow_uuid = uuid_random()`). They never appear in the southbound database, so "a logical flow
// newer than the replica" is wrong for them, and a neighbour's rules, in the MAC_Binding tables, are
// no MAC_Binding's. Fixtures: real OVS 4.0 / OVN 26.03.1 daemons (scripts/capture-fixtures --evpn),
// their NB/SB dumps, ovs-ofctl dump-flows of br-int and ovn-controller's evpn/*-list replies, which
// name the random UUIDs and so say which cookies are EVPN's.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { evpnFlow, unownedEvpnFlow } from '../../../src/ovn/evpn-flows';
import { parseOfprotoDetrace } from '../../../src/ovs/ofproto-detrace';
import { parseOfprotoTrace } from '../../../src/ovs/ofproto-trace';
import { renderTraceText } from '../../../src/traces/trace-text';
import { TraceStore } from '../../../src/traces/trace-store';
import { EVPN_FIXTURES as ROOT, EVPN_VERSIONS as VERSIONS, evpnModel as modelOf, evpnNeighbours, evpnPass as pass, readEvpn as read } from '../../support/evpn-fixtures';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

/** Cookies (`0x` + 8 hex) of ovn-controller's EVPN objects, from its own evpn/*-list replies. */
function evpnCookies(version: string): Set<string> {
  const out = new Set<string>();
  for (const f of ['binding-list.txt', 'multicast-group-list.txt', 'fdb-list.txt', 'arp-list.txt']) {
    for (const m of read(version, f).matchAll(/^UUID: ([0-9a-f]{8})-/gm)) out.add('0x' + m[1]);
  }
  return out;
}

function traceNames(version: string): string[] {
  return readdirSync(join(ROOT, version, 'traces')).map((f) => f.replace(/\.txt$/, '')).sort();
}

/** `ovs-ofctl dump-flows` lines as {cookie, table, priority, match, actions}, and the cookie as printed (`0x0`). */
function ofctlRules(version: string, file = 'ofctl-dump-flows.txt') {
  return read(version, file)
    .split('\n')
    .map((l) => /cookie=(0x[0-9a-f]+), .*table=(\d+), .*priority=(\d+),?(\S*) actions=(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ cookie: '0x' + m[1].slice(2).padStart(8, '0'), printed: m[1], table: Number(m[2]), priority: Number(m[3]), match: m[4], actions: m[5] }));
}

describe.each(VERSIONS)('%s EVPN', (version) => {
  const model = modelOf(version);
  const cookies = evpnCookies(version);

  it('the capture has EVPN rules whose cookies no southbound row owns', () => {
    const rules = ofctlRules(version).filter((r) => cookies.has(r.cookie));
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) expect(model.owners(r.cookie).owners).toEqual([]);
  });

  it.each(['ofctl-dump-flows.txt', 'ofctl-dump-flows-prefer-local.txt'])(
    'by its shape alone, every rule on br-int is called EVPN exactly when its cookie is an EVPN object (%s)',
    (file) => {
      const rules = ofctlRules(version, file);
      expect(rules.filter((r) => model.owners(r.cookie).owners.length).length).toBeGreaterThan(100);
      for (const r of rules) expect({ rule: r, evpn: evpnFlow(r) !== null }).toEqual({ rule: r, evpn: cookies.has(r.cookie) });
    },
  );

  // The neighbour rules share tables 66/67 (get_arp/get_nd, lookup_arp/lookup_nd) with the rules of
  // the southbound's MAC_Binding and Static_MAC_Binding rows, in the same shape; only their priority
  // (200, or 20 with dynamic-routing-arp-prefer-local) is EVPN's (controller/neighbor-of.h).
  it.each(['ofctl-dump-flows.txt', 'ofctl-dump-flows-prefer-local.txt'])('every neighbour rule is named after the neighbour evpn/vtep-arp-list gives for its cookie (%s)', (file) => {
    const neighbours = evpnNeighbours(version);
    const rules = ofctlRules(version, file).filter((r) => neighbours.has(r.cookie));
    expect(new Set(rules.map((r) => r.table))).toEqual(new Set([66, 67]));
    expect(new Set(rules.map((r) => neighbours.get(r.cookie)!.ip))).toEqual(new Set(['172.16.1.50', '172:16::50']));
    for (const r of rules) {
      const { ip, mac } = neighbours.get(r.cookie)!;
      expect({ rule: r, flow: evpnFlow(r) }).toEqual({ rule: r, flow: expect.objectContaining({ role: 'neighbour', name: `EVPN neighbour ${ip} → ${mac} (learned, not in the southbound)` }) });
    }
    const sbRules = ofctlRules(version, file).filter((r) => (r.table === 66 || r.table === 67) && model.owners(r.cookie).owners.some((o) => /MAC_Binding$/.test(o.table)));
    expect(new Set(sbRules.flatMap((r) => model.owners(r.cookie).owners.map((o) => o.table)))).toEqual(new Set(['MAC_Binding', 'Static_MAC_Binding']));
    for (const r of sbRules) expect({ rule: r, evpn: evpnFlow(r) }).toEqual({ rule: r, evpn: null });
  });

  // The guard before the shape: a step with an owner, or with cookie 0 in any spelling (ovs-ofctl's `0x0`
  // in this capture, the parsers' 0x00000000), is no EVPN rule whatever its match and actions.
  it('an EVPN rule is read as one only with its own cookie and no owner', () => {
    const rule = ofctlRules(version).find((r) => cookies.has(r.cookie))!;
    const zero = ofctlRules(version).find((r) => !r.cookie.match(/[1-9a-f]/))!;
    expect(unownedEvpnFlow(rule, [])).toMatchObject({ kind: 'evpn' });
    for (const cookie of [zero.printed, zero.cookie, '0x0000000000000000', null]) expect({ cookie, evpn: unownedEvpnFlow({ ...rule, cookie }, []) }).toEqual({ cookie, evpn: null });
    expect(unownedEvpnFlow(rule, [{ table: 'Logical_Flow' }])).toBeNull();
  });

  it.each(['routed-neighbour', 'routed-neighbour6', 'vtep-arp', 'vtep-na'])('%s: the step on the EVPN neighbour is named after it, not after a southbound row', (name) => {
    const neighbours = evpnNeighbours(version);
    const t = annotatePass(pass(version, name), model);
    const steps = t.steps.filter((s) => s.cookie && neighbours.has(s.cookie));
    expect(steps.map((s) => s.table)).toEqual([name.startsWith('routed') ? 66 : 67]);
    const { ip, mac } = neighbours.get(steps[0].cookie!)!;
    expect(steps[0].owners).toEqual([]);
    expect(steps[0].controllerFlow).toMatchObject({ kind: 'evpn', role: 'neighbour', name: `EVPN neighbour ${ip} → ${mac} (learned, not in the southbound)` });
    expect(steps[0].controllerFlow!.why).toMatch(/evpn\/vtep-arp-list/);
  });

  it.each([
    ['routed-static', 66, 'Static_MAC_Binding'],
    ['router-arp', 67, 'MAC_Binding'],
  ])('%s: the step in table %d is its southbound %s row\'s, not EVPN', (name, table, owner) => {
    const t = annotatePass(pass(version, name), model);
    const steps = t.steps.filter((s) => s.table === table);
    expect(steps.map((s) => [s.owners.map((o) => o.table), s.controllerFlow ?? null])).toEqual([[[owner], null]]);
  });

  it.each(traceNames(version))('%s: every step with an EVPN cookie is annotated as an EVPN flow, no other step is', (name) => {
    const t = annotatePass(pass(version, name), model);
    const evpnSteps = t.steps.filter((s) => s.cookie && cookies.has(s.cookie));
    if (name !== 'routed-static' && name !== 'router-arp') expect(evpnSteps.length).toBeGreaterThan(0);
    for (const s of t.steps) {
      expect({ seq: s.seq, table: s.table, evpn: !!s.controllerFlow }).toEqual({ seq: s.seq, table: s.table, evpn: evpnSteps.includes(s) });
      if (s.controllerFlow) expect(s.controllerFlow.why).toMatch(/EVPN/);
    }
  });

  it('vtep-hairpin: a drop where an EVPN rule ended the pipeline names the EVPN rule, not a logical flow newer than the replica', () => {
    const t = annotatePass(pass(version, 'vtep-hairpin'), model);
    expect(t.verdict.kind).toBe('drop');
    const end = [...t.steps].reverse().find((s) => s.outcome === 'match')!;
    expect(cookies.has(end.cookie!)).toBe(true);
    expect(t.verdict.dropBy).toMatchObject({ stepSeq: end.seq, logicalFlowUuid: null });
    expect(t.verdict.reason).toMatch(/EVPN/);
    expect(t.verdict.reason).not.toMatch(/newer than the replica/);
  });

  it.each(['vtep-hairpin', 'routed-neighbour'])('%s stored and read back (GET /traces/:id): its EVPN steps say what they are, the others do not', async (name) => {
    const t = annotatePass(pass(version, name), model);
    const m = await openMigratedSqlite('evpn-steps');
    try {
      const store = new TraceStore({ db: m.db, writer: m.writer });
      const id = await m.writer.submit((tx) => store.insert(tx, { trace: t, chassis: 'hv1', createdAt: new Date().toISOString() }));
      const read = (await store.read(id, true))!;
      expect(read.steps!.map((s) => [s.seq, s.controllerFlow ?? null])).toEqual(t.steps.map((s) => [s.seq, s.controllerFlow ?? null]));
      expect(read.steps!.filter((s) => s.controllerFlow).length).toBeGreaterThan(0);
      // The text form (?format=text): ovn-detrace prints no row under such a step; ours names the rule.
      const text = renderTraceText(read).split('\n');
      for (const s of read.steps!.filter((x) => x.controllerFlow)) {
        const at = text.findIndex((l) => l.includes(`cookie ${s.cookie!.replace(/^0x0+(?=.)/, '0x')}`) && l.trimStart().startsWith(`${s.table}. `));
        const next = text[at + 1 + (s.actions ? s.actions.split('\n').length : 0)]; // after the step's actions
        expect({ step: s.seq, next: next?.trim() }).toEqual({ step: s.seq, next: `* ${s.controllerFlow!.name}` });
      }
    } finally {
      await closeMigratedSqlite(m);
    }
  });
});

// The shape rules never fire on OVN's own rules: every step of every other fixture's ofproto/trace
// reply and every rule of its ofproto/detrace replies (three pairs, one and several chassis, Geneve
// flooding, MAC_Binding and Static_MAC_Binding rules in tables 66/67 included; no EVPN).
function fixtureFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? fixtureFiles(join(dir, d.name)) : d.name.endsWith('.txt') ? [join(dir, d.name)] : []));
}

describe('rules of every fixture without EVPN', () => {
  const FIXTURES = join(__dirname, '../../fixtures');
  const files = readdirSync(FIXTURES)
    .filter((d) => d !== 'evpn')
    .flatMap((d) => fixtureFiles(join(FIXTURES, d)));
  // ovn-detrace's own annotated output (`*.detrace.txt`) is not an ofproto/trace reply.
  const traces = files.filter((f) => !f.endsWith('.detrace.txt') && readFileSync(f, 'utf8').startsWith('Flow: '));
  const detraces = files.filter((f) => /^\s*cookie=0x/m.test(readFileSync(f, 'utf8')) && !readFileSync(f, 'utf8').startsWith('Flow: '));

  it('no ofproto/trace step is called EVPN', () => {
    let steps = 0;
    let neighbourSteps = 0;
    for (const f of traces) {
      const r = parseOfprotoTrace(readFileSync(f, 'utf8'));
      if (r.kind !== 'trace') continue;
      for (const s of r.pass.steps) {
        const actions = s.items.filter((i) => i.kind === 'action').map((i) => i.text).join('\n');
        expect({ f, match: s.match, evpn: evpnFlow({ match: s.match, actions, priority: s.priority }) }).toEqual({ f, match: s.match, evpn: null });
        if (s.table === 66 || s.table === 67) neighbourSteps++;
        steps++;
      }
    }
    expect(['captured/', 'captured-multichassis/', 'captured-ovn-trace/', 'verdicts/'].every((d) => traces.some((f) => f.includes(`/fixtures/${d}`)))).toBe(true);
    expect(steps).toBeGreaterThan(1000);
    expect(neighbourSteps).toBeGreaterThan(10);
  });

  it('no ofproto/detrace rule is called EVPN', () => {
    let rules = 0;
    for (const f of detraces) {
      const r = parseOfprotoDetrace(readFileSync(f, 'utf8'));
      if (r.kind !== 'entries') continue;
      for (const e of r.entries) {
        if (e.type !== 'rule') continue;
        expect({ f, rule: e.raw, evpn: evpnFlow(e) }).toEqual({ f, rule: e.raw, evpn: null });
        rules++;
      }
    }
    expect(detraces.some((f) => f.includes('/fixtures/captured-detrace/'))).toBe(true);
    expect(rules).toBeGreaterThan(100);
  });
});
