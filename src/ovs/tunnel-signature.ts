import { tunnelIdDecimal } from './ids';
import { OVN_GENEVE_CLASS, OVN_GENEVE_TYPE, tunnelMatch, type GeneveOption, type TunnelPush } from './odp-tunnel';

/**
 * The tunnel signature of a datapath flow that receives from a tunnel (issue 19): what a sender's
 * push must carry for the flow to be its arrival, as one text a database index can seek
 * (datapath_flow.tunnel_sig): `dst|vni|ingress|egress`, the receiver's encap IP, the VNI (tun_id)
 * and OVN's logical ingress and egress port keys from its Geneve option (class 0x102, type 0x80:
 * ingress in bits 16..30, egress in bits 0..15), each `*` where the key's mask does not cover it
 * whole (a megaflow may wildcard the egress port, or the whole option).
 *
 * A wider signature only lets more candidates through: `pushReaches` (odp-tunnel.ts) still decides
 * on the full match (the exact masks, the sender's encap IP, other options), so a push's
 * `signaturesReaching` holds the signature of every arrival it can reach, and more.
 */

/** One part a mask leaves whole, else `*`. */
const WILD = '*';
const INGRESS_BITS = 0x7fff0000n;
const EGRESS_BITS = 0xffffn;

/**
 * The signature of a flow key (with or without -m masks), or null when the flow is no tunnel
 * arrival: no `tunnel(` in its key, a recirculated pass (recirc_id ≠ 0: it follows its arrival by
 * recirculation, as on one chassis), no tunnel dst, or a tunnel match the parser refuses (the link
 * skips that flow too).
 */
export function tunnelSignature(key: string, recircId: number): string | null {
  if (recircId !== 0 || !key.includes('tunnel(')) return null;
  // Ingest writes keys from outside: a value the parser leaves as text (`0xzz`) is no signature, not a failed write.
  try {
    return signatureOf(key);
  } catch {
    return null;
  }
}

function signatureOf(key: string): string | null {
  const m = tunnelMatch(key);
  if (!m?.dst) return null;
  const vni = m.vniMask === undefined ? tunnelIdDecimal(m.vni) : WILD;
  const ovn = ovnOption(m.geneve);
  if (!ovn) return [m.dst, vni, WILD, WILD].join('|');
  const data = BigInt(ovn.data || '0');
  const mask = ovn.mask === undefined ? 0xffffffffn : BigInt(ovn.mask);
  const ingress = (mask & INGRESS_BITS) === INGRESS_BITS ? String((data & INGRESS_BITS) >> 16n) : WILD;
  const egress = (mask & EGRESS_BITS) === EGRESS_BITS ? String(data & EGRESS_BITS) : WILD;
  return [m.dst, vni, ingress, egress].join('|');
}

/**
 * The signatures an arrival of this push may carry: its remote IP and each of VNI, ingress and
 * egress either as pushed or wildcarded, always eight (repeats when the push has no OVN option), so
 * a query over them is one statement text.
 */
export function signaturesReaching(push: TunnelPush): string[] {
  const ovn = ovnOption(push.geneve);
  // As pushReaches reads the push's option: its data, 0 when empty (tunnelPushes refused data that is no number).
  const data = ovn ? BigInt(ovn.data || '0') : undefined;
  const vnis = [tunnelIdDecimal(push.vni), WILD];
  const ingresses = data === undefined ? [WILD, WILD] : [String((data & INGRESS_BITS) >> 16n), WILD];
  const egresses = data === undefined ? [WILD, WILD] : [String(data & EGRESS_BITS), WILD];
  const out: string[] = [];
  for (const v of vnis) for (const i of ingresses) for (const e of egresses) out.push([push.remoteIp, v, i, e].join('|'));
  return out;
}

/** The first OVN option, as pushReaches finds the push's (class and type only). */
function ovnOption(options: GeneveOption[]): GeneveOption | undefined {
  return options.find((o) => o.optClass === OVN_GENEVE_CLASS && o.type === OVN_GENEVE_TYPE);
}
