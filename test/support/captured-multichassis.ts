// The datapath flows and OVN keys captured on a real three-chassis sandbox
// (scripts/capture-multichassis-fixtures, one folder a pair): what the tunnel, push-signature and
// link specs read their keys, actions and expected values from.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OvnModel } from '../../src/ovn/ovn-model';
import { Replica } from '../../src/ovsdb/replica/replica';
import type { TableUpdates2 } from '../../src/ovsdb/types';
import { NORTHBOUND, SOUTHBOUND } from '../../src/replicas/ovn-tables';
import { DEBIAN12, localOvs, schema } from './captured-model';

export const MULTICHASSIS_ROOT = join(__dirname, '../fixtures/captured-multichassis');
export const MULTICHASSIS_PAIRS = readdirSync(MULTICHASSIS_ROOT).sort();

/** keys.json: the southbound's view of the same run. */
export interface MultichassisKeys {
  versions: string;
  encap: Record<string, string>;
  datapaths: Record<string, number>;
  ports: Record<string, { tunnelKey: number }>;
}

export interface CapturedFlow { file: string; key: string; actions: string; recirc: number }

export const multichassisKeys = (pair: string): MultichassisKeys =>
  JSON.parse(readFileSync(join(MULTICHASSIS_ROOT, pair, 'keys.json'), 'utf8')) as MultichassisKeys;

/** Every flow of the pair's dump-flows captures, or of one file. */
export function capturedFlows(pair: string, only?: string): CapturedFlow[] {
  return readdirSync(join(MULTICHASSIS_ROOT, pair))
    .filter((f) => (only ? f === only : /\.(flows(-m)?|kernel-form|stateful\.flows-m)\.txt$/.test(f)))
    .flatMap((file) =>
      readFileSync(join(MULTICHASSIS_ROOT, pair, file), 'utf8')
        .split('\n')
        .filter((l) => l.includes(', actions:'))
        .map((line) => {
          const key = line.slice(0, line.indexOf(', packets:')).replace(/^ufid:\S+ /, '');
          const actions = line.slice(line.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, '');
          return { file, key, actions, recirc: Number(/recirc_id\((0x[0-9a-f]+|\d+)\)/.exec(key)![1]) };
        }),
    );
}

/** The one flow of a capture file that `pred` picks: a fixture picked by its look, an error if that look is not unique. */
export function oneCapturedFlow(pair: string, file: string, pred: (f: CapturedFlow) => boolean): CapturedFlow {
  const hits = capturedFlows(pair, file).filter(pred);
  if (hits.length !== 1) throw new Error(`${file}: expected one line, found ${hits.length}`);
  return hits[0];
}

/** The pairs whose capture has the VXLAN run (hvK.vxlan-m.txt, vxlan.keys.json: its own keys). */
export const VXLAN_PAIRS = MULTICHASSIS_PAIRS.filter((p) => existsSync(join(MULTICHASSIS_ROOT, p, 'vxlan.keys.json')));

/** A keys file with the multicast groups (vxlan.keys.json): datapath name → group name → tunnel key. */
export interface MultichassisKeysWithGroups extends MultichassisKeys {
  /** `chassis`: the chassis the port is bound to (keys files captured with it). */
  ports: Record<string, { tunnelKey: number; datapath: string; type: string; chassis?: string }>;
  multicastGroups: Record<string, Record<string, number>>;
  /** The Chassis rows, by name (keys files captured with them): other_config:is-remote. */
  chassis?: Record<string, { isRemote: boolean }>;
}

export const multichassisKeysOf = (pair: string, file: string): MultichassisKeysWithGroups =>
  JSON.parse(readFileSync(join(MULTICHASSIS_ROOT, pair, file), 'utf8')) as MultichassisKeysWithGroups;

/**
 * The OVN model of one capture run, built from its keys file: the southbound rows the tunnel
 * targets read (Datapath_Binding, Port_Binding, Multicast_Group, Encap), on Debian 12's schema.
 */
export function multichassisModel(keys: MultichassisKeysWithGroups): OvnModel {
  const uuid = (kind: number, i: number) => `00000000-0000-4000-8000-${kind.toString(16).padStart(4, '0')}${i.toString(16).padStart(8, '0')}`;
  const sb = new Replica('OVN_Southbound', SOUTHBOUND);
  sb.configure(schema('ovn-sb.ovsschema', DEBIAN12));
  const dpUuid = new Map(Object.keys(keys.datapaths).map((name, i) => [name, uuid(1, i)]));
  const u: TableUpdates2 = { Datapath_Binding: {}, Port_Binding: {}, Multicast_Group: {}, Encap: {}, Chassis: {} };
  const chassisUuid = new Map(Object.keys(keys.chassis ?? {}).map((name, i) => [name, uuid(5, i)]));
  for (const [name, c] of Object.entries(keys.chassis ?? {})) {
    u.Chassis[chassisUuid.get(name)!] = { initial: { name, other_config: ['map', c.isRemote ? [['is-remote', 'true']] : []] } };
  }
  for (const [name, key] of Object.entries(keys.datapaths)) {
    u.Datapath_Binding[dpUuid.get(name)!] = { initial: { tunnel_key: key, external_ids: ['map', [['name', name]]] } };
  }
  Object.entries(keys.ports).forEach(([name, p], i) => {
    const bound = p.chassis === undefined ? undefined : chassisUuid.get(p.chassis);
    u.Port_Binding[uuid(2, i)] = {
      initial: { logical_port: name, tunnel_key: p.tunnelKey, datapath: ['uuid', dpUuid.get(p.datapath)!], type: p.type, ...(bound ? { chassis: ['uuid', bound] } : {}) },
    };
  });
  let g = 0;
  for (const [dp, groups] of Object.entries(keys.multicastGroups ?? {}))
    for (const [name, key] of Object.entries(groups)) u.Multicast_Group[uuid(3, g++)] = { initial: { name, tunnel_key: key, datapath: ['uuid', dpUuid.get(dp)!] } };
  Object.entries(keys.encap).forEach(([chassis, ip], i) => {
    u.Encap[uuid(4, i)] = { initial: { type: 'geneve', ip, chassis_name: chassis, options: ['map', []] } };
  });
  sb.replaceAll(u);
  const nb = new Replica('OVN_Northbound', NORTHBOUND);
  nb.configure(schema('ovn-nb.ovsschema', DEBIAN12));
  return new OvnModel({ nb, sb, ovs: localOvs() });
}

/**
 * The receiving availability zone's southbound, built from a flood-remote capture's single southbound (where the
 * capture marked hv1 and hv2 is-remote alike) as ovn-ic and northd would write it in hv2's zone: no two-zone capture
 * with ovn-ic here (the roots carry ovn-ic-nbctl and ovn-ic-sbctl but no ovn-ic daemon). In hv2's zone hv2 is a local
 * chassis (no is-remote), hv1 the other zone's interconnection gateway that ovn-ic registered (is-remote,
 * ic/ovn-ic.c sync_isb_gw_to_sb), hv3 (no gateway) has no row; the transit router lr0 keeps its key (ovn-ic syncs
 * it), lr0-az2 is this zone's own router port (a patch port, bound to no chassis), and the other zone's switches
 * and router ports are not here. `ingressPort`: how lr0-sw0, the port the flood came in by in hv1's zone, shows
 * here: 'absent' (a router port of hv1's zone alone), or 'transit' (a transit router port ovn-ic replicated,
 * which northd binds to its remote chassis hv1 as type remote: northd.c is_transit_router_port).
 */
export function receiverZoneKeys(k: MultichassisKeysWithGroups, ingressPort: 'absent' | 'transit'): MultichassisKeysWithGroups {
  const lr0 = Object.fromEntries(Object.entries(k.ports).filter(([, p]) => p.datapath === 'lr0'));
  const ports: MultichassisKeysWithGroups['ports'] = { 'lr0-az2': { tunnelKey: lr0['lr0-az2'].tunnelKey, datapath: 'lr0', type: 'patch' } };
  if (ingressPort === 'transit') ports['lr0-sw0'] = { tunnelKey: lr0['lr0-sw0'].tunnelKey, datapath: 'lr0', type: 'remote', chassis: 'hv1' };
  return {
    ...k,
    encap: { hv1: k.encap.hv1, hv2: k.encap.hv2 },
    datapaths: { lr0: k.datapaths.lr0 },
    ports,
    multicastGroups: {},
    chassis: { hv1: { isRemote: true }, hv2: { isRemote: false } },
  };
}
