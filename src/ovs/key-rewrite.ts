// What a bare conntrack `nat` may do to a packet's header, in datapath key fields: conntrack applies
// a connection's existing NAT binding, and which bindings can exist is OVN's configuration (a load
// balancer's VIP and backends, a router's NAT rows; ovn/nat-rewrites.ts reads them). The
// recirculation index (collectors/recirc-index.ts) uses them to accept a child pass whose packet
// differs from its parent's only by one such rewrite. Pure data: no OVN here, only key fields.
import { toBits } from './key-match';

/** A field's value under a mask (null: exact; 0n: any value, e.g. the port a SNAT may pick). */
export interface MaskedValue {
  readonly value: bigint;
  readonly mask: bigint | null;
  /** Values under the mask that are not meant: a SNAT prefix less the longer prefixes SNATed elsewhere. */
  readonly except?: readonly MaskedValue[];
}

/**
 * One rewrite, field by field, keyed `ipv4.dst`, `tcp.dst`, `ipv6.src`… (the key's field and
 * attribute). `before`: what the packet must have had (the parent's match has to admit it);
 * `after`: what it has after the rewrite; fields absent from `after` are left as they were.
 */
export interface HeaderRewrite {
  readonly before: ReadonlyMap<string, MaskedValue>;
  readonly after: ReadonlyMap<string, MaskedValue>;
  /** Where it comes from, for logs and tests: `lb0 10.0.0.100:80 -> 10.0.0.3:80`, `snat 172.16.0.254`. */
  readonly source: string;
  /** The NB Logical_Router whose conntrack zones apply it (its NAT rows, lb_force_snat_ip); any zone when absent (ovn/ct-zones.ts). */
  readonly router?: string;
}

/** `10.0.0.3`, `fd00::3`, `10.0.0.0/24`, `fd00::/64` → value and mask (null: exact); null when not an address. */
export function addressValue(text: string): MaskedValue | null {
  const [addr, len] = text.trim().split('/');
  const width = addr.includes(':') ? 128 : 32;
  const bits = toBits(addr);
  if (bits === null || !/[.:]/.test(addr)) return null;
  if (len === undefined || Number(len) === width) return { value: bits, mask: null };
  const n = Number(len);
  if (!Number.isInteger(n) || n < 0 || n > width) return null;
  const mask = ((1n << BigInt(n)) - 1n) << BigInt(width - n);
  return { value: bits & mask, mask };
}
