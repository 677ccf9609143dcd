// The OVN model built from the captured NB/SB dumps (test/fixtures/captured/{northbound,southbound}.json)
// and a local Open_vSwitch database as scripts/capture-fixtures built it: vifN on br-int with
// external-ids:iface-id=lspN and ofport N (the dump of that database was not captured).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replicaFromDump } from '../../../src/ovn/fixture-loader';
import { OvnModel } from '../../../src/ovn/ovn-model';
import { Replica, ReplicaSpec } from '../../../src/ovsdb/replica/replica';
import type { DatabaseSchema, TableUpdates2 } from '../../../src/ovsdb/types';
import { NORTHBOUND, OPEN_VSWITCH, SOUTHBOUND } from '../../../src/replicas/ovn-tables';

export const CAPTURED = join(__dirname, '../../fixtures/captured');
export const SCHEMAS = join(__dirname, 'schemas');

export function schema(file: string): DatabaseSchema {
  return JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')) as DatabaseSchema;
}

export function capturedReplicas(sbSchema = 'ovn-sb.ovsschema'): { nb: Replica; sb: Replica; ovs: Replica } {
  const nb = replicaFromDump('OVN_Northbound', NORTHBOUND, schema('ovn-nb.ovsschema'), readFileSync(join(CAPTURED, 'northbound.json'), 'utf8'));
  const sb = replicaFromDump('OVN_Southbound', SOUTHBOUND, schema(sbSchema), readFileSync(join(CAPTURED, 'southbound.json'), 'utf8'));
  return { nb, sb, ovs: localOvs() };
}

export function localOvs(ifaces: Array<[name: string, ofport: number, ifaceId: string | null]> = [1, 2, 3, 4].map((i) => [`vif${i}`, i, `lsp${i}`])): Replica {
  const ovs = new Replica('Open_vSwitch', OPEN_VSWITCH as ReplicaSpec);
  ovs.configure(schema('vswitch.ovsschema'));
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

export function capturedModel(sbSchema?: string): OvnModel {
  return new OvnModel(capturedReplicas(sbSchema));
}
