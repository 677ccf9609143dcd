// The rewrites a bare `ct(…,nat)` may have applied between a parent pass and its child, as the
// recirculation index (recirc-index.ts) compares them. In the kernel datapath's form a child keeps
// no trace of the NAT it went through (+dnat lies outside its ct_state mask, no ct_tuple with a
// wildcarded protocol), so OVN's configuration (ovn/nat-rewrites.ts: load balancer VIPs, NAT rows)
// says what the parent's packet may have become: the child must be that packet, the parent must
// admit the packet before. Pure: the rewrites come in from the caller. Here too the userspace
// form's own account of a translation (natVariant: the child's ct_tuple).
import type { OdpAction } from '../ovs/odp-actions';
import { ctAction } from '../ovs/odp-actions';
import type { HeaderRewrite, MaskedValue } from '../ovs/key-rewrite';
import type { OdpKey } from '../ovs/odp-key';
import { keyField } from '../ovs/odp-key';
import { toBits } from '../ovs/key-match';
import { ctState } from '../ovs/odp-key-views';

/** `ipv4.src` → value: header values that stand in for the key's own (see natVariant). */
export type KeyOverride = ReadonlyMap<string, string>;

const CT_DNAT = 0x80;
const CT_SNAT = 0x40;
const CT_RPL = 0x08;
const L4_BY_PROTO: Record<string, string> = { '6': 'tcp', '17': 'udp', '132': 'sctp' };

/**
 * The packet as it was before a bare `ct(…,nat)` translated it, when the key says so: conntrack
 * marked it +dnat or +snat in the original direction, and the key carries the connection's original
 * tuple, which is the packet as the parent's ct() met it. Null when the key shows no translation
 * (then only its own values count, so connections are never linked to each other's passes).
 * Reply-direction packets (+rpl) are not rebuilt: the original tuple does not hold the address the
 * reply had before it was un-NATed.
 */
export function natVariant(key: OdpKey): KeyOverride | null {
  const st = ctState(key);
  if (!st || !(st.bits & (CT_DNAT | CT_SNAT)) || st.bits & CT_RPL) return null;
  const v6 = keyField(key, 'ct_tuple6');
  const t = v6 ?? keyField(key, 'ct_tuple4');
  if (!t || t.kind !== 'attrs') return null;
  const get = (n: string) => t.attrs.find((a) => a.name === n)?.value.split('/')[0];
  const ip = v6 ? 'ipv6' : 'ipv4';
  const out = new Map<string, string>();
  const src = get('src');
  const dst = get('dst');
  if (src !== undefined) out.set(`${ip}.src`, src);
  if (dst !== undefined) out.set(`${ip}.dst`, dst);
  const proto = get('proto');
  const l4 = proto === undefined ? undefined : L4_BY_PROTO[String(Number(proto))];
  if (l4) {
    const sp = get('tp_src');
    const dp = get('tp_dst');
    if (sp !== undefined) out.set(`${l4}.src`, sp);
    if (dp !== undefined) out.set(`${l4}.dst`, dp);
  }
  return out.size ? out : null;
}

/** A compared field of a parent's shape (recirc-index.ts Part). */
export interface ShapePart {
  readonly field: string;
  readonly attr: string | null;
  readonly mask: bigint | null;
}

/** A key's value under a part, with its own mask (recirc-index.ts Seen). */
export interface PartValue {
  readonly value: string;
  readonly mask: bigint | null;
}

/** What stands at each part of a shape after a rewrite: the new value, or null where untouched. */
export type Rewritten = ReadonlyArray<MaskedValue | null>;

const ADDRESSES = ['ipv4.src', 'ipv4.dst', 'ipv6.src', 'ipv6.dst'];
const partName = (p: ShapePart) => `${p.field}.${p.attr ?? ''}`;
const exactKey = (name: string, m: MaskedValue) => `${name}=${m.value.toString(16)}`;

/** The rewrites by their exact addresses before and after, and those with a prefix (a SNAT's logical_ip). */
interface RewriteIndex {
  byBefore: Map<string, HeaderRewrite[]>;
  byAfter: Map<string, HeaderRewrite[]>;
  /** Looked at for every parent (before is a prefix) or child (after is a prefix). */
  wideBefore: HeaderRewrite[];
  wideAfter: HeaderRewrite[];
}

const indexes = new WeakMap<readonly HeaderRewrite[], RewriteIndex>();

function indexOf(all: readonly HeaderRewrite[]): RewriteIndex {
  let ix = indexes.get(all);
  if (ix) return ix;
  ix = { byBefore: new Map(), byAfter: new Map(), wideBefore: [], wideAfter: [] };
  for (const rw of all) {
    for (const [side, by, wide] of [[rw.before, ix.byBefore, ix.wideBefore], [rw.after, ix.byAfter, ix.wideAfter]] as const) {
      // Under each exact address (a hairpin's reply has two): a lookup by any one of them finds it.
      const exact = ADDRESSES.filter((a) => side.get(a)?.mask === null);
      for (const name of exact) {
        const k = exactKey(name, side.get(name)!);
        const list = by.get(k);
        if (list) list.push(rw);
        else by.set(k, [rw]);
      }
      if (!exact.length) wide.push(rw);
    }
  }
  indexes.set(all, ix);
  return ix;
}

/**
 * `value` agrees with `m` on the bits both masks keep (null: exact; a value that is not bits agrees
 * only with `any`), and is not wholly inside one of m's exceptions: a masked value agrees while some
 * of the packets it stands for are not excepted (as precise as the flow's mask).
 */
function agrees(value: string, mask: bigint | null, m: MaskedValue): boolean {
  const v = toBits(value);
  const keep = (mask ?? -1n) & (m.mask ?? -1n);
  if (v === null) return keep === 0n;
  if (((v ^ m.value) & keep) !== 0n) return false;
  const own = mask ?? -1n;
  // An exact exception is a whole field: a key's all-ones mask (255.255.255.255) keeps it too.
  const full = own === -1n || ((own + 1n) & own) === 0n;
  return !m.except?.some((x) => {
    const xm = x.mask ?? (full ? own : -1n);
    return (own & xm) === xm && ((v ^ x.value) & xm) === 0n;
  });
}

/**
 * The parent's packet after each rewrite its match admits (the before values agree with what it
 * matches), per part of its shape. Rewrites that change none of the compared fields are left out:
 * they add nothing to the parent's own match.
 */
export function forwardRewrites(parts: readonly ShapePart[], own: readonly PartValue[], all: readonly HeaderRewrite[]): Rewritten[] {
  if (!all.length) return [];
  const ix = indexOf(all);
  const exactAddr = parts.flatMap((p, i) => (ADDRESSES.includes(partName(p)) && p.mask === null ? [i] : []));
  let candidates: Iterable<HeaderRewrite>;
  if (exactAddr.length) {
    const seen = new Set<HeaderRewrite>(ix.wideBefore);
    for (const i of exactAddr) {
      const v = toBits(own[i].value);
      if (v !== null) for (const rw of ix.byBefore.get(exactKey(partName(parts[i]), { value: v, mask: null })) ?? []) seen.add(rw);
    }
    candidates = seen;
  } else candidates = all;
  const out: Rewritten[] = [];
  for (const rw of candidates) {
    const admitted = parts.every((p, i) => {
      const b = rw.before.get(partName(p));
      return !b || agrees(own[i].value, p.mask, b);
    });
    if (!admitted) continue;
    const after = parts.map((p) => rw.after.get(partName(p)) ?? null);
    if (after.some((a) => a !== null)) out.push(after);
  }
  return out;
}

/** A rewritten parent and a child's values under the shape could be the same packet. */
export function overlapsRewritten(parts: readonly ShapePart[], own: readonly PartValue[], child: readonly PartValue[], rw: Rewritten): boolean {
  return parts.every((p, i) => {
    const r = rw[i];
    if (r === null) {
      const a = toBits(own[i].value);
      const b = toBits(child[i].value);
      if (a === null || b === null) return child[i].mask === 0n || own[i].value.toLowerCase() === child[i].value.toLowerCase();
      return ((a ^ b) & (p.mask ?? -1n) & (child[i].mask ?? -1n)) === 0n;
    }
    // The rewritten value is the packet's own now: the parent's mask no longer narrows it.
    return agrees(child[i].value, child[i].mask, r);
  });
}

/** The rewritten parent's values as overrides for an exact lookup, when every rewritten part is exact. */
export function exactOverride(parts: readonly ShapePart[], rw: Rewritten): Map<string, string> | null {
  const out = new Map<string, string>();
  for (let i = 0; i < parts.length; i++) {
    const r = rw[i];
    if (r === null) continue;
    if (r.mask !== null) return null;
    out.set(partName(parts[i]), '0x' + r.value.toString(16));
  }
  return out;
}

/**
 * A child (its key's own values: the userspace form) as the packet before each rewrite it is the
 * result of: its fields where the rewrite's after says, the before values put back. Only rewrites
 * whose before values are exact (a prefix names no one packet to look up).
 */
export function reverseOverrides(child: OdpKey, all: readonly HeaderRewrite[]): Map<string, string>[] {
  if (!all.length) return [];
  const ix = indexOf(all);
  const valueOf = (name: string): string | undefined => {
    const [field, attr] = name.split('.');
    const f = keyField(child, field);
    return f?.kind === 'attrs' ? f.attrs.find((a) => a.name === attr)?.value : undefined;
  };
  const candidates = new Set<HeaderRewrite>(ix.wideAfter);
  for (const name of ADDRESSES) {
    const v = valueOf(name);
    const bits = v === undefined ? null : toBits(v);
    if (bits !== null) for (const rw of ix.byAfter.get(exactKey(name, { value: bits, mask: null })) ?? []) candidates.add(rw);
  }
  const out: Map<string, string>[] = [];
  for (const rw of candidates) {
    let fits = true;
    for (const [name, m] of rw.after) {
      if (m.mask === 0n) continue;
      const v = valueOf(name);
      if (v === undefined || !agrees(v, null, m)) fits = false;
    }
    if (!fits || [...rw.before.values()].some((m) => m.mask !== null)) continue;
    out.push(new Map([...rw.before].map(([name, m]) => [name, '0x' + m.value.toString(16)])));
  }
  return out;
}

/**
 * What a bare ct(nat) can rewrite now (OvnModel.natRewrites): asked at each lookup, as it changes;
 * with the parent's conntrack zone when its actions name one (a router's rewrites apply in its zones only).
 */
export type NatRewrites = (zone?: number) => readonly HeaderRewrite[];

/** The zone of the ct(…,nat) a parent runs before recirculating, when its actions name one. */
export function natZone(actions: readonly OdpAction[]): number | undefined {
  let zone: number | undefined;
  for (const a of actions) {
    const ct = ctAction(a);
    if (ct?.nat && ct.zone !== undefined && /^\d+$/.test(ct.zone)) zone = Number(ct.zone);
  }
  return zone;
}
