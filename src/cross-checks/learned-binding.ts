// A router's neighbour learning seen from both sides of a cross-check. When a packet is the first a
// router sees from an address, its lookup (lookup_arp / lookup_nd) finds no binding and the learn
// stage runs put_arp / put_nd: ovn-controller writes a southbound MAC_Binding and then installs the
// flows that make the lookup succeed. ovn-trace, run after that, reads the southbound and finds the
// binding this very packet asked for, so its learn stage runs the `next;` of a known neighbour. The
// two differ by state written between the packet and the simulation, not by a logical flow.
import { canonicalIp } from '../ovs/ids';
import type { OvnModel } from '../ovn/ovn-model';
import type { LiveFlowJson, SimFlowJson } from './live-segments';

export interface MacBindingRow {
  logicalPort: string;
  mac: string;
}

/** The southbound MAC_Bindings of a router (by name) for an IP. */
export type MacBindingLookup = (datapath: string, ip: string) => MacBindingRow[];

/** put_arp(inport, arp.spa, arp.sha) / put_nd(inport, nd.target, nd.tll): the field holding the IP it learns. */
const PUT = /\b(put_arp|put_nd)\s*\(\s*[^,]+,\s*([\w.]+)\s*,/;
/** OVN's field → its name in ovn-trace's OpenFlow rendering of the microflow (its `# …` first line). */
const OPENFLOW_FIELD: Record<string, string> = {
  'arp.spa': 'arp_spa',
  'arp.tpa': 'arp_tpa',
  'ip4.src': 'nw_src',
  'ip4.dst': 'nw_dst',
  'ip6.src': 'ipv6_src',
  'ip6.dst': 'ipv6_dst',
  'nd.target': 'nd_target',
};

/** The lookup over the southbound replica (tombstones are bindings gone: not what ovn-trace found). */
export function macBindingLookup(model: Pick<OvnModel, 'db' | 'datapathByUuid'>): MacBindingLookup {
  return (datapath, ip) => {
    const want = canonicalIp(ip);
    const out: MacBindingRow[] = [];
    for (const row of model.db.sb.rows('MAC_Binding')) {
      if (canonicalIp(String(row.ip)) !== want) continue;
      const dp = String((Array.isArray(row.datapath) ? row.datapath[0] : row.datapath) ?? '');
      if (model.datapathByUuid(dp)?.name !== datapath) continue;
      out.push({ logicalPort: String(row.logical_port), mac: String(row.mac) });
    }
    return out;
  };
}

/**
 * The explanation of a stage where the datapath ran put_arp / put_nd and ovn-trace did not, when the
 * southbound now has a MAC_Binding for the address it learned; null otherwise. `microflow`: ovn-trace's
 * OpenFlow rendering of the packet; `tracedAt`: when the live pass was traced.
 */
export function learnedBindingExplanation(
  at: { where: string; datapath: string | null },
  live: LiveFlowJson,
  sim: SimFlowJson | null,
  microflow: string,
  lookup: MacBindingLookup,
  tracedAt?: string,
): string | null {
  const put = PUT.exec(live.actions ?? '');
  if (!put || !at.datapath || (sim && PUT.test(sim.actions.join(' ')))) return null;
  const field = OPENFLOW_FIELD[put[2]];
  const ip = field ? new RegExp(`(?:^|,)${field}=([^,\\s/]+)`).exec(microflow)?.[1] : undefined;
  if (!ip) return null;
  const rows = lookup(at.datapath, ip);
  if (!rows.length) return null;
  const seen = rows.map((r) => `${r.logicalPort} → ${r.mac}`).join('; ');
  return (
    `MAC_Binding for ${ip} learned by this packet (or since): at ${at.where} the datapath ran ${put[1]} (logical flow ${live.cookie.slice(2)}), ` +
    `"${at.datapath}" having no binding for ${ip} (or another MAC for it) when the pass was traced${tracedAt ? ` (${tracedAt})` : ''}, ` +
    `and ovn-trace, run later, found the one the southbound has now (${seen}) and ran ${sim?.uuidPrefix ? `logical flow ${sim.uuidPrefix} (${JSON.stringify(sim.actions.join(' '))})` : 'no flow'} instead.`
  );
}
