// The local Open_vSwitch database's interfaces, by name and by bridge and OpenFlow port: which
// logical port (external_ids:iface-id) an OVS port stands for. Built whole from the replica and
// dropped by OvnModel on any change of it (ovn-model.ts), as a port's bridge is read through Port.
import type { Replica } from '../ovsdb/replica/replica';

export interface OvsInterfaceRef {
  readonly name: string;
  readonly ofport: number | null;
  readonly bridge: string | null;
  /** external_ids:iface-id, the logical port name. */
  readonly ifaceId: string | null;
}

export interface OvsInterfaceIndex {
  byName: Map<string, OvsInterfaceRef>;
  /** By `bridge/ofport`. */
  byOfport: Map<string, OvsInterfaceRef>;
  /** The bridges' names: OVS names each bridge's LOCAL port (OpenFlow port 65534) after it. */
  bridges: Set<string>;
}

/** Every interface of `ovs` (none without the local database). */
export function ovsInterfaceIndex(ovs: Replica | undefined): OvsInterfaceIndex {
  const byName = new Map<string, OvsInterfaceRef>();
  const byOfport = new Map<string, OvsInterfaceRef>();
  const bridges = new Set<string>();
  if (ovs) {
    const bridgeOf = new Map<string, string>();
    for (const br of ovs.rows('Bridge')) {
      bridges.add(String(br.name));
      for (const p of ([] as unknown[]).concat(br.ports ?? [])) {
        const port = ovs.get('Port', String(p));
        for (const i of ([] as unknown[]).concat(port?.interfaces ?? [])) bridgeOf.set(String(i), String(br.name));
      }
    }
    for (const i of ovs.rows('Interface')) {
      const ofport = ([] as unknown[]).concat(i.ofport ?? [])[0];
      const ref: OvsInterfaceRef = {
        name: String(i.name),
        ofport: typeof ofport === 'number' ? ofport : null,
        bridge: bridgeOf.get(i._uuid) ?? null,
        ifaceId: ((i.external_ids ?? {}) as Record<string, string>)['iface-id'] ?? null,
      };
      byName.set(ref.name, ref);
      if (ref.ofport !== null) byOfport.set(`${ref.bridge ?? ''}/${ref.ofport}`, ref);
    }
  }
  return { byName, byOfport, bridges };
}
