import { tunnelIdDecimal } from './ids';
import { OVN_GENEVE_CLASS, OVN_GENEVE_TYPE, tunnelPushes, type TunnelPush } from './odp-tunnel';

/**
 * The push signature of a datapath flow whose actions push a tunnel (issue 19): the other half of
 * tunnel-signature.ts, for the reverse link (a receiving pass looking for the pass that sent it),
 * as one text a database index can seek (datapath_flow.push_sig): `ip|vni|ingress|egress`, the
 * remote encap IP, the VNI and OVN's logical ingress and egress port keys from the push's Geneve
 * option (class 0x102, type 0x80), `-|-` for the ports of a push without that option.
 *
 * A flow may push several tunnels (a flood clones the packet to every chassis with a port of the
 * switch). One column holds them all: the IP as pushed when every push goes to the same IP, else
 * `*`; `vni|ingress|egress` as pushed when every push carries the same, else `*|*|*`. A flood's
 * pushes differ only in the IP (same switch, same ingress port, same multicast group), so it stays
 * `*|vni|ingress|egress`, as narrow as the receiver's own parts; only a flow that pushes into
 * several switches falls to `…|*|*|*`. Not a side table of one row a push: that table would have
 * to be shipped to PostgreSQL and pruned with its flow by every store that ships or prunes, and its
 * rows would need the flow's removed_at (changed after the insert) for the seek to skip old
 * lifetimes. A wider signature only lets more candidates through: pushReaches (odp-tunnel.ts) and
 * senderOf (tunnel-link.ts) still decide.
 */

const WILD = '*';
const NONE = '-';
const INGRESS_BITS = 0x7fff0000n;
const EGRESS_BITS = 0xffffn;

/**
 * The signature of a flow's actions, or null when they push no tunnel, or when the push parser
 * refuses them (pushesOf in tunnel-link.ts gives no push then: the link skips that flow too).
 * Never throws: ingest writes actions from outside.
 */
export function pushSignature(actions: string): string | null {
  if (!actions.includes('tnl_push(') && !actions.includes('set(tunnel(')) return null;
  try {
    const pushes = tunnelPushes(actions);
    if (!pushes.length) return null;
    const ips = new Set(pushes.map((p) => p.remoteIp));
    const rest = new Set(pushes.map(partsOf));
    return `${ips.size === 1 ? pushes[0].remoteIp : WILD}|${rest.size === 1 ? [...rest][0] : `${WILD}|${WILD}|${WILD}`}`;
  } catch {
    return null;
  }
}

/** `vni|ingress|egress` of one push, as pushReaches reads it: the first OVN option's data, 0 when empty. */
function partsOf(push: TunnelPush): string {
  const ovn = push.geneve.find((o) => o.optClass === OVN_GENEVE_CLASS && o.type === OVN_GENEVE_TYPE);
  if (!ovn) return `${tunnelIdDecimal(push.vni)}|${NONE}|${NONE}`;
  const data = BigInt(ovn.data || '0');
  return `${tunnelIdDecimal(push.vni)}|${(data & INGRESS_BITS) >> 16n}|${data & EGRESS_BITS}`;
}

/** What a receiver's senders may hold in push_sig: exact values (`=`), and prefixes (`>= p AND < pEnd`). */
export interface PushSignatureSeek {
  exact: string[];
  prefixes: Array<{ from: string; below: string }>;
}

/**
 * The push signatures of every flow that may have sent an arrival of this tunnel signature
 * (tunnel-signature.ts: `dst|vni|ingress|egress`, `*` where the receiver's mask does not cover a
 * part), or null when there is none to seek (no signature: the receiver has no tunnel dst).
 *
 * The IP as the receiver's dst or `*` (a flood), times `vni|ingress|egress` as the receiver's parts
 * or `*|*|*` (pushes into several switches). A part the receiver wildcards matches any pushed
 * value: the seek for the parts before it becomes a prefix (`dst|5|3|` from `dst|5|3|*`), from the
 * prefix up to the same text ending in `}` (the character after `|`), which is the range of every
 * text starting with it in byte order (SQLite's BINARY, PostgreSQL's "C"). Always two prefixes or
 * none and four or two exact values: one statement text each way.
 */
export function pushSignaturesSought(tunnelSig: string | null): PushSignatureSeek | null {
  if (tunnelSig === null) return null;
  const [dst, ...parts] = tunnelSig.split('|');
  if (parts.length !== 3) return null;
  const ips = [dst, WILD];
  const anyParts = `${WILD}|${WILD}|${WILD}`;
  const firstWild = parts.indexOf(WILD);
  if (firstWild < 0) return { exact: ips.flatMap((ip) => [`${ip}|${parts.join('|')}`, `${ip}|${anyParts}`]), prefixes: [] };
  const lead = parts.slice(0, firstWild);
  return {
    exact: ips.map((ip) => `${ip}|${anyParts}`),
    prefixes: ips.map((ip) => {
      const stem = [ip, ...lead].join('|');
      return { from: `${stem}|`, below: `${stem}}` };
    }),
  };
}
