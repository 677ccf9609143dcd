// The route-table captures of every pair (scripts/capture-route-table-fixtures writes
// test/fixtures/captured-route-tables/<version>/): router lr0 whose ports pick different route tables,
// the NB/SB rows, and per case (a host on one of lr0's switches sending to an address) ovn-trace's
// output; here read back as replicas and as the way out lr0's lr_in_ip_routing took in each trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replicaFromDump } from '../../src/ovn/fixture-loader';
import type { RouteHop } from '../../src/ovn/router-routes';
import { parseOvnTrace } from '../../src/cross-checks/ovn-trace-parse';
import { NORTHBOUND, SOUTHBOUND } from '../../src/replicas/ovn-tables';
import { capturedVersions, localOvs, schema } from './captured-model';

export const ROUTE_TABLES_ROOT = join(__dirname, '../fixtures/captured-route-tables');
export const ROUTE_TABLE_VERSIONS = capturedVersions(ROUTE_TABLES_ROOT);

export interface RouteTableCase {
  name: string;
  /** lr0's port the packet entered by. */
  ingress: string;
  /** The switch of the sending host (inport). */
  switch: string;
  inport: string;
  dst: string;
}

const read = (version: string, file: string) => readFileSync(join(ROUTE_TABLES_ROOT, version, file), 'utf8');

export function routeTableCases(version: string): RouteTableCase[] {
  return (JSON.parse(read(version, 'cases.json')) as { cases: RouteTableCase[] }).cases;
}

/** Fresh replicas of the capture (schemas: the same pair's, test/fixtures/captured/<version>). */
export function routeTableReplicas(version: string) {
  return {
    nb: replicaFromDump('OVN_Northbound', NORTHBOUND, schema('ovn-nb.ovsschema', version), read(version, 'northbound.json')),
    sb: replicaFromDump('OVN_Southbound', SOUTHBOUND, schema('ovn-sb.ovsschema', version), read(version, 'southbound.json')),
    ovs: localOvs([], version),
  };
}

const assigned = (actions: readonly string[], reg: string): string | undefined =>
  actions.map((a) => new RegExp(`^${reg.replace(/[[\].]/g, '\\$&')} = (.+);$`).exec(a.trim())?.[1]).find((v) => v !== undefined);
const hopOf = (actions: readonly string[]): RouteHop => {
  const reg0 = assigned(actions, 'reg0')!;
  return { port: JSON.parse(assigned(actions, 'outport')!) as string, nexthop: /^ip[46]\.dst$/.test(reg0) ? null : reg0 };
};

/**
 * The ways out of lr0 ovn-trace's packet took: lr_in_ip_routing's outport and next hop (reg0; the
 * destination itself for a connected network), none when it dropped, and for an ECMP route
 * (ovn-trace stops at its select()) every member of its group, from lr_in_ip_routing_ecmp's flows.
 */
export function tracedHops(version: string, c: RouteTableCase): RouteHop[] {
  const trace = parseOvnTrace(read(version, `${c.name}.txt`));
  const lr0 = trace.pipelines.find((p) => p.pipeline === 'ingress' && p.datapath === 'lr0');
  const stage = lr0?.stages.find((s) => s.stage === 'lr_in_ip_routing');
  if (!stage) throw new Error(`${version}/${c.name}: no lr_in_ip_routing stage in lr0's ingress`);
  if (stage.actions.some((a) => a.trim() === 'drop;')) return [];
  const group = assigned(stage.actions, 'reg8[0..15]');
  if (group === undefined || group === '0') return [hopOf(stage.actions)];
  return read(version, 'routing-flows.txt')
    .split('\n')
    .flatMap((line) => {
      const m = /\(lr_in_ip_routing_ecmp\s*\).*match=\(reg8\[0\.\.15\] == (\d+) && reg8\[16\.\.31\] == \d+\), action=\((.*)\)$/.exec(line);
      return m && m[1] === group ? [hopOf(m[2].split(/(?<=;)\s*/).filter(Boolean))] : [];
    });
}
