// OpenFlow rules ovn-controller installs for EVPN (OVN >= 25.09) carry cookies no southbound row
// owns: the first 32 bits of a UUID ovn-controller draws at random for each remote VTEP binding,
// flood group and FDB entry (controller/evpn-binding.c, evpn-fdb.c: `.flow_uuid = uuid_random()`).
// They never appear in the southbound database, so "a logical flow newer than the replica" is
// wrong for them. Fixtures: real OVS 4.0 / OVN 26.03.1 daemons (scripts/capture-fixtures --evpn),
// their NB/SB dumps, ovs-ofctl dump-flows of br-int and ovn-controller's evpn/*-list replies, which
// name the random UUIDs and so say which cookies are EVPN's.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../../src/correlation/annotate';
import { replicaFromDump } from '../../../src/ovn/fixture-loader';
import { evpnFlow, unownedEvpnFlow } from '../../../src/ovn/evpn-flows';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { parseOfprotoTrace, TracePass } from '../../../src/ovs/ofproto-trace';
import type { DatabaseSchema } from '../../../src/ovsdb/types';
import { NORTHBOUND, SOUTHBOUND } from '../../../src/replicas/ovn-tables';
import { TraceStore } from '../../../src/traces/trace-store';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const ROOT = join(__dirname, '../../fixtures/evpn');
const VERSIONS = existsSync(ROOT) ? readdirSync(ROOT).filter((d) => /^ovs-.*_ovn-/.test(d)).sort() : [];

function read(version: string, file: string): string {
  return readFileSync(join(ROOT, version, file), 'utf8');
}

function modelOf(version: string): OvnModel {
  const load = (db: string, spec: typeof NORTHBOUND, schema: string, dump: string) =>
    replicaFromDump(db, spec, JSON.parse(read(version, schema)) as DatabaseSchema, read(version, dump));
  return new OvnModel({
    nb: load('OVN_Northbound', NORTHBOUND, 'ovn-nb.ovsschema', 'northbound.json'),
    sb: load('OVN_Southbound', SOUTHBOUND, 'ovn-sb.ovsschema', 'southbound.json'),
  });
}

/** Cookies (`0x` + 8 hex) of ovn-controller's EVPN objects, from its own evpn/*-list replies. */
function evpnCookies(version: string): Set<string> {
  const out = new Set<string>();
  for (const f of ['binding-list.txt', 'multicast-group-list.txt', 'fdb-list.txt']) {
    for (const m of read(version, f).matchAll(/^UUID: ([0-9a-f]{8})-/gm)) out.add('0x' + m[1]);
  }
  return out;
}

function pass(version: string, name: string): TracePass {
  const r = parseOfprotoTrace(read(version, `traces/${name}.txt`));
  if (r.kind !== 'trace') throw new Error(`${name}: ${r.kind}`);
  return r.pass;
}

/** `ovs-ofctl dump-flows` lines as {cookie, table, priority, match, actions}, and the cookie as printed (`0x0`). */
function ofctlRules(version: string) {
  return read(version, 'ofctl-dump-flows.txt')
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

  it('by its shape alone, every rule on br-int is called EVPN exactly when its cookie is an EVPN object (ofctl dump-flows)', () => {
    const rules = ofctlRules(version);
    expect(rules.filter((r) => model.owners(r.cookie).owners.length).length).toBeGreaterThan(100);
    for (const r of rules) expect({ rule: r, evpn: evpnFlow(r) !== null }).toEqual({ rule: r, evpn: cookies.has(r.cookie) });
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

  it.each(['unicast', 'flood', 'vtep-hairpin'])('%s: every step with an EVPN cookie is annotated as an EVPN flow, no other step is', (name) => {
    const t = annotatePass(pass(version, name), model);
    const evpnSteps = t.steps.filter((s) => s.cookie && cookies.has(s.cookie));
    expect(evpnSteps.length).toBeGreaterThan(0);
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

  it('vtep-hairpin stored and read back (GET /traces/:id): its EVPN steps say so, the others do not', async () => {
    const t = annotatePass(pass(version, 'vtep-hairpin'), model);
    const m = await openMigratedSqlite('evpn-steps');
    try {
      const store = new TraceStore({ db: m.db, writer: m.writer });
      const id = await m.writer.submit((tx) => store.insert(tx, { trace: t, chassis: 'hv1', createdAt: new Date().toISOString() }));
      const read = (await store.read(id, true))!;
      expect(read.steps!.map((s) => [s.seq, s.controllerFlow?.role ?? null])).toEqual(t.steps.map((s) => [s.seq, s.controllerFlow?.role ?? null]));
      expect(read.steps!.filter((s) => s.controllerFlow).length).toBeGreaterThan(0);
    } finally {
      await closeMigratedSqlite(m);
    }
  });
});

// The shape rule never fires on OVN's own rules: every step of every other captured ofproto/trace
// reply (three pairs, one and several chassis, Geneve flooding included; no EVPN).
function traceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? traceFiles(join(dir, d.name)) : d.name.endsWith('.txt') && !d.name.endsWith('.detrace.txt') ? [join(dir, d.name)] : [],
  );
}

describe('rules of the captured topologies without EVPN', () => {
  const files = ['captured', 'captured-multichassis']
    .flatMap((d) => traceFiles(join(__dirname, '../../fixtures', d)))
    .filter((f) => readFileSync(f, 'utf8').startsWith('Flow: '));

  it('no step is called EVPN', () => {
    let steps = 0;
    for (const f of files) {
      const r = parseOfprotoTrace(readFileSync(f, 'utf8'));
      if (r.kind !== 'trace') continue;
      for (const s of r.pass.steps) {
        const actions = s.items.filter((i) => i.kind === 'action').map((i) => i.text).join('\n');
        expect({ f, match: s.match, evpn: evpnFlow({ match: s.match, actions }) }).toEqual({ f, match: s.match, evpn: null });
        steps++;
      }
    }
    expect(files.some((f) => f.includes('captured-multichassis'))).toBe(true);
    expect(steps).toBeGreaterThan(1000);
  });
});
