// The captured fixtures of every supported OVS/OVN pair (scripts/capture-fixtures --pair PAIR writes
// test/fixtures/captured/<version>/, <version> = ovs-<X>_ovn-<Y>) and the OVN model built from a
// version's NB/SB dumps, configured with the schemas those servers ran (<version>/*.ovsschema). The
// Open_vSwitch database is built locally as scripts/capture-fixtures built it on every pair: vifN on
// br-int with external-ids:iface-id=lspN and ofport N (that database is not dumped).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replicaFromDump } from '../../src/ovn/fixture-loader';
import { OvnModel } from '../../src/ovn/ovn-model';
import { Replica, ReplicaSpec } from '../../src/ovsdb/replica/replica';
import type { DatabaseSchema, TableUpdates2 } from '../../src/ovsdb/types';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../src/replicas/ovn-tables';

export const CAPTURED_ROOT = join(__dirname, '../fixtures/captured');
/** Hand-made schemas for model tests (e.g. a future Datapath_Binding layout), not captured ones. */
export const SCHEMAS = join(__dirname, '../fixtures/schemas');

const VERSION_DIR = /^ovs-(\d+(?:\.\d+)*)_ovn-(\d+(?:\.\d+)*)$/;

function numeric(v: string): number[] {
  return v.split('.').map(Number);
}

/** Dotted versions compared part by part ('3.1.0' < '3.2'): the tests' one version order. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [numeric(a), numeric(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** The captured version folders, oldest OVS first. Fails loudly on a stray folder, so nothing is skipped silently. */
export function capturedVersions(root = CAPTURED_ROOT): string[] {
  if (!existsSync(root)) return [];
  const dirs = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  const stray = dirs.filter((d) => !VERSION_DIR.test(d));
  if (stray.length) throw new Error(`${root}: folders not named ovs-<X>_ovn-<Y>: ${stray.join(', ')} (scripts/capture-fixtures --pair PAIR)`);
  return dirs.sort((a, b) => {
    const [, oa, na] = VERSION_DIR.exec(a)!;
    const [, ob, nb] = VERSION_DIR.exec(b)!;
    return compareVersions(oa, ob) || compareVersions(na, nb);
  });
}

/** Every captured version; tests iterate these. */
export const VERSIONS = capturedVersions();
/** The OVS and OVN versions of a version folder, e.g. {ovs: '3.5.0', ovn: '25.03.0'}. */
export function versionOf(version: string): { ovs: string; ovn: string } {
  const m = VERSION_DIR.exec(version);
  if (!m) throw new Error(`not a captured version folder name: ${version}`);
  return { ovs: m[1], ovn: m[2] };
}
/** True when the version's OVN is at least `ovn` (e.g. ovnAtLeast(v, '23.09') for ACL tiers). */
export function ovnAtLeast(version: string, ovn: string): boolean {
  return compareVersions(versionOf(version).ovn, ovn) >= 0;
}
export function ovsAtLeast(version: string, ovs: string): boolean {
  return compareVersions(versionOf(version).ovs, ovs) >= 0;
}

/** The Debian 12 capture (OVS 3.1.0 / OVN 23.03.1): the one the single-version tests and benches name flows of. */
export const DEBIAN12 = 'ovs-3.1.0_ovn-23.03.1';
export const CAPTURED = join(CAPTURED_ROOT, DEBIAN12);

export function versionDir(version: string): string {
  return join(CAPTURED_ROOT, version);
}

/** The scenario folders of a version (those with a manifest.json). */
export function capturedScenarios(version: string): string[] {
  const dir = versionDir(version);
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'manifest.json')))
    .map((d) => d.name)
    .sort();
}

/** `versions × scenarios` rows for it.each / describe.each. */
export function versionScenarios(): Array<[version: string, scenario: string]> {
  return VERSIONS.flatMap((v) => capturedScenarios(v).map((s): [string, string] => [v, s]));
}

/** A schema file: a captured version's own (ovn-nb / ovn-sb / vswitch .ovsschema), or with no version a hand-made one of SCHEMAS. */
export function schema(file: string, version?: string): DatabaseSchema {
  return JSON.parse(readFileSync(version ? join(versionDir(version), file) : join(SCHEMAS, file), 'utf8')) as DatabaseSchema;
}

/**
 * Replicas of a version's captured NB/SB (default: Debian 12's). `sbSchema` names a hand-made SB
 * schema of SCHEMAS instead of the one captured with the dump.
 */
export function capturedReplicas(sbSchema?: string, version = DEBIAN12): { nb: Replica; sb: Replica; ovs: Replica } {
  const dir = versionDir(version);
  const nb = replicaFromDump('OVN_Northbound', NORTHBOUND, schema('ovn-nb.ovsschema', version), readFileSync(join(dir, 'northbound.json'), 'utf8'));
  const sbS = sbSchema ? schema(sbSchema) : schema('ovn-sb.ovsschema', version);
  const sb = replicaFromDump('OVN_Southbound', SOUTHBOUND, sbS, readFileSync(join(dir, 'southbound.json'), 'utf8'));
  return { nb, sb, ovs: localOvs(undefined, version) };
}

export function localOvs(
  ifaces: Array<[name: string, ofport: number, ifaceId: string | null]> = [1, 2, 3, 4].map((i) => [`vif${i}`, i, `lsp${i}`]),
  version = DEBIAN12,
): Replica {
  const ovs = new Replica('Open_vSwitch', OPEN_VSWITCH as ReplicaSpec);
  ovs.configure(schema('vswitch.ovsschema', version));
  const u: TableUpdates2 = { Interface: {}, Port: {}, Bridge: {} };
  const portUuids: string[] = [];
  ifaces.forEach(([name, ofport, ifaceId], i) => {
    const iu = `00000000-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`;
    const pu = `00000000-0000-4000-8000-0000000002${String(i).padStart(2, '0')}`;
    u.Interface[iu] = { initial: { name, ofport, type: 'dummy', external_ids: ['map', ifaceId ? [['iface-id', ifaceId]] : []] } };
    u.Port[pu] = { initial: { name, interfaces: ['uuid', iu] } };
    portUuids.push(pu);
  });
  u.Bridge['00000000-0000-4000-8000-000000000300'] = { initial: { name: 'br-int', ports: ['set', portUuids.map((p) => ['uuid', p])] } };
  ovs.replaceAll(u);
  return ovs;
}

export function capturedModel(sbSchema?: string, version = DEBIAN12): OvnModel {
  return new OvnModel(capturedReplicas(sbSchema, version));
}

/**
 * The model over NB/SB dumps kept beside a capture (`dir`/`prefix`northbound.json, …southbound.json: a
 * cross-check capture's own moment) with `ifaces` as the local OVS interfaces.
 */
export function modelFromDumps(dir: string, version: string, ifaces: Parameters<typeof localOvs>[0] = [], prefix = ''): OvnModel {
  const read = (f: string) => readFileSync(join(dir, `${prefix}${f}`), 'utf8');
  return new OvnModel({
    nb: replicaFromDump('OVN_Northbound', NORTHBOUND, schema('ovn-nb.ovsschema', version), read('northbound.json')),
    sb: replicaFromDump('OVN_Southbound', SOUTHBOUND, schema('ovn-sb.ovsschema', version), read('southbound.json')),
    ovs: localOvs(ifaces, version),
  });
}
