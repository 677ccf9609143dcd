// Which datapath flow recirculates into which. A pass ending in recirc(0xN) continues as a flow
// with recirc_id(0xN) on the same in_port, but OVN gives every connection through the same
// conntrack zone the same recirc id, so (in_port, recirc id) alone links every connection of a
// VM to every other: a child must also be a packet the parent's match accepts. The parent's key
// and masks decide which header fields count; a child's key carries its packet's own values
// (userspace datapath) or at least the fields its own mask kept. Fields the parent rewrites
// (set(...), conntrack NAT to a given address) are not compared. A bare `ct(…,nat)` rewrites only
// packets of connections that already have a NAT binding (an established load-balanced or SNATed
// connection): such a child says so itself (ct_state +dnat/+snat) and carries the connection's
// original tuple (ct_tuple4/6), i.e. the addresses and ports the parent's packet had; it is
// matched under those too (see natVariant). In the kernel datapath's form a child says neither
// (+dnat lies outside its ct_state mask; a wildcarded protocol leaves no ct_tuple), so the index is
// given what a bare ct(nat) in the parent's zone can rewrite (OVN's load balancer VIPs, NAT rows; ct-zones.ts,
// ovn/nat-rewrites.ts): a child of such a parent may also be the parent's packet after one rewrite
// the parent's match admits (VIP:port → a backend, a reply's backend → VIP; recirc-nat.ts), and no
// other, so a child whose destination is no backend of the parent's VIP is not linked. Without
// rewrites (none given, or none configured) it links as before.
//
// Matching is indexed: parents of a slot are grouped by the shape of their match (which fields,
// which masks); within a group, by their masked values. A child is looked up once per group
// (a slot has a handful of groups), not compared with every parent.
import type { OdpAction } from '../ovs/odp-actions';
import { ctAction } from '../ovs/odp-actions';
import type { OdpKey } from '../ovs/odp-key';
import { keyField } from '../ovs/odp-key';
import { protoWildcarded, toBits } from '../ovs/key-match';
import type { HeaderRewrite } from '../ovs/key-rewrite';
import { exactOverride, forwardRewrites, type KeyOverride, natVariant, type NatRewrites, natZone, overlapsRewritten, reverseOverrides } from './recirc-nat';

export { natVariant, type KeyOverride, type NatRewrites } from './recirc-nat';

const COMPARED: ReadonlyArray<[field: string, attrs: readonly string[]]> = [
  ['eth', ['src', 'dst']],
  ['eth_type', []],
  ['ipv4', ['src', 'dst', 'proto']],
  ['ipv6', ['src', 'dst', 'proto']],
  ['tcp', ['src', 'dst']],
  ['udp', ['src', 'dst']],
  ['sctp', ['src', 'dst']],
  ['icmp', ['type', 'code']],
  ['icmpv6', ['type', 'code']],
  ['arp', ['sip', 'tip', 'op']],
];

interface Part {
  field: string;
  attr: string | null;
  /** Exact when null. */
  mask: bigint | null;
}

export interface MatchShape {
  id: string;
  parts: Part[];
  /** The parent's actions run conntrack with NAT: a child may carry translated addresses. */
  nat: boolean;
}

/**
 * Header fields the parent's actions rewrite before recirculating. A bare `nat` / `nat(src)` (what
 * OVN's ACL commit sends for every connection) rewrites nothing unless the connection already has
 * a NAT binding; treating it as a rewrite would link every connection of a VM pair to every other.
 * The cost: a NATed established connection's later pass may not find its parent.
 */
function rewritten(actions: readonly OdpAction[]): Set<string> {
  const out = new Set<string>();
  for (const a of actions) {
    if (a.type === 'set') out.add(a.field.name);
    const ct = ctAction(a);
    if (ct?.nat?.range) for (const f of ['ipv4', 'ipv6', 'tcp', 'udp', 'sctp', 'icmp', 'icmpv6']) out.add(f);
  }
  return out;
}

/** The shape of a parent's match: the compared fields it matches on, with their masks. */
export function matchShape(key: OdpKey, actions: readonly OdpAction[]): MatchShape {
  const skip = rewritten(actions);
  const nat = actions.some((a) => ctAction(a)?.nat !== undefined);
  const parts: Part[] = [];
  for (const [name, attrs] of COMPARED) {
    if (skip.has(name)) continue;
    const f = keyField(key, name);
    if (!f) continue;
    if (f.kind === 'scalar') {
      const m = f.mask === undefined ? null : toBits(f.mask);
      if (m !== 0n) parts.push({ field: name, attr: null, mask: m });
    } else if (f.kind === 'attrs') {
      for (const a of f.attrs) {
        if (!attrs.includes(a.name)) continue;
        const m = a.mask === undefined ? null : toBits(a.mask);
        if (m !== 0n) parts.push({ field: name, attr: a.name, mask: m });
      }
    }
  }
  const id = parts.map((p) => `${p.field}.${p.attr ?? ''}/${p.mask === null ? '*' : p.mask.toString(16)}`).join(',');
  return { id: nat ? `${id};nat` : id, parts, nat };
}

/** A flow's values under a shape; null when it lacks a field the shape compares. */
export function valuesUnder(key: OdpKey, shape: MatchShape, override?: KeyOverride | null): string | null {
  let out = '';
  for (const p of shape.parts) {
    const f = keyField(key, p.field);
    if (!f) return null;
    let v: string | undefined = override?.get(`${p.field}.${p.attr ?? ''}`);
    if (v !== undefined) {
      /* the packet before NAT */
    } else if (f.kind === 'scalar' && p.attr === null) v = f.value;
    else if (f.kind === 'attrs' && p.attr !== null) v = f.attrs.find((a) => a.name === p.attr)?.value;
    if (v === undefined) return null;
    if (p.mask !== null) {
      const bits = toBits(v);
      v = bits === null ? v : (bits & p.mask).toString(16);
    } else v = toBits(v)?.toString(16) ?? v.toLowerCase();
    out += v + '|';
  }
  return out;
}

const L4 = new Set(['tcp', 'udp', 'sctp', 'icmp', 'icmpv6']);

/** A child's field under one part of a shape: its value and its own mask (null: exact). */
type Seen = { value: string; mask: bigint | null };

/** A child's fields under a shape, each with its own mask; null when it lacks one the shape compares. */
function seenUnder(key: OdpKey, shape: MatchShape): Seen[] | null {
  const out: Seen[] = [];
  for (const p of shape.parts) {
    const f = keyField(key, p.field);
    if (!f) {
      if (!L4.has(p.field) || !protoWildcarded(key)) return null;
      out.push({ value: '0', mask: 0n });
      continue;
    }
    const at = f.kind === 'scalar' && p.attr === null ? f : f.kind === 'attrs' && p.attr !== null ? f.attrs.find((a) => a.name === p.attr) : undefined;
    if (!at) return null;
    out.push({ value: at.value, mask: at.mask === undefined ? null : toBits(at.mask) });
  }
  return out;
}

/**
 * Whether the child's own masks hide bits the shape compares (a kernel-form key reads 0 there, not
 * its packet's value): then its values under the shape are not its packet's, and it is matched by
 * overlap (`overlaps`), not looked up by value. A value with bits outside its mask is the userspace
 * form, which prints the packet's own value under any mask: that one is looked up as before.
 */
function wildUnder(key: OdpKey, shape: MatchShape): boolean {
  const seen = seenUnder(key, shape);
  if (!seen) return false;
  return shape.parts.some((p, i) => {
    const m = seen[i].mask;
    if (m === null) return false;
    const v = toBits(seen[i].value);
    if (v !== null && (v & ~m) !== 0n) return false;
    return p.mask === null || (p.mask & ~m) !== 0n;
  });
}

/** A parent and a wild child could be the same packet: every compared field agrees under both masks. */
function overlaps(parent: OdpKey, child: OdpKey, shape: MatchShape): boolean {
  const seen = seenUnder(child, shape);
  const own = seenUnder(parent, shape);
  if (!seen || !own) return false;
  return shape.parts.every((p, i) => {
    const a = toBits(own[i].value);
    const b = toBits(seen[i].value);
    if (a === null || b === null) return seen[i].mask === 0n || own[i].value.toLowerCase() === seen[i].value.toLowerCase();
    const m = (p.mask ?? -1n) & (seen[i].mask ?? -1n);
    return ((a ^ b) & m) === 0n;
  });
}

/** A child's values under a parent shape: its own, and before NAT when the parent ran ct(nat). */
function childValues(key: OdpKey, shape: MatchShape, variant: KeyOverride | null): string[] {
  if (wildUnder(key, shape)) return [];
  const own = valuesUnder(key, shape);
  const out = own === null ? [] : [own];
  if (shape.nat && variant) {
    const pre = valuesUnder(key, shape, variant);
    if (pre !== null && pre !== own) out.push(pre);
  }
  return out;
}

export interface IndexedFlow {
  readonly inPort: string | null;
  readonly recircId: number;
  readonly recircTargets: readonly number[];
  readonly flow: { readonly key: OdpKey; readonly actions: readonly OdpAction[] };
}

const slotOf = (inPort: string | null, recirc: number) => `${inPort}\u0000${recirc}`;

class Slot<F extends IndexedFlow> {
  /** Parents recirculating into this slot, by match shape, then by masked values. */
  readonly parents = new Map<string, { shape: MatchShape; byValues: Map<string, Set<F>> }>();
  readonly children = new Set<F>();
  /** Children by their values under each parent shape present. */
  readonly childIndex = new Map<string, Map<string, Set<F>>>();
  /** Children matched by overlap under each parent shape (wildUnder): their values are not their packet's. */
  readonly wild = new Map<string, Set<F>>();

  get empty(): boolean {
    return this.parents.size === 0 && this.children.size === 0;
  }
}

function add<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function del<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (!s.size) m.delete(k);
}

export class RecircIndex<F extends IndexedFlow> {
  private readonly slots = new Map<string, Slot<F>>();
  private readonly shapes = new WeakMap<F, MatchShape>();
  private readonly variants = new WeakMap<F, KeyOverride | null>();

  constructor(private readonly rewrites: NatRewrites = () => []) {}

  /** What the parent's ct(nat) may rewrite, in its zone. */
  private rewritesOf(parent: F): readonly HeaderRewrite[] {
    return this.rewrites(natZone(parent.flow.actions));
  }

  /** A wild child under a parent: the parent's packet itself, or after a rewrite its ct(nat) may apply. */
  private wildFits(parent: F, child: F, shape: MatchShape): boolean {
    if (overlaps(parent.flow.key, child.flow.key, shape)) return true;
    if (!shape.nat) return false;
    const own = seenUnder(parent.flow.key, shape);
    const seen = seenUnder(child.flow.key, shape);
    if (!own || !seen) return false;
    return forwardRewrites(shape.parts, own, this.rewritesOf(parent)).some((rw) => overlapsRewritten(shape.parts, own, seen, rw));
  }

  private variantOf(f: F): KeyOverride | null {
    let v = this.variants.get(f);
    if (v === undefined) this.variants.set(f, (v = natVariant(f.flow.key)));
    return v;
  }

  /** A child's values under a shape with each rewrite's before-values put back (reverseOverrides). */
  private beforeValues(c: F, shape: MatchShape, rewrites: readonly HeaderRewrite[]): string[] {
    return reverseOverrides(c.flow.key, rewrites).flatMap((o) => valuesUnder(c.flow.key, shape, o) ?? []);
  }

  private valuesOfChild(c: F, shape: MatchShape): string[] {
    return childValues(c.flow.key, shape, shape.nat ? this.variantOf(c) : null);
  }

  private slot(k: string): Slot<F> {
    let s = this.slots.get(k);
    if (!s) this.slots.set(k, (s = new Slot()));
    return s;
  }

  private shapeOf(f: F): MatchShape {
    let s = this.shapes.get(f);
    if (!s) this.shapes.set(f, (s = matchShape(f.flow.key, f.flow.actions)));
    return s;
  }

  add(f: F): void {
    if (f.recircId !== 0) {
      const s = this.slot(slotOf(f.inPort, f.recircId));
      s.children.add(f);
      for (const [id, idx] of s.childIndex) {
        const shape = s.parents.get(id)!.shape;
        if (wildUnder(f.flow.key, shape)) add(s.wild, id, f);
        for (const v of this.valuesOfChild(f, shape)) add(idx, v, f);
      }
    }
    if (!f.recircTargets.length) return;
    const shape = this.shapeOf(f);
    const own = valuesUnder(f.flow.key, shape);
    for (const t of new Set(f.recircTargets)) {
      const s = this.slot(slotOf(f.inPort, t));
      let group = s.parents.get(shape.id);
      if (!group) {
        s.parents.set(shape.id, (group = { shape, byValues: new Map() }));
        const idx = new Map<string, Set<F>>();
        for (const c of s.children) {
          if (wildUnder(c.flow.key, shape)) add(s.wild, shape.id, c);
          for (const v of this.valuesOfChild(c, shape)) add(idx, v, c);
        }
        s.childIndex.set(shape.id, idx);
      }
      if (own !== null) add(group.byValues, own, f);
    }
  }

  remove(f: F): void {
    if (f.recircId !== 0) {
      const k = slotOf(f.inPort, f.recircId);
      const s = this.slots.get(k);
      if (s) {
        s.children.delete(f);
        for (const [id, idx] of s.childIndex) {
          for (const v of this.valuesOfChild(f, s.parents.get(id)!.shape)) del(idx, v, f);
          del(s.wild, id, f);
        }
        if (s.empty) this.slots.delete(k);
      }
    }
    if (!f.recircTargets.length) return;
    const shape = this.shapeOf(f);
    const own = valuesUnder(f.flow.key, shape);
    for (const t of new Set(f.recircTargets)) {
      const k = slotOf(f.inPort, t);
      const s = this.slots.get(k);
      const group = s?.parents.get(shape.id);
      if (!s || !group) continue;
      if (own !== null) del(group.byValues, own, f);
      if (!group.byValues.size) {
        s.parents.delete(shape.id);
        s.childIndex.delete(shape.id);
        s.wild.delete(shape.id);
      }
      if (s.empty) this.slots.delete(k);
    }
  }

  parentsOf(f: F): F[] {
    if (f.recircId === 0) return [];
    const s = this.slots.get(slotOf(f.inPort, f.recircId));
    if (!s) return [];
    const out: F[] = [];
    for (const { shape, byValues } of s.parents.values()) {
      if (wildUnder(f.flow.key, shape)) {
        for (const hit of byValues.values()) for (const p of hit) if (p !== f && !out.includes(p) && this.wildFits(p, f, shape)) out.push(p);
        continue;
      }
      const values = this.valuesOfChild(f, shape);
      // The child's packet as it was before a rewrite whose result it is, when its key keeps no NAT
      // trace: one that does (natVariant) names the packet itself, and a rewrite would also give it
      // the passes of another VIP with the same backend. Found under every rewrite, kept when one
      // the parent's zone applies gives it.
      const before = shape.nat && !this.variantOf(f) ? this.beforeValues(f, shape, this.rewrites()) : [];
      for (const v of [...values, ...before]) {
        const fits = (p: F) => values.includes(v) || this.beforeValues(f, shape, this.rewritesOf(p)).includes(v);
        for (const p of byValues.get(v) ?? []) if (p !== f && !out.includes(p) && fits(p)) out.push(p);
      }
    }
    return out;
  }

  childrenOf(f: F): F[] {
    if (!f.recircTargets.length) return [];
    const shape = this.shapeOf(f);
    const own = valuesUnder(f.flow.key, shape);
    if (own === null) return [];
    const lookups = [own];
    let inexact = false;
    if (shape.nat) {
      // This parent's packet after each rewrite its ct(nat) may apply (exact ones: looked up by value).
      const seen = seenUnder(f.flow.key, shape);
      for (const rw of seen ? forwardRewrites(shape.parts, seen, this.rewritesOf(f)) : []) {
        const o = exactOverride(shape.parts, rw);
        const v = o && valuesUnder(f.flow.key, shape, o);
        if (v) lookups.push(v);
        else if (!o) inexact = true;
      }
    }
    const out = new Set<F>();
    for (const t of new Set(f.recircTargets)) {
      const s = this.slots.get(slotOf(f.inPort, t));
      // By a rewritten value only a child whose key keeps no NAT trace, and that is the rewrite's
      // result in the fields this parent wildcards too (a port): what parentsOf asks of it. A wild
      // child is asked below.
      const byRewrite = (c: F) => !this.variantOf(c) && !wildUnder(c.flow.key, shape) && this.beforeValues(c, shape, this.rewritesOf(f)).includes(own);
      lookups.forEach((v, i) => {
        for (const c of s?.childIndex.get(shape.id)?.get(v) ?? []) if (c !== f && (i === 0 || byRewrite(c))) out.add(c);
      });
      // A rewrite that leaves a field any value (the port a SNAT picks, a force-SNATed reply's
      // client) names no one child to look up: the children that keep no NAT trace are asked the
      // other way round, as parentsOf asks them.
      if (inexact) {
        for (const cs of s?.childIndex.get(shape.id)?.values() ?? []) {
          for (const c of cs) if (c !== f && !out.has(c) && byRewrite(c)) out.add(c);
        }
      }
      // Children whose own masks hide what this parent matches (kernel form) are not indexed by value.
      for (const c of s?.wild.get(shape.id) ?? []) if (c !== f && this.wildFits(f, c, shape)) out.add(c);
    }
    return [...out];
  }

  clear(): void {
    this.slots.clear();
  }
}
