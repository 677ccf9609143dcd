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
// Not recognised: the neighbour rules of EVPN-learned ARPs (physical_consider_evpn_arp), whose match
// is a router port's ordinary key, as for a MAC_Binding.
//
// Both spellings of actions are read: ofproto/trace's (`set_field:0x80000001->reg14`,
// `->tun_dst`) and ovs-ofctl's / detrace's (`load:0x80000001->NXM_NX_REG14[]`, `NXM_NX_TUN_IPV4_DST`).
import { isCookieZero } from '../ovs/ids';
import type { ControllerFlow, EvpnRole } from './types';

export interface RuleText {
  readonly match: string;
  readonly actions: string;
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
};

/** The EVPN rule this is, by its shape; null when it is not one (OVN's source, above). */
export function evpnFlow(rule: RuleText): ControllerFlow | null {
  const role = evpnRole(rule);
  if (!role) return null;
  const key = MATCH_KEY.exec(rule.match)?.[2] ?? LOAD_KEY.exec(rule.actions)?.[1] ?? null;
  const vtep = role === 'from-vtep' ? TUN_SRC.exec(rule.match)?.[1] : undefined;
  const detail = [key ? `EVPN port key ${key.toLowerCase()}` : null, vtep ? `VTEP ${vtep}` : null].filter(Boolean).join(', ');
  return {
    kind: 'evpn',
    role,
    why:
      `an EVPN rule ovn-controller installs itself (${ROLE_TEXT[role]}${detail ? `, ${detail}` : ''}), whose cookie is the ` +
      "start of a random UUID of ovn-controller's (ovn-appctl evpn/vtep-binding-list, evpn/vtep-fdb-list, " +
      'evpn/vtep-multicast-group-list), never a southbound row',
  };
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
