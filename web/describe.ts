// One-line words for a pass or a path: what happened and why, in the terms of OVN.
import { isolate } from './safe-text';

export const short = (u: string | null | undefined) => (u ? u.slice(0, 8) : '');

/** `udp 10.0.0.1:40001 → 10.0.0.2:9` from an OpenFlow flow string. */
export function flowSummary(flow: string): { proto: string; text: string } {
  const f: Record<string, string> = {};
  let proto = 'other';
  for (const part of flow.split(',')) {
    const [k, v] = part.split('=');
    if (v === undefined) {
      if (['tcp', 'udp', 'icmp', 'arp', 'sctp', 'tcp6', 'udp6', 'icmp6', 'ipv6', 'ip'].includes(k)) proto = k;
    } else f[k] = v;
  }
  const src = f.nw_src ?? f.ipv6_src ?? f.arp_spa ?? f.dl_src ?? '?';
  const dst = f.nw_dst ?? f.ipv6_dst ?? f.arp_tpa ?? f.dl_dst ?? '?';
  const port = (p?: string) => (p ? `:${p}` : '');
  const icmp = f.icmp_type !== undefined ? ` type ${f.icmp_type}` : '';
  return { proto, text: `${proto} ${src}${port(f.tp_src)} → ${dst}${port(f.tp_dst)}${icmp}` };
}

export function ctState(flow: string): string | null {
  return /(?:^|,)ct_state=([^,]+)/.exec(flow)?.[1] ?? null;
}

interface VerdictLike {
  kinds: string[];
  logicalPorts: string[];
  /** OVS ports (dpif/show names) it left by that no logical port stands for: an uplink with no localnet port. */
  unmappedOutputs?: string[];
  bridgeLocal?: string[];
  logicalFlow: string | null;
  northbound: { table: string; uuid: string; summary: string } | null;
  reason?: string | null;
  stage?: string | null;
  recircIds?: string[];
  tunnels?: Array<{ chassis?: string | null; remoteChassis?: string | null; remoteIp?: string | null } | any>;
  /** `copy`: only a copy to log went there (ACL log), the packet's fate is in the other kinds. */
  controller?: { reason: string; stage: string | null; copy?: boolean } | null;
  incomplete?: boolean;
  incompleteReason?: string | null;
  /** A hop the receiving chassis may not have stored its arrival for yet (GET /paths/:id): the answer may change. */
  provisional?: boolean;
  provisionalReason?: string;
  /** Hops settled without a chassis unknown or silent past the bound (GET /paths/:id), and whom (a name, or a tunnel IP). */
  settledReason?: string;
  settledWithout?: string[];
}

/** One tunnel hop of a cross-chassis path (GET /paths/:id's verdict.tunnels). */
export interface HopLike {
  /** The encapsulation (absent in answers of an api older than it: those were Geneve). */
  encap?: string;
  /** A number, or hex text for a tunnel id past 2^53 (an STT tun_id: src/ovs/ids.ts tunnelIdForJson). */
  vni: number | string;
  remoteChassis: string | null;
  remoteIp: string;
  /** The look stopped at its bound and a nearer arrival may not have been read (src/paths/cross-chassis.ts). */
  lookBounded?: boolean;
  /** The other side may not have stored this packet's pass yet: the link may change (src/paths/provisional.ts). */
  provisional?: boolean;
  /** Settled without these chassis (a name, or a tunnel IP), unknown or silent past the bound (src/paths/provisional.ts). */
  settledWithout?: string[];
}

/** "settled without hv2" ("… 192.168.0.9": no chassis known for that tunnel; "… a chassis": an api older than settledWithout). */
const settledWithout = (whom: string[] | undefined, name: (s: string) => string): string => `settled without ${whom?.length ? whom.map(name).join(', ') : 'a chassis'}`;

/**
 * `geneve vni 1 → hv2` (`vxlan vni 8193 → hv2`): a tunnel hop on the page's picture and between the terminal's passes;
 * "(nearest unsure)" when the link look stopped at its bound, "(provisional)" while the other side may not have stored
 * this packet's pass yet, "(settled without hv2)" when it was settled without a chassis (docs/multi-chassis.md).
 * `name`: the page's isolate() for the picture's tunnel label; the terminal client escapes the whole text itself.
 */
export const hopText = (t: HopLike, name: (s: string) => string = (s) => s): string =>
  `${t.encap ?? 'geneve'} vni ${t.vni} → ${name(String(t.remoteChassis ?? t.remoteIp))}${hopFlags(t, name)}`;

/** What every hop says of its link after where it went: unsure, provisional, settled without whom. */
const hopFlags = (t: Pick<HopLike, 'lookBounded' | 'provisional' | 'settledWithout'>, name: (s: string) => string): string =>
  `${t.lookBounded ? ' (nearest unsure)' : ''}${t.provisional ? ' (provisional)' : ''}${t.settledWithout?.length ? ` (${settledWithout(t.settledWithout, name)})` : ''}`;

/** One hop across the physical network by a localnet port (GET /paths/:id's verdict.localnetHops). */
export interface LocalnetHopLike extends Pick<HopLike, 'lookBounded' | 'provisional' | 'settledWithout'> {
  port: string;
  network: string | null;
  vlan: number | null;
  toChassis: string | null;
  /** Other chassis that took the same (flooded) frame in and carried it nowhere. */
  copies?: Array<{ chassis: string; traceId: number }>;
}

/**
 * `localnet pub-ln (phys, vlan 100) → hv2`, then `, copy on hv3` for each flooded copy, and the
 * flags hopText gives a tunnel's hop; `→ nowhere` when every receiver was a copy.
 */
export const localnetHopText = (h: LocalnetHopLike, name: (s: string) => string = (s) => s): string => {
  const where = [h.network === null ? null : name(h.network), h.vlan === null ? null : `vlan ${h.vlan}`].filter((x) => x !== null);
  const copies = (h.copies ?? []).map((c) => `, copy on ${name(c.chassis)}`).join('');
  return `localnet ${name(h.port)}${where.length ? ` (${where.join(', ')})` : ''} → ${h.toChassis === null ? 'nowhere' : name(h.toChassis)}${copies}${hopFlags(h, name)}`;
};

/**
 * Why a path is incomplete, as the API words it (a missing pass, a tunnel whose far end was not
 * found, an arrival whose sender the bounded look did not read), or null.
 */
export const incompleteWhy = (v: VerdictLike, name: (s: string) => string = isolate): string | null => (v.incomplete && v.incompleteReason ? `incomplete: ${name(v.incompleteReason)}` : null);

/**
 * The lines under a path's verdict line, in the API's words, on the page and in the terminal: why
 * it is incomplete, why it may still change (provisional), and whom it was settled without and why
 * (a chassis unknown or silent past LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS). A whole path: none.
 */
export function verdictNotes(v: VerdictLike, name: (s: string) => string = isolate): string[] {
  const notes = [incompleteWhy(v, name)];
  if (v.provisional && v.provisionalReason) notes.push(`provisional: ${name(v.provisionalReason)}`);
  if (v.settledReason) notes.push(`${settledWithout(v.settledWithout, name)}: ${name(v.settledReason)}`);
  return notes.filter((n): n is string => n !== null);
}

/**
 * Where an output left: its logical ports, then the OVS ports no logical port stands for
 * ("lsp2", "OVS port uplink"), or '' (src/traces/trace-record.ts words them so for the API's text).
 */
export function outputPorts(v: { logicalPorts: string[]; unmappedOutputs?: string[]; bridgeLocal?: string[] }, name: (s: string) => string = isolate): string {
  const ovs = v.unmappedOutputs ?? [];
  const local = v.bridgeLocal ?? [];
  return [
    ...v.logicalPorts.map(name),
    ...(ovs.length ? [`OVS port${ovs.length > 1 ? 's' : ''} ${ovs.map(name).join(', ')}`] : []),
    // A bridge's own flood to its LOCAL port (the host's interface), not OVN's output.
    ...(local.length ? [`LOCAL port of ${local.map(name).join(', ')}`] : []),
  ].join(', ');
}

/**
 * "output to lsp2", "dropped by ACL …", "to ovn-controller: …", "recirculated (0x1)": the one
 * wording of a verdict, for the page and the terminal client (src/cli/render.ts colours each part
 * through `mark`, by its kind or 'incomplete').
 *
 * Every name in it (ports, chassis, ACL summaries, reasons, stages: from OVN, OVS and ingested
 * events, some set by tenants) goes through `name`: on the page isolate() (safe-text.ts), so a
 * U+202E in a port name cannot turn the rest of the line around; the terminal client, which escapes
 * the whole API value itself, passes them as they are.
 */
export function verdictText(v: VerdictLike, mark: (kind: string, text: string) => string = (_k, t) => t, name: (s: string) => string = isolate): string {
  const parts: string[] = [];
  if (v.incomplete) parts.push(mark('incomplete', 'incomplete'));
  if (v.provisional) parts.push(mark('incomplete', 'provisional'));
  if (v.settledReason) parts.push(mark('incomplete', settledWithout(v.settledWithout, name)));
  for (const k of v.kinds) {
    let text: string | undefined;
    if (k === 'output') text = `output to ${outputPorts(v, name) || 'a port'}`;
    else if (k === 'drop')
      text = v.northbound ? `dropped by ${name(v.northbound.summary)}` : v.logicalFlow ? `dropped by logical flow ${name(short(v.logicalFlow))}${v.stage ? ` (${name(v.stage)})` : ''}` : `dropped${v.reason ? `: ${name(v.reason)}` : ''}`;
    else if (k === 'controller') text = `${v.controller?.copy ? 'copy ' : ''}to ovn-controller: ${v.controller?.reason ?? v.reason ? name((v.controller?.reason ?? v.reason)!) : 'unknown reason'}`;
    // A path's hops name the remote chassis (remoteChassis), a pass's tunnel targets theirs (chassis).
    else if (k === 'tunnel') text = `tunnelled to ${(v.tunnels ?? []).map((t) => name(t.remoteChassis ?? t.chassis ?? t.remoteIp ?? '?')).join(', ') || 'another chassis'}`;
    else if (k === 'recirculate') text = `recirculated${v.recircIds?.length ? ` (${v.recircIds.map(name).join(', ')})` : ''}`;
    if (text !== undefined) parts.push(mark(k, text));
  }
  return parts.join('; ') || 'no verdict';
}

/**
 * What a pass is when it is not a live packet's, or '': a hand-typed flow (POST /traces) is listed
 * with the port's live passes, its conntrack state typed, not seen (the API's `origin`).
 */
export const originText = (t: { origin?: string }): string => (t.origin === 'hand-typed' ? 'hand-typed flow, not a live packet' : '');

export const verdictClass = (kinds: string[]) => (kinds.includes('drop') ? 'drop' : kinds.includes('output') ? 'output' : kinds.includes('controller') ? 'controller' : kinds.includes('tunnel') ? 'tunnel' : 'recirc');

export const time = (iso: string) => new Date(iso).toLocaleTimeString([], { hour12: false }) + '.' + iso.slice(20, 23);

/**
 * Why a cross-check's live stage is no difference (the API's `excused`, src/cross-checks/compare.ts),
 * in the words the page and the terminal client print.
 */
export const EXCUSED: Readonly<Record<string, string>> = {
  omittedByOvnTrace: 'not printed by ovn-trace',
  cookie0: 'run live by rules of no logical flow (cookie 0)',
  sharedOpenflowRule: "on an OpenFlow rule ovn-trace's logical flow shares",
  noMatchBoth: 'past the live end, no flow in ovn-trace either',
  ctClearedByCommit: 'conntrack state OVS cleared after ct_commit',
  equalPriorityTie: 'a tie between equal-priority flows OVS broke otherwise',
  followsTie: "differing only through the tied flows' actions",
};

/** ", 19 not printed by ovn-trace (not a difference)": a pipeline's stages neither matched nor diverged, or ''. */
export function excusedText(excused: Readonly<Record<string, readonly number[]>> | undefined): string {
  const parts = Object.entries(excused ?? {})
    .filter(([, tables]) => tables.length)
    .map(([why, tables]) => `${tables.length} ${EXCUSED[why] ?? why}`);
  return parts.length ? `, ${parts.join(', ')} (not a difference)` : '';
}
