// Whose conntrack zone a datapath ct(zone=N) runs in. ovn-controller records the zones it assigned
// in the integration bridge's external_ids: `ct-zone-<logical port>` for a switch port's zone, and
// `ct-zone-<datapath>_dnat` / `_snat` for a router's two, where <datapath> is the SB
// Datapath_Binding's uuid (OVN 23.03) or its external_ids:name (25.03, 26.03;
// test/fixtures/captured-nat/*/force-snat-dnat-and-snat/bridges.json). A router's rewrites
// (its NAT rows, its lb_force_snat_ip) happen in its own zones only: a backend's reply passes its
// switch port's zone first, where applying them links it to another connection's pass.
import type { HeaderRewrite } from '../ovs/key-rewrite';
import type { ReplicaRow } from '../ovsdb/replica/replica';

/** zone → the NB Logical_Router uuid owning it, or null for a zone that is no router's (a port's). */
export type ZoneOwners = ReadonlyMap<number, string | null>;

const ZONE_KEY = /^ct-zone-(.+?)(?:_(dnat|snat))?$/;

/** The zone owners `bridges`' external_ids name (`datapaths`: SB Datapath_Binding rows). */
export function ctZoneOwners(bridges: Iterable<ReplicaRow>, datapaths: Iterable<ReplicaRow>): ZoneOwners {
  const routerOf = new Map<string, string>();
  for (const dp of datapaths) {
    const ids = (dp.external_ids ?? {}) as Record<string, string>;
    const router = ids['logical-router'];
    if (!router) continue;
    routerOf.set(dp._uuid, router);
    if (ids.name) routerOf.set(ids.name, router);
  }
  const out = new Map<number, string | null>();
  for (const b of bridges) {
    for (const [key, value] of Object.entries((b.external_ids ?? {}) as Record<string, string>)) {
      const m = ZONE_KEY.exec(key);
      const zone = Number(value);
      if (!m || !Number.isInteger(zone)) continue;
      out.set(zone, (m[2] && routerOf.get(m[1])) || null);
    }
  }
  return out;
}

/**
 * The rewrites a bare ct(nat) in `zone` can apply: a router's only in that router's zones. An
 * unknown zone (no external_ids, an older or newer key form) keeps them all.
 */
export function rewritesInZone(all: readonly HeaderRewrite[], zone: number, owners: ZoneOwners): readonly HeaderRewrite[] {
  if (!owners.has(zone)) return all;
  const owner = owners.get(zone);
  return all.filter((rw) => rw.router === undefined || rw.router === owner);
}
