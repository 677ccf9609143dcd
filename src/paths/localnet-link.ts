// Which passes on other chassis took in the frame a pass sent to the physical network by a localnet
// port (a provider network: docs/multi-chassis.md, "Across a localnet port"). No tunnel and no packet
// id cross it: the link is the physical network (the store finds, by the traces' logical ports, first
// passes that came in by a localnet port of the same network and VLAN), the same packet (the sender's
// key after its own set() and push_vlan rewrites at one of its outputs, against the receiver's key,
// tag included, under both masks: tunnel-link.ts, the one comparison) and a time within the skew
// window. The network floods a MAC it has not learnt, so several chassis may take the same frame in:
// each chassis's nearest fitting pass is returned, and the caller decides which carried the packet
// on. Pure.
import { arrivalOf, gapMs, innerFields, nearer, samePacket, sentFieldsOfOutputs, type LinkFlow } from './tunnel-link';

/**
 * Whether `c` could be the first pass of the frame `sender` sent to the physical network: another
 * chassis, a first pass (recirc_id 0) that came in by no tunnel, within the skew, the same packet at
 * one of the sender's outputs. `sent`: sentFieldsOfOutputs(sender), read once for every candidate.
 */
function takesIn(sender: LinkFlow, sent: ReturnType<typeof sentFieldsOfOutputs>, c: LinkFlow, skewMs: number): boolean {
  if (c.chassis === sender.chassis || c.recircId !== 0 || arrivalOf(c)) return false;
  if (gapMs(sender, c) > skewMs) return false;
  const received = innerFields(c.key);
  return sent.some((o) => samePacket(o.fields, received));
}

/** Each other chassis's nearest pass (see `nearer`) that took in the frame `sender` sent, in chassis order. */
export function localnetReceivers<T extends LinkFlow>(sender: LinkFlow, candidates: readonly T[], skewMs: number): T[] {
  const sent = sentFieldsOfOutputs(sender);
  if (!sent.length) return [];
  const best = new Map<string, T>();
  for (const c of candidates) {
    if (!takesIn(sender, sent, c, skewMs)) continue;
    if (nearer(sender, c, best.get(c.chassis))) best.set(c.chassis, c);
  }
  return [...best.keys()].sort().map((k) => best.get(k)!);
}

/** The other way: which of `senders` (passes on other chassis that left by a localnet port) sent the frame `receiver` took in; the nearest wins. */
export function localnetSenderOf<T extends LinkFlow>(receiver: LinkFlow, senders: readonly T[], skewMs: number): T | undefined {
  let best: T | undefined;
  for (const s of senders) {
    if (!takesIn(s, sentFieldsOfOutputs(s), receiver, skewMs)) continue;
    if (nearer(receiver, s, best)) best = s;
  }
  return best;
}
