// Localnet ports and the physical network each stands for (southbound Port_Binding type
// "localnet", options:network_name, tag), for the path's hop across a provider network
// (paths/localnet-hops.ts). Every chassis whose ovn-bridge-mappings names the network has its own
// copy of the port, patched to the provider bridge: a frame one chassis sends by it is taken in by
// the others' copies of any localnet port of that network (a VLAN tag tells their switches apart).
import type { Replica, ReplicaRow } from '../ovsdb/replica/replica';

export interface LocalnetPort {
  port: string;
  /** options:network_name, the bridge mapping's name; null when the row has none. */
  network: string | null;
  /** The VLAN tag ovn-controller pushes on what leaves by the port (null: untagged). */
  vlan: number | null;
}

function localnetOf(row: ReplicaRow): LocalnetPort {
  const options = (row.options ?? {}) as Record<string, string>;
  const tag = Array.isArray(row.tag) ? row.tag[0] : row.tag;
  return { port: String(row.logical_port), network: options.network_name ?? null, vlan: typeof tag === 'number' ? tag : null };
}

/** The localnet port of that name, or null when it is no localnet port (or unknown here). */
export function localnetPort(sb: Replica, name: string): LocalnetPort | null {
  const row = sb.find('Port_Binding', 'logical_port', name).find((r) => r.type === 'localnet');
  return row ? localnetOf(row) : null;
}

/**
 * The localnet ports that take in what `ln` sends: those of its physical network with its VLAN tag
 * (ovn-controller matches the tag on what comes in from the provider bridge); the port itself when
 * its network is unnamed.
 */
export function localnetPeersOf(sb: Replica, ln: LocalnetPort): LocalnetPort[] {
  if (ln.network === null) return [ln];
  return sb.find('Port_Binding', 'type', 'localnet').map(localnetOf).filter((p) => p.network === ln.network && p.vlan === ln.vlan);
}
