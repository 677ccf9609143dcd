// The EVPN capture (scripts/capture-fixtures --evpn: test/fixtures/evpn/<version>/): its pairs, files,
// the model over its NB/SB dumps, its ofproto/trace passes, and the neighbours ovn-controller's
// evpn/vtep-arp-list named, by the cookie of their rules.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replicaFromDump } from '../../src/ovn/fixture-loader';
import { OvnModel } from '../../src/ovn/ovn-model';
import { parseOfprotoTrace, TracePass } from '../../src/ovs/ofproto-trace';
import type { DatabaseSchema } from '../../src/ovsdb/types';
import { NORTHBOUND, SOUTHBOUND } from '../../src/replicas/ovn-tables';

export const EVPN_FIXTURES = join(__dirname, '../fixtures/evpn');
export const EVPN_VERSIONS = existsSync(EVPN_FIXTURES) ? readdirSync(EVPN_FIXTURES).filter((d) => /^ovs-.*_ovn-/.test(d)).sort() : [];

export function readEvpn(version: string, file: string): string {
  return readFileSync(join(EVPN_FIXTURES, version, file), 'utf8');
}

export function evpnModel(version: string): OvnModel {
  const load = (db: string, spec: typeof NORTHBOUND, schema: string, dump: string) =>
    replicaFromDump(db, spec, JSON.parse(readEvpn(version, schema)) as DatabaseSchema, readEvpn(version, dump));
  return new OvnModel({
    nb: load('OVN_Northbound', NORTHBOUND, 'ovn-nb.ovsschema', 'northbound.json'),
    sb: load('OVN_Southbound', SOUTHBOUND, 'ovn-sb.ovsschema', 'southbound.json'),
  });
}

/** The neighbours of evpn/vtep-arp-list by cookie: `UUID: <uuid>, VNI: 10, MAC: <mac>, IP: <ip>, dp_key: 1`. */
export function evpnNeighbours(version: string): Map<string, { ip: string; mac: string }> {
  const out = new Map<string, { ip: string; mac: string }>();
  for (const m of readEvpn(version, 'arp-list.txt').matchAll(/^UUID: ([0-9a-f]{8})-.*, MAC: ([^,]+), IP: ([^,]+),/gm)) out.set('0x' + m[1], { mac: m[2], ip: m[3] });
  return out;
}

/** traces/<name>.txt's one pass. */
export function evpnPass(version: string, name: string): TracePass {
  const r = parseOfprotoTrace(readEvpn(version, `traces/${name}.txt`));
  if (r.kind !== 'trace') throw new Error(`${name}: ${r.kind}`);
  return r.pass;
}
