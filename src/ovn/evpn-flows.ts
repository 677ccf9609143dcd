// A rule whose cookie no southbound row owns: either one of the EVPN rules ovn-controller installs
// on its own, or a row the replica has not seen (yet, or any more). Recognised by what OVN's source
// makes certain (branch-26.03; EVPN exists from 25.09):
//
// - Cookies: the first 32 bits of a UUID ovn-controller draws at random per remote VTEP binding,
//   flood group and FDB entry (controller/evpn-binding.c:389 and :423, evpn-fdb.c:130,
//   evpn-arp.c:149 `.flow_uuid = uuid_random()`; physical.c:3432… `flow_uuid.parts[0]`). No cookie
//   rule can spot them, and they never reach the southbound database: only their shape can.
// - An EVPN binding's logical port key has bit 31 set, 0x80000000 | 1..0xffff (lib/ovn-util.h:185
//   OVN_MIN_EVPN_KEY, OVN_IS_EVPN_KEY); no Port_Binding's tunnel_key can. Every per-VTEP rule
//   matches it in reg14/reg15 or loads it into reg14 (tunnel in) or reg1 (remote FDB), physical.c
//   physical_consider_evpn_binding / _fdb.
// - The flood rules towards the VTEPs match the multicast keys 0x8000, 0x8001, 0x8004
//   (lib/mcast-group-index.h) and set the VXLAN endpoints (tun_src/tun_dst) themselves, with no
//   Geneve option (physical_consider_evpn_multicast); OVN's own Geneve flooding carries tun_metadata.
// - A neighbour (a remote workload's MAC+IP, OVN 26.03: evpn-arp.c, physical_consider_evpn_arp)
//   gets the very rules a MAC_Binding or Static_MAC_Binding row gets, on the same router port key
//   (neighbor-of.c consider_neighbor_flow): get_arp/get_nd's (OFTABLE_MAC_BINDING, 66: `reg0=IP` or
//   xxreg1 as reg4..reg7, reg15, metadata → eth_dst := MAC, flags.lookup_mac) and lookup_arp/nd's
//   (OFTABLE_MAC_LOOKUP, 67: arp + reg0, or icmp6 + xxreg0 as reg0..reg3 + icmp_code=0, reg14,
//   metadata, dl_src=MAC → flags.lookup_mac). Only the priority tells them apart (neighbor-of.h):
//   200, or 20 with dynamic-routing-arp-prefer-local, where the southbound's rows get 100 (learned),
//   150 or 50 (static; those OVN gave them before 26.03 too).
//
// Both spellings of actions are read: ofproto/trace's (`set_field:0x80000001->reg14`,
// `->tun_dst`) and ovs-ofctl's / detrace's (`load:0x80000001->NXM_NX_REG14[]`, `NXM_NX_TUN_IPV4_DST`).
import { canonicalIp, isCookieZero } from '../ovs/ids';
import type { ControllerFlow, EvpnRole } from './types';

export interface RuleText {
  readonly match: string;
  readonly actions: string;
  /** Without it a neighbour rule is not told from a MAC_Binding's (above). */
  readonly priority?: number | null;
}

const EVPN_KEY = '0x8000[0-9a-f]{4}';
const MATCH_KEY = new RegExp(`(?:^|,)reg1([45])=(${EVPN_KEY})(?=,|$)`, 'i');
const LOAD_KEY = new RegExp(`(?:set_field|load):(${EVPN_KEY})->(?:NXM_NX_)?(reg14|reg1)\\b(?!\\d)`, 'i');
const FLOOD_KEY = /(?:^|,)reg15=0x800[014](?=,|$)/i;
const SETS_TUN_DST = /->(?:tun_dst|tun_ipv6_dst|NXM_NX_TUN_IPV4_DST|NXM_NX_TUN_IPV6_DST)\b/i;
const SETS_GENEVE_OPTION = /->(?:NXM_NX_)?tun_metadata\d/i;
const TUN_SRC = /(?:^|,)tun_(?:ipv6_)?src=([^,]+)/;

const ROLE_TEXT: Record<EvpnRole, string> = {
  'from-vtep': 'VXLAN from a remote VTEP into the logical switch',
  'to-vtep': 'VXLAN to a remote VTEP',
  'flood-to-vteps': 'flooding to the remote VTEPs',
  'remote-fdb': 'the EVPN FDB: a MAC behind a remote VTEP',
  'fdb-learning': 'MAC learning from a remote VTEP',
  neighbour: 'a remote workload learned from the EVPN bridge',
};

/** The EVPN rule this is, by its shape; null when it is not one (OVN's source, above). */
export function evpnFlow(rule: RuleText): ControllerFlow | null {
  const neighbour = evpnNeighbour(rule);
  if (neighbour) return neighbourFlow(neighbour);
  const role = evpnRole(rule);
  if (!role) return null;
  const key = MATCH_KEY.exec(rule.match)?.[2] ?? LOAD_KEY.exec(rule.actions)?.[1] ?? null;
  const vtep = role === 'from-vtep' ? TUN_SRC.exec(rule.match)?.[1] : undefined;
  const detail = [key ? `EVPN port key ${key.toLowerCase()}` : null, vtep ? `VTEP ${vtep}` : null].filter(Boolean).join(', ');
  return {
    kind: 'evpn',
    role,
    name: `EVPN rule: ${ROLE_TEXT[role]}${detail ? ` (${detail})` : ''}`,
    why:
      `an EVPN rule ovn-controller installs itself (${ROLE_TEXT[role]}${detail ? `, ${detail}` : ''}), whose cookie is the ` +
      "start of a random UUID of ovn-controller's (ovn-appctl evpn/vtep-binding-list, evpn/vtep-fdb-list, " +
      'evpn/vtep-multicast-group-list), never a southbound row',
  };
}

export interface Neighbour {
  readonly ip: string;
  readonly mac: string;
  /** get_arp/get_nd's rule (the MAC for an IP), or lookup_arp/lookup_nd's (is this MAC the IP's). */
  readonly lookup: boolean;
}

function neighbourFlow({ ip, mac, lookup }: Neighbour): ControllerFlow {
  return {
    kind: 'evpn',
    role: 'neighbour',
    name: `EVPN neighbour ${ip} → ${mac} (learned, not in the southbound)`,
    why:
      `ovn-controller's own rule for EVPN neighbour ${ip} → ${mac} (${lookup ? 'lookup_arp/lookup_nd' : 'get_arp/get_nd'}, ` +
      "where a MAC_Binding's would be): a remote workload's MAC+IP that the EVPN control plane wrote into the neighbour " +
      "table of the switch's EVPN bridge, where a stale one is found (ip neigh show nud noarp); its cookie is the start of " +
      "a random UUID of ovn-controller's (ovn-appctl evpn/vtep-arp-list), never a southbound row",
  };
}

const EVPN_NEIGHBOUR_PRIORITIES = new Set([200, 20]);
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const LOOKUP_MAC_FLAG = /^(?:set_field:0x40\/0x40->reg10|load:0x1->NXM_NX_REG10\[6\])$/;
const SET_ETH_DST = /^(?:set_field:([0-9a-f:]{17})->eth_dst|mod_dl_dst:([0-9a-f:]{17}))$/i;

/** An EVPN neighbour's rule (above): its neighbour; null for any other rule. */
export function evpnNeighbour(rule: RuleText): Neighbour | null {
  if (rule.priority == null || !EVPN_NEIGHBOUR_PRIORITIES.has(rule.priority)) return null;
  return macBindingRule(rule);
}

/**
 * The IP and MAC of a rule shaped as get_arp/get_nd's or lookup_arp/lookup_nd's in tables 66/67
 * (above), whoever it is for: an EVPN neighbour, a MAC_Binding or a Static_MAC_Binding; null otherwise.
 */
export function macBindingRule({ match, actions }: RuleText): Neighbour | null {
  // ofproto/trace's actions come a line each, ovs-ofctl's and detrace's comma-separated.
  const acts = actions.split(/[\n,]/).map((a) => a.trim()).filter(Boolean);
  if (acts.filter((a) => LOOKUP_MAC_FLAG.test(a)).length !== 1) return null;
  const fields = new Map(match.split(',').filter(Boolean).map((f) => [f.split('=')[0], f.slice(f.indexOf('=') + 1)] as const));
  const exactly = (...keys: string[]) => fields.size === keys.length && keys.every((k) => fields.has(k));
  const regs = (...names: string[]) => names.map((r) => fields.get(r)!);
  if (acts.length === 2) {
    const set = acts.map((a) => SET_ETH_DST.exec(a)).find((m) => m !== null);
    if (!set) return null;
    const mac = set[1] ?? set[2];
    if (exactly('reg0', 'reg15', 'metadata')) return ipv4(fields.get('reg0')!, mac, false);
    if (exactly('reg4', 'reg5', 'reg6', 'reg7', 'reg15', 'metadata')) return ipv6(regs('reg4', 'reg5', 'reg6', 'reg7'), mac, false);
    return null;
  }
  const mac = fields.get('dl_src');
  if (acts.length !== 1 || !mac || !MAC.test(mac)) return null;
  if (exactly('arp', 'reg0', 'reg14', 'metadata', 'dl_src')) return ipv4(fields.get('reg0')!, mac, true);
  if (exactly('icmp6', 'reg0', 'reg1', 'reg2', 'reg3', 'reg14', 'metadata', 'dl_src', 'icmp_code') && fields.get('icmp_code') === '0') {
    return ipv6(regs('reg0', 'reg1', 'reg2', 'reg3'), mac, true);
  }
  return null;
}

/** A 32-bit register as OVS prints it (`0xac100132`, `0`). */
function reg32(text: string): number | null {
  if (!/^(?:0x[0-9a-f]{1,8}|\d+)$/i.test(text)) return null;
  const n = Number(text);
  return n <= 0xffffffff ? n : null;
}

function ipv4(reg: string, mac: string, lookup: boolean): Neighbour | null {
  const n = reg32(reg);
  return n === null ? null : { ip: [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.'), mac: mac.toLowerCase(), lookup };
}

/** An xxreg as its four registers, the most significant first (OVS's xxregN = reg4N..reg4N+3). */
function ipv6(regs: string[], mac: string, lookup: boolean): Neighbour | null {
  const words = regs.map(reg32);
  if (words.some((w) => w === null)) return null;
  const hextets = (words as number[]).flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]);
  return { ip: canonicalIp(hextets.join(':')), mac: mac.toLowerCase(), lookup };
}

function evpnRole({ match, actions }: RuleText): EvpnRole | null {
  const load = LOAD_KEY.exec(actions);
  if (load && load[2].toLowerCase() === 'reg14') return 'from-vtep';
  const m = MATCH_KEY.exec(match);
  if (m) return m[1] === '5' ? 'to-vtep' : 'fdb-learning';
  if (load) return 'remote-fdb';
  if (FLOOD_KEY.test(match) && SETS_TUN_DST.test(actions) && !SETS_GENEVE_OPTION.test(actions)) return 'flood-to-vteps';
  return null;
}

/**
 * Whether no southbound row owns a rule's cookie though it has one: cookie 0 (ids.ts isCookieZero, any
 * spelling) is glue, no row's. The one guard before a rule is read as an EVPN one, at annotation
 * (correlation/annotate.ts), when steps are read back (traces/step-store.ts) and in the drop verdict.
 */
export function cookieUnowned(rule: { readonly cookie: string | null }, owners: readonly unknown[]): boolean {
  return owners.length === 0 && !isCookieZero(rule.cookie);
}

/** The EVPN rule a step is (evpnFlow) when no southbound row owns its non-zero cookie; null otherwise. */
export function unownedEvpnFlow(rule: RuleText & { readonly cookie: string | null }, owners: readonly unknown[]): ControllerFlow | null {
  return cookieUnowned(rule, owners) ? evpnFlow(rule) : null;
}

/**
 * Why no southbound row owns a rule's (non-zero) cookie, to follow "…'s rule with cookie C", from what
 * annotation found the rule to be (its step's controllerFlow): an EVPN rule's never will; any other's
 * row is newer than the replica or was deleted before the trace. The one wording of both.
 */
export function unownedCookieWhy(evpn: ControllerFlow | null | undefined): string {
  return evpn ? `is ${evpn.why}` : 'is owned by no southbound row (a logical flow newer than the replica, or deleted before it was traced)';
}
