// datapath_flow.pmd_copies: what a lifetime of a flow with copies on several PMD threads (userspace
// datapath: each PMD that receives the flow's packets installs its own, same UFID, own counters)
// needs to go on after the service starts again. Its stored packets and bytes count copies that
// already left too (idled out on their PMD), so the total alone cannot tell a copy that left from
// counters that fell: a lifetime reloaded with it alone ended counters_reset at its first reading.
// JSON, as small as it goes, one shape a source (the row's `source` says which):
//   poller: {"c":{"<pmd id>":[packets,bytes],...},"r":[packets,bytes],"v":"<boot id>:<pid>"}  (datapath-diff.ts carry)
//   vlog:   {"p":["pmd-c00/id:6",...],"r":[packets,bytes],"l":[packets,bytes]}  (vlog-pmd-copies.ts counted;
//           "main" in p: the non-PMD table's copy, copyHolder)
// NULL (rows of older agents, or a lifetime of one copy with nothing retired: the total is then the
// copy's own) reads as today: the total alone.

import { readFileSync } from 'node:fs';

export interface Counts {
  packets: number;
  bytes: number;
}

/** This host's boot (the agent reaches ovs-vswitchd by its unix socket: the same kernel); '' if unreadable. */
const BOOT_ID = (() => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
})();

/**
 * The ovs-vswitchd process whose copies they are: its pid and this host's boot (after a reboot the
 * same pid is a likely other process, daemons starting in the same order). Null: no pidfile (a
 * socket path given), not known.
 */
export const vswitchdInstance = (pid: number | null): string | null => (pid === null ? null : `${BOOT_ID}:${pid}`);

type Pair = [number, number];
const pair = (c: Counts): Pair => [c.packets, c.bytes];
const counts = (p: unknown): Counts | null =>
  Array.isArray(p) && p.length === 2 && p.every((n) => Number.isSafeInteger(n) && n >= 0) ? { packets: p[0] as number, bytes: p[1] as number } : null;
const parse = (text: string | null | undefined): Record<string, unknown> | null => {
  if (!text) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

/** The poller's copies by pmd id and what the copies that left counted; null for one copy and nothing retired. */
export function pollerCopiesText(copies: ReadonlyMap<string, Counts> | undefined, retired: Counts | undefined, instance: string | null): string | null {
  const r = retired ?? { packets: 0, bytes: 0 };
  if (!copies || (copies.size <= 1 && r.packets === 0 && r.bytes === 0)) return null;
  return JSON.stringify({ c: Object.fromEntries([...copies].map(([pmd, c]) => [pmd, pair(c)])), r: pair(r), ...(instance !== null ? { v: instance } : {}) });
}

/**
 * pollerCopiesText read back with the row's counters `total`; null when absent or unreadable (the
 * total alone, as before the column), or when it does not add up to them: the poller writes both in
 * one statement, so such a JSON was not written with them (an agent before the column, run on the
 * same spool in between, updates the counters alone), and carried from it the lifetime's packets
 * would fall with no end.
 */
export function pollerCopiesOf(text: string | null | undefined, total: Counts): { copies: Map<string, Counts>; retired: Counts; instance: string | null } | null {
  const v = parse(text);
  const retired = counts(v?.r);
  if (!v || !retired || v.c === null || typeof v.c !== 'object') return null;
  const copies = new Map<string, Counts>();
  const sum = { ...retired };
  for (const [pmd, p] of Object.entries(v.c as Record<string, unknown>)) {
    const c = counts(p);
    if (!c) return null;
    copies.set(pmd, c);
    sum.packets += c.packets;
    sum.bytes += c.bytes;
  }
  const instance = typeof v.v === 'string' ? v.v : null;
  return copies.size && sum.packets === total.packets && sum.bytes === total.bytes ? { copies, retired, instance } : null;
}

/** The vlog source's copies: the PMD threads that logged the lifetime installed, the copies that left, the copy read last. */
export interface VlogCopies {
  pmds: Set<string>;
  retired: Counts;
  last: Counts | null;
}

/** Null with fewer than two PMDs: the comparison is then the total's (vlog-pmd-copies.ts counted). */
export function vlogCopiesText(c: VlogCopies | undefined): string | null {
  if (!c || c.pmds.size < 2) return null;
  return JSON.stringify({ p: [...c.pmds], r: pair(c.retired), ...(c.last ? { l: pair(c.last) } : {}) });
}

/**
 * vlogCopiesText read back with the row's counters `total`; null when absent, unreadable, or not
 * written with them (as pollerCopiesOf): the source writes the copies with the counters they count,
 * retired + the copy read last (none retired before a copy was read), so a JSON that does not add
 * up to them is another run's (an agent before the column updates the counters alone).
 */
export function vlogCopiesOf(text: string | null | undefined, total: Counts): VlogCopies | null {
  const v = parse(text);
  const retired = counts(v?.r);
  if (!v || !retired || !Array.isArray(v.p) || !v.p.every((t) => typeof t === 'string')) return null;
  const last = v.l === undefined ? null : counts(v.l);
  if (v.l !== undefined && !last) return null;
  const adds = last ? retired.packets + last.packets === total.packets && retired.bytes + last.bytes === total.bytes : retired.packets === 0 && retired.bytes === 0;
  return adds ? { pmds: new Set(v.p as string[]), retired, last } : null;
}
