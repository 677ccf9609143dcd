// The parsed shapes of datapath (ODP) keys and actions, in a module of their own: the parsers
// (odp-key.ts, odp-actions.ts), the memo they share (odp-memo.ts) and the views (odp-key-views.ts)
// all import them from here, so none of them imports another just for a type.

/** `name=value[/mask]` inside a field, or `name(value)` when `paren` (tunnel's `geneve({…})`, `flags(…)`). */
export interface OdpKeyAttr {
  readonly name: string;
  readonly value: string;
  readonly mask?: string;
  readonly paren?: true;
}

export type OdpKeyField =
  /** `recirc_id(0x1)`, `ct_state(0x21/0x3f)`, `ct_state(+new-est+trk)`, `in_port(vif1)`, … */
  | { readonly kind: 'scalar'; readonly name: string; readonly value: string; readonly mask?: string }
  /** `ipv4(src=10.0.0.1/0.0.0.0,…)`, `tunnel(…)`, `eth(…)`, `ct_tuple4(…)`, … */
  | { readonly kind: 'attrs'; readonly name: string; readonly attrs: readonly OdpKeyAttr[] }
  /** `encap(eth_type(0x0800),ipv4(…))` after a VLAN header: the inner key. */
  | { readonly kind: 'encap'; readonly name: 'encap'; readonly fields: readonly OdpKeyField[] }
  /** A field this parser does not know: its exact text, `name(…)` included. */
  | { readonly kind: 'unknown'; readonly name: string; readonly text: string };

export interface OdpKey {
  readonly fields: readonly OdpKeyField[];
}

/** One argument: `commit`, `zone=12`, `mark=0/0x1`, `nat(src=…)`, `{class=0x102,…}`. */
export interface OdpArg {
  readonly name: string;
  readonly value?: string;
  readonly args?: readonly OdpArg[];
}

export type OdpAction =
  /** A bare port: a datapath port number (`3`) or, with `-m`, a port name (`vif2`). */
  | { readonly type: 'output'; readonly port: string }
  | { readonly type: 'drop' }
  /** `ct_clear`, `pop_vlan`, `pop_eth`, `pop_nsh`: no arguments. */
  | { readonly type: 'word'; readonly name: string }
  | { readonly type: 'recirc'; readonly id: string }
  | { readonly type: 'ct'; readonly args: readonly OdpArg[] }
  /** `set(ipv4(ttl=63))` (set_masked prints the same way, masks included when partial). */
  | { readonly type: 'set'; readonly name: 'set' | 'set_masked'; readonly field: OdpKeyField }
  /** `clone(…)` and the like: a nested action list. */
  | { readonly type: 'clone'; readonly actions: readonly OdpAction[] }
  | {
      readonly type: 'check_pkt_len';
      readonly size: string;
      readonly gt: readonly OdpAction[];
      readonly le: readonly OdpAction[];
    }
  /** Every other `name(args)`: push_vlan, tnl_push, tnl_pop, userspace, hash, sample, meter, psample, lb_output, trunc, … */
  | { readonly type: 'call'; readonly name: string; readonly args: readonly OdpArg[] }
  | { readonly type: 'unknown'; readonly text: string };
