// Which pass on another chassis received the packet a pass sent into a tunnel (issue 19,
// docs/multi-chassis.md). No packet id crosses the tunnel: the link is the tunnel (VNI, OVN port
// keys, encap IPs: pushReaches), the same inner packet (the sender's key after its own set()
// rewrites against the receiver's key, under both masks) and a time within the skew window
// (the hosts' clocks differ). Pure: the store finds the candidates, this picks one. The packet
// comparison (innerFields, the rewrites up to each push or output, samePacket) is also the
// localnet link's (localnet-link.ts): a frame sent to the physical network is compared the same way.
import { toBits } from '../ovs/key-match';
import { splitTopLevel } from '../ovs/odp-scan';
import { pushReaches, tunnelMatch, tunnelPushes, type TunnelMatch, type TunnelPush } from '../ovs/odp-tunnel';

/** A datapath flow and the times it lived, on one chassis. */
export interface LinkFlow {
  chassis: string;
  /** dpctl/dump-flows key (with or without -m masks). */
  key: string;
  actions: string;
  recircId: number;
  /** Epoch ms of its lifetime: first seen, last seen (or removed). */
  from: number;
  to: number;
}

/** The pushes of a flow's actions; none for actions the parser refuses (bad text never throws here). */
export function pushesOf(actions: string): TunnelPush[] {
  try {
    return tunnelPushes(actions);
  } catch {
    return [];
  }
}

/**
 * The tunnel a flow receives from: only a first pass (recirc_id 0) whose key holds a tunnel is an
 * arrival; the receiver's later passes follow it by recirculation as on one chassis.
 */
export function arrivalOf(f: Pick<LinkFlow, 'key' | 'recircId'>): TunnelMatch | undefined {
  if (f.recircId !== 0) return undefined;
  try {
    return tunnelMatch(f.key);
  } catch {
    return undefined;
  }
}

type Field = { value: bigint; mask: bigint; bits: number };
type Fields = Map<string, Field>;

/**
 * `10.0.0.1`, `fd00::1`, `50:54:00:00:00:01` or a number (key-match.ts toBits, the one reader of
 * OVS's value forms), with its width in bits; undefined when it is none of those.
 */
function parseValue(text: string): { v: bigint; bits: number } | undefined {
  const v = toBits(text);
  if (v === null) return undefined;
  return { v, bits: !text.includes(':') ? 32 : /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text) ? 48 : 128 };
}

/**
 * Inner-packet fields a tunnel keeps: Ethernet addresses and type, IP addresses and protocol, L4
 * ports, ICMP type and code. `eth_type` is a bare value (its field named ''): an IPv4 and an IPv6
 * packet between the same MACs through the same tunnel share every other field a megaflow may match.
 */
const COMPARED: Record<string, string[]> = {
  eth: ['src', 'dst'],
  eth_type: [''],
  ipv4: ['src', 'dst', 'proto'],
  ipv6: ['src', 'dst', 'proto'],
  tcp: ['src', 'dst'],
  udp: ['src', 'dst'],
  sctp: ['src', 'dst'],
  icmp: ['type', 'code'],
  icmpv6: ['type', 'code'],
  // A localnet port's tag: the sender's push_vlan(vid=…) against the receiver's vlan(vid=…).
  vlan: ['vid'],
};

/** The compared fields of a key (or of a `set(…)` action's inner list), `eth.src` → value/mask. */
export function innerFields(text: string, into: Fields = new Map()): Fields {
  for (const item of splitTopLevel(text).map((s) => s.trim())) {
    const open = item.indexOf('(');
    if (open < 0 || !item.endsWith(')')) continue;
    const name = item.slice(0, open);
    // A tagged frame's key holds the packet under encap(…): eth_type(0x8100),vlan(…),encap(eth_type(0x0800),ipv4(…),…).
    if (name === 'encap') {
      innerFields(item.slice(open + 1, -1), into);
      continue;
    }
    const wanted = COMPARED[name];
    if (!wanted) continue;
    for (const part of item.slice(open + 1, -1).split(',')) {
      const eq = part.indexOf('=');
      if (!wanted.includes(eq < 0 ? '' : part.slice(0, eq))) continue;
      const [raw, rawMask] = part.slice(eq + 1).split('/');
      const val = parseValue(raw);
      if (!val) continue;
      const m = rawMask === undefined ? undefined : parseValue(rawMask);
      const full = (1n << BigInt(val.bits)) - 1n;
      into.set(`${name}.${eq < 0 ? '' : part.slice(0, eq)}`, { value: val.v, mask: m ? m.v : full, bits: val.bits });
    }
  }
  return into;
}

/**
 * The sender's inner packet as it leaves through each push, in tunnelPushes' order: its key with
 * the set() rewrites that reach it applied. A tnl_push sends the packet as it is there; the kernel
 * form sends it at the tunnel port's output after its set(tunnel(…)), so set()s in between (OVS 3.1
 * and 3.5 write a router's set(eth(…)),set(ipv4(ttl=63)) there) apply too. A nested list (clone,
 * check_pkt_len's branches, sample) rewrites its own copy; what follows it sees the packet as before.
 */
export function sentFieldsOfPushes(sender: Pick<LinkFlow, 'key' | 'actions'>): Fields[] {
  const out: Fields[] = [];
  rewritesTo(sender.actions, innerFields(sender.key), out, 0);
  return out;
}

/** The packet as one bare output of a flow's actions sent it (a datapath port by name or number). */
export interface SentOutput {
  port: string;
  fields: Fields;
}

/**
 * The sender's packet at each bare output of its actions (not a tunnel push's), in order: its key
 * with the set() and push_vlan rewrites that reach that output applied, as sentFieldsOfPushes does
 * for pushes. A localnet port's frame leaves by such an output (the provider bridge's NIC).
 */
export function sentFieldsOfOutputs(sender: Pick<LinkFlow, 'key' | 'actions'>): SentOutput[] {
  const outputs: SentOutput[] = [];
  rewritesTo(sender.actions, innerFields(sender.key), [], 0, outputs);
  return outputs;
}

const copyOf = (f: Fields): Fields => new Map(f);

/** Walks an action list as odp-tunnel.ts tunnelPushes does, recording the fields at each push (and, given `outputs`, at each bare output). */
function rewritesTo(list: string, fields: Fields, out: Fields[], depth: number, outputs?: SentOutput[]): void {
  if (depth > 16) return;
  // Kernel form: the slots of set(tunnel(…))s whose output has not come yet.
  const waiting: number[] = [];
  // After a tnl_push(…) the bare outputs that follow (the uplink) send the outer packet: no frame of the key's.
  let encapsulated = false;
  for (const item of splitTopLevel(list).map((s) => s.trim())) {
    const open = item.indexOf('(');
    if (open < 0) {
      // Bare actions that are no output (odp-actions.ts WORDS): pop_vlan and the like change the type.
      if (/^(pop_|ct_clear$|ct_commit$)/.test(item)) {
        if (item.startsWith('pop_')) fields.delete('eth_type.');
        if (item === 'pop_vlan') fields.delete('vlan.vid');
        continue;
      }
      // Kernel form: an output a set(tunnel(…)) waited for is the tunnel port's, encapsulated too.
      const tunnelPort = waiting.length > 0;
      for (const slot of waiting.splice(0)) out[slot] = copyOf(fields);
      if (!tunnelPort && !encapsulated) outputs?.push({ port: item, fields: copyOf(fields) });
      continue;
    }
    if (!item.endsWith(')')) continue;
    const name = item.slice(0, open);
    const inner = item.slice(open + 1, -1);
    if (name === 'tnl_push') {
      out.push(copyOf(fields));
      encapsulated = true;
    }
    else if (name === 'set' && inner.startsWith('tunnel(')) waiting.push(out.push(copyOf(fields)) - 1);
    else if (name === 'set') applySet(fields, inner);
    // A VLAN, MPLS or NSH header pushed or popped changes the type the receiver sees: no longer compared.
    else if (/^(push|pop)_/.test(name)) {
      fields.delete('eth_type.');
      if (name === 'push_vlan') pushVlan(fields, inner);
    } else if (inner.includes('(')) rewritesTo(inner, copyOf(fields), out, depth + 1, outputs);
  }
}

/** push_vlan([tpid=…,]vid=N,pcp=P): the frame now carries VLAN N (a tag the receiver's key shows as vlan(vid=N,…)). */
function pushVlan(fields: Fields, inner: string): void {
  const vid = /(?:^|,)vid=(\d+)/.exec(inner);
  if (vid) fields.set('vlan.vid', { value: BigInt(vid[1]), mask: 0xffffffffn, bits: 32 });
}

/** A set()'s rewrite: the whole field, or with a mask (value/mask) only the bits it covers. */
function applySet(fields: Fields, inner: string): void {
  for (const [k, f] of innerFields(inner)) {
    const old = fields.get(k);
    const full = (1n << BigInt(f.bits)) - 1n;
    const value = old ? (old.value & ~f.mask & full) | (f.value & f.mask) : f.value;
    fields.set(k, { value, mask: old ? old.mask | f.mask : full, bits: f.bits });
  }
}

/** Both keys could be the same packet: every field both match on agrees under both masks. */
export function samePacket(sent: Fields, received: Fields): boolean {
  for (const [k, r] of received) {
    const s = sent.get(k);
    if (!s) continue;
    const mask = s.mask & r.mask;
    if ((s.value & mask) !== (r.value & mask)) return false;
  }
  return true;
}

/** How far apart two lifetimes are, in ms (0 when they overlap). */
export function gapMs(a: Pick<LinkFlow, 'from' | 'to'>, b: Pick<LinkFlow, 'from' | 'to'>): number {
  if (b.from > a.to) return b.from - a.to;
  if (a.from > b.to) return a.from - b.to;
  return 0;
}

export interface TunnelLink<T extends LinkFlow> {
  push: TunnelPush;
  /** The receiving pass, or undefined when none fits. */
  receiver?: T;
  /** The inner packet as this push sent it (sentFieldsOfPushes); undefined when the walk recorded none (the key's own was compared). */
  sent?: Fields;
}

/**
 * Which of two fitting candidates is nearer `to`: the closer start first, then the smaller gap
 * between lifetimes, then the newer start. Starts, not the lifetime gap, come first: a flow that
 * lived long (an earlier packet's arrival, still installed) overlaps every later sender, gap 0,
 * while the arrival a new packet created starts when its sender did but is first seen by its own
 * agent's poller a few hundred milliseconds later (the multi-chassis e2e linked a TCP packet to the
 * earlier ICMP arrival that way).
 */
export function nearer(to: LinkFlow, a: LinkFlow, b: LinkFlow | undefined): boolean {
  if (!b) return true;
  const da = Math.abs(a.from - to.from);
  const db = Math.abs(b.from - to.from);
  if (da !== db) return da < db;
  const ga = gapMs(to, a);
  const gb = gapMs(to, b);
  if (ga !== gb) return ga < gb;
  return a.from > b.from;
}

/** What linkTunnels reads of a candidate: its tunnel (undefined when no arrival) and, once a push reaches it, its inner packet. */
interface ParsedCandidate {
  arrival: TunnelMatch | undefined;
  fields?: Fields;
}

/**
 * Each candidate's key parsed once for all the pushes (and, in senderOf, all the senders) it is
 * compared with: a flood's pushes each read every arrival the looks found, and parsing the same key
 * again for each was most of a link's cost (bench/far-passes/many-candidates.ts, the flood rows).
 */
export type CandidateParses = Map<LinkFlow, ParsedCandidate>;

function parsed(cache: CandidateParses, c: LinkFlow): ParsedCandidate {
  let p = cache.get(c);
  if (!p) cache.set(c, (p = { arrival: arrivalOf(c) }));
  return p;
}

/**
 * For each push of `sender`, the candidate on another chassis that received it: tunnel fits, same
 * inner packet, lifetimes within `skewMs`; the nearest (see `nearer`) wins, so a ping repeated
 * once a second links each request to its own arrival.
 */
export function linkTunnels<T extends LinkFlow>(sender: LinkFlow, candidates: readonly T[], skewMs: number, cache: CandidateParses = new Map()): TunnelLink<T>[] {
  const sentAll = sentFieldsOfPushes(sender);
  return pushesOf(sender.actions).map((push, i) => {
    const sent = sentAll[i] ?? innerFields(sender.key);
    const link = { push, ...(sentAll[i] ? { sent: sentAll[i] } : {}) };
    let best: T | undefined;
    for (const c of candidates) {
      if (c.chassis === sender.chassis) continue;
      const p = parsed(cache, c);
      if (!p.arrival || !pushReaches(push, p.arrival)) continue;
      if (gapMs(sender, c) > skewMs) continue;
      if (!samePacket(sent, (p.fields ??= innerFields(c.key)))) continue;
      if (nearer(sender, c, best)) best = c;
    }
    return { ...link, receiver: best };
  });
}

/**
 * The other way: which of `senders` (passes on other chassis whose actions push a tunnel) sent the
 * packet `receiver` received, by the same rules; the nearest wins. For a path asked for by
 * its receiving pass, or a packet whose sender rode a megaflow and was traced only where it arrived.
 */
export function senderOf<T extends LinkFlow>(receiver: LinkFlow, senders: readonly T[], skewMs: number): T | undefined {
  let best: T | undefined;
  const cache: CandidateParses = new Map();
  for (const s of senders) {
    if (s.chassis === receiver.chassis) continue;
    if (!linkTunnels(s, [receiver], skewMs, cache).some((l) => l.receiver)) continue;
    if (nearer(receiver, s, best)) best = s;
  }
  return best;
}
