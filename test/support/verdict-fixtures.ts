// The verdict fixtures of every captured pair (scripts/capture-verdict-fixtures.ts, folders
// test/fixtures/verdicts/ovs-<ovs>_ovn-<ovn>): the OVN model from the pair's own NB/SB/local
// database dumps and schemas, and each packet's datapath flows as annotated passes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { annotatePass } from '../../src/correlation/annotate';
import { replicaFromDump } from '../../src/ovn/fixture-loader';
import { OvnModel } from '../../src/ovn/ovn-model';
import type { ReplicaSpec } from '../../src/ovsdb/replica/replica';
import type { DatabaseSchema } from '../../src/ovsdb/types';
import { DumpedFlow, parseDumpFlows } from '../../src/ovs/dump-flows';
import { parseDpifShow } from '../../src/ovs/dpif-show';
import { parseOfprotoTrace, TracePass } from '../../src/ovs/ofproto-trace';
import { formatActions, recircTargets } from '../../src/ovs/odp-actions';
import { formatKey, inPort, recircId } from '../../src/ovs/odp-key';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../src/replicas/ovn-tables';
import type { LiveFlow } from '../../src/collectors/datapath-diff';
import { detracePass } from '../../src/collectors/detrace-pass';
import { parseOfprotoDetrace } from '../../src/ovs/ofproto-detrace';
import { indexedFlow, PassNode } from './packet-paths';
import { recircIdHex } from '../../src/ovs/ids';

export const VERDICT_FIXTURES = join(__dirname, '../fixtures/verdicts');
export const VERDICT_VERSIONS = existsSync(VERDICT_FIXTURES) ? readdirSync(VERDICT_FIXTURES).filter((d) => /^ovs-.*_ovn-/.test(d)).sort() : [];

export interface Topology {
  pair: string;
  ovs: string;
  ovn: string;
  dropAcl: string;
  allowAcl: string;
  rejectAcl: string;
  logAcl: string;
  lb: string;
  snat: string;
  dpPorts: Record<string, number>;
}

const models = new Map<string, OvnModel>();

/**
 * The OVN model of a pair's databases; with `packet`, of that packet's own dumps when it has them
 * (a packet with a setup, which changed OVN's configuration and so the logical flows' UUIDs).
 */
export function fixtureModel(version: string, packet?: string): OvnModel {
  const dir = join(VERDICT_FIXTURES, version);
  const own = packet !== undefined && existsSync(join(dir, packet, 'southbound.json'));
  const at = own ? join(dir, packet!) : dir;
  let m = models.get(at);
  if (m) return m;
  m = modelOf(dir, at);
  models.set(at, m);
  return m;
}

/** The model of the dumps in `at` read with the pair's schemas (in `dir`), the southbound dump's text first through `sb`. */
function modelOf(dir: string, at: string, sb: (text: string) => string = (text) => text): OvnModel {
  const load = (db: string, spec: ReplicaSpec, schema: string, text: string) =>
    replicaFromDump(db, spec, JSON.parse(readFileSync(join(dir, 'schemas', schema), 'utf8')) as DatabaseSchema, text);
  const dump = (file: string) => readFileSync(join(at, file), 'utf8');
  return new OvnModel({
    nb: load('OVN_Northbound', NORTHBOUND, 'ovn-nb.ovsschema', dump('northbound.json')),
    sb: load('OVN_Southbound', SOUTHBOUND, 'ovn-sb.ovsschema', sb(dump('southbound.json'))),
    ovs: load('Open_vSwitch', OPEN_VSWITCH as ReplicaSpec, 'vswitch.ovsschema', dump('openvswitch.json')),
  });
}

/** One table of `ovsdb-client dump --format=json` (a line of the dump). */
export interface DumpedTable {
  headings: string[];
  data: unknown[][];
}

/**
 * A pair's model with its southbound Logical_Flow table as `edit` leaves it: a flow added or left
 * out, what real daemons cannot give on demand (northd picks the UUIDs). A new model each call.
 */
export function fixtureModelWithLogicalFlows(version: string, edit: (table: DumpedTable) => void): OvnModel {
  const dir = join(VERDICT_FIXTURES, version);
  return modelOf(dir, dir, (text) =>
    text
      .split('\n')
      .map((line) => {
        if (!line.startsWith('{"caption":"Logical_Flow table"')) return line;
        const t = JSON.parse(line) as DumpedTable;
        edit(t);
        return JSON.stringify(t);
      })
      .join('\n'),
  );
}

export function topology(version: string): Topology {
  return JSON.parse(readFileSync(join(VERDICT_FIXTURES, version, 'topology.json'), 'utf8')) as Topology;
}

export interface FixtureFlow {
  ufid: string;
  dumped: DumpedFlow;
  /** The installed actions as dumped. */
  actions: string;
  pass: TracePass;
}

/** The datapath flows one packet installed, each with the parsed trace of its own key. */
export function packetFlows(version: string, packet: string): FixtureFlow[] {
  const dir = join(VERDICT_FIXTURES, version, packet);
  const dump = parseDumpFlows(readFileSync(join(dir, 'dump-flows.txt'), 'utf8'));
  return dump.items
    .filter((d) => d.ufid)
    .map((d) => {
      const parsed = parseOfprotoTrace(readFileSync(join(dir, 'traces', `${d.ufid}.txt`), 'utf8'));
      if (parsed.kind !== 'trace') throw new Error(`${version}/${packet}/${d.ufid}: ${parsed.kind}`);
      return { ufid: d.ufid!, dumped: d, actions: d.actionsText ?? formatActions(d.actions), pass: parsed.pass };
    });
}

export function dpifOf(version: string, packet: string) {
  return parseDpifShow(readFileSync(join(VERDICT_FIXTURES, version, packet, 'dpif-show.txt'), 'utf8')).datapaths[0];
}

/** Annotated passes with their flows (for packet-paths.ts). */
export function packetNodes(version: string, packet: string): Array<PassNode & { installed: string }> {
  const model = fixtureModel(version, packet);
  const dpif = dpifOf(version, packet);
  return packetFlows(version, packet).map((f) => ({
    ufid: f.ufid,
    flow: indexedFlow(f.dumped),
    installed: f.actions,
    trace: annotatePass(f.pass, model, {
      method: 'trace',
      recircId: recircIdHex(recircId(f.dumped.key)),
      inPort: inPort(f.dumped.key) ?? undefined,
      dpif,
    }),
  }));
}

/**
 * The same flows as the tracer annotates them with the detrace method: the rules of the real
 * `ofproto/detrace` reply (OVS >= 3.4, captured after a revalidation), the installed actions.
 * Flows whose ukey never had a cache are left out.
 */
export function detraceNodes(version: string, packet: string): Array<PassNode & { installed: string }> {
  const dir = join(VERDICT_FIXTURES, version, packet, 'detrace');
  if (!existsSync(dir)) return [];
  const model = fixtureModel(version, packet);
  const dpif = dpifOf(version, packet);
  const out: Array<PassNode & { installed: string }> = [];
  for (const f of packetFlows(version, packet)) {
    const file = join(dir, `${f.ufid}.txt`);
    if (!existsSync(file)) continue;
    const r = parseOfprotoDetrace(readFileSync(file, 'utf8'));
    if (r.kind !== 'entries') throw new Error(`${version}/${packet}/detrace/${f.ufid}: ${r.kind}`);
    const live = { ufid: f.ufid, key: f.dumped.keyText ?? formatKey(f.dumped.key), actions: f.actions } as LiveFlow;
    const trace = annotatePass(detracePass(r.entries, live), model, {
      method: 'detrace',
      recircId: recircIdHex(recircId(f.dumped.key)),
      inPort: inPort(f.dumped.key) ?? undefined,
      dpif,
    });
    out.push({ ufid: f.ufid, flow: indexedFlow(f.dumped), installed: f.actions, trace });
  }
  return out;
}

/** The flows as the poller's table holds them (for recirc-index.ts). */
export function liveFlows(version: string, packet: string) {
  return packetFlows(version, packet).map((f) => ({
    ufid: f.ufid,
    inPort: inPort(f.dumped.key) ?? null,
    recircId: recircId(f.dumped.key),
    recircTargets: recircTargets(f.dumped.actions),
    flow: { key: f.dumped.key, actions: f.dumped.actions },
  }));
}

/** `dpctl/show -s` TX packets per interface. */
export function txDelta(version: string, packet: string): Map<string, number> {
  const read = (file: string) => {
    const out = new Map<string, number>();
    let port: string | null = null;
    for (const line of readFileSync(join(VERDICT_FIXTURES, version, packet, file), 'utf8').split('\n')) {
      const p = /^\s*port \d+: (\S+)/.exec(line);
      if (p) port = p[1];
      const t = /TX packets:(\d+)/.exec(line);
      if (t && port) out.set(port, Number(t[1]));
    }
    return out;
  };
  const before = read('tx-before.txt');
  const after = read('tx-after.txt');
  return new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)]));
}
