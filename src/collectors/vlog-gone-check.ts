// Ending vlog lifetimes whose removal the log never tells (LIVETRACE_POLLER=false). On the
// userspace datapath dpif_netdev logs flow_add and flow_mod only: a deletion is logged by lib/dpif.c
// (`flow_del`, module dpif), whose debug lines share one rate limit (600 a minute) with a line for
// every flow of every revalidator dump (about two dumps a second): with more than a few flows it is
// the deletions that are dropped, and the source raises dpif_netdev alone there. The kernel
// datapath's flow_del lines can be dropped the same way under load. So a lifetime no line ended is
// checked once it may have gone idle (the datapath's max-idle after it was last known installed):
// one `dpctl/get-flow DP ufid:U`, a read of that one flow (of each datapath in turn: checkFlowIn). Installed: it was alive then (last_seen,
// counters), checked again a max-idle after its last packet. Gone (the datapath answers ENOENT): the
// lifetime ends as `gone_unlogged` at the time of that check: when it was found gone, not when it
// went, which lies between last_seen and then and which no log line says. Any other answer
// (vswitchd away or restarting, a timeout) changes nothing: asked again later. A datapath whose
// every answer is an error of its own (removed under vswitchd, or unable to look flows up by UFID)
// stops vetoing the others once consistently so, where it cannot hold the flow (DatapathAnswers).
import { parseDumpLine, type DumpedFlow } from '../ovs/dump-flows';

/** ofproto's default other_config:max-idle (OFPROTO_MAX_IDLE_DEFAULT, ofproto/ofproto.h). */
export const MAX_IDLE_MS = 10_000;

/**
 * The max-idle vswitchd runs with, from the local Open_vSwitch row's `other_config:max-idle`, read
 * as vswitchd reads it (vswitchd/bridge.c: smap_get_uint, a whole decimal 0..UINT_MAX; anything else,
 * or none, is the default; ofproto_set_max_idle takes it as it is, no minimum). Every check's rhythm
 * derives from it: assuming 10 s under a larger one (some deployments raise it to minutes) re-checked
 * every idle but still installed flow about every second (RECHECK_MS), ~20 get-flow a second.
 */
export function maxIdleOf(value: string | undefined): number {
  // strtoll in the C locale: isspace's six, a sign ('-' takes only zero: str_to_uint refuses below 0), digits to the end.
  const m = value === undefined ? null : /^[ \t\n\v\f\r]*(?:\+|-(?=0+$))?(\d+)$/.exec(value);
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) && n <= 0xffff_ffff ? n : MAX_IDLE_MS;
}
/** A revalidator round (500 ms), the deletion, and the log's way to us (read every 200 ms). */
const MARGIN_MS = 2_000;
/** Never sooner than this after a check that found the flow (its `used` already past max-idle: over the flow limit, vswitchd idles flows out after 100 ms). */
const RECHECK_MS = 1_000;

export const GONE_REASON = 'gone_unlogged';
/** The kernel datapath's type as dpif/show names it (`system@ovs-system`): dpif-netlink's class. */
const KERNEL_TYPE = 'system';

/**
 * Whether a stored vlog lifetime's `key` is the one a dpif_netdev flow_add/flow_mod line gave (its flow
 * in a userspace datapath: checkFlowIn's `userspace`), for a lifetime read back at the service's start
 * (no line in memory). lib/dpif.c's put lines (the kernel datapath's, any datapath's under module dpif)
 * print every attribute (log_flow_message: verbose), and every key has skb_priority and skb_mark
 * (odp_flow_key_from_flow puts both, always): `skb_priority(0/0),...,skb_mark(0/0)`. lib/dpif-netdev.c
 * prints only the attributes its mask does not wildcard (log_netdev_flow_change: odp_flow_format,
 * verbose false): skb_priority once translation read or set it (set_queue, enqueue, pop_queue, an output
 * to a port with QoS DSCP: captured, test/fixtures/captured-set-queue), skb_mark once it matched
 * pkt_mark; a megaflow with both is told a put's (unmarked: vetoed as before).
 */
export const loggedByDpifNetdev = (key: string): boolean => !/(^|,)skb_priority\(/.test(key) || !/(^|,)skb_mark\(/.test(key);

/**
 * `dp`: the datapath that had the flow. `refused`: vswitchd answered, with dpctl's own error other than
 * "no such flow": `no_datapath` (dpctl found no datapath of that name: it holds no flow) or
 * `cannot_answer` (the datapath exists and could not say); absent, no answer came (a timeout, no socket).
 */
export type CheckResult =
  | { state: 'present'; flow: DumpedFlow; dp?: string }
  | { state: 'gone' }
  | { state: 'unknown'; reason: string; refused?: Refusal };
type Refusal = 'no_datapath' | 'cannot_answer';

/** Refusals in a row, over at least a max-idle (the span; never under the default's), that make a datapath mute (DatapathAnswers). */
export const MUTE_AFTER = 3;
/**
 * "In a row" is no longer than MUTE_GAP max-idles (never under the default's) between two refusals: a datapath that refuses
 * while it vetoes a lifetime is asked again within a max-idle and its margin (the lifetime's next
 * check), and by every other check that reaches it, so a longer gap means nobody asked it: what it
 * answered then is not known, and refusals hours apart (a kernel datapath's transient lookup
 * failures) are not "consistently". Six max-idles leave room for a backlog of due checks.
 */
const MUTE_GAP = 6;

/** A max-idle (ms) fixed, or read live (the source's: the local Open_vSwitch row's, maxIdleOf). */
type MaxIdle = number | (() => number);
const live = (m: MaxIdle): (() => number) => (typeof m === 'number' ? () => m : m);

type Watched = { ufid: string; dueAt: number; idle: number; notBefore: number };
/** A lifetime's watch, home, userspace mark and check in flight (GoneChecks.saved, restore). */
export type SavedWatch = { watched?: Watched; home?: string; userspace: boolean; inFlight: boolean };

/** The open vlog lifetimes and when each may have gone idle. */
export class GoneChecks {
  /** `idle`: the max-idle `dueAt` was reckoned under (take() brings it forward, never before `notBefore`, if the max-idle was lowered since). */
  private readonly watched = new Map<number, Watched>();
  /** The datapath a check last found each lifetime's flow in (checkFlowIn's `home`). */
  private readonly homes = new Map<number, string>();
  /** Lifetimes whose flow dpif_netdev logged installed (read back at a start: whose stored key such a line gave, loggedByDpifNetdev): in a userspace datapath (checkFlowIn's `userspace`). */
  private readonly userspace = new Set<number>();
  /** Lifetimes taken for a check and neither watched again nor forgotten since (their answer is due: again()). */
  private readonly inFlight = new Set<number>();
  /** Read at each watch and take: a raised other_config:max-idle applies to the checks watched after it, a lowered one to all. */
  private readonly maxIdleMs: () => number;

  constructor(maxIdleMs: MaxIdle = MAX_IDLE_MS) {
    this.maxIdleMs = live(maxIdleMs);
  }

  get size(): number {
    return this.watched.size;
  }

  /**
   * Lifetime `id` of `ufid` was known installed and last used at `aliveAt` (ms): checked once it may
   * have gone idle. A check already due sooner stays so: on the userspace datapath each PMD's copy of
   * a flow logs its own flow_add (again each time it idled out and came back), and a check put off by
   * each came after the copy get-flow reads had idled out, its packets never read.
   */
  watch(id: number, ufid: string, aliveAt: number, notBefore = 0): void {
    const idle = this.maxIdleMs();
    const dueAt = Math.max(aliveAt + idle + MARGIN_MS, notBefore);
    this.inFlight.delete(id);
    const was = this.watched.get(id);
    this.watched.set(id, was?.ufid === ufid && this.dueOf(was, idle) <= dueAt ? was : { ufid, dueAt, idle, notBefore });
  }

  /** Due at the next take (a lifetime the full spool held back, once it has room: stored if still installed). */
  now(id: number, ufid: string): void {
    this.inFlight.delete(id);
    this.watched.set(id, { ufid, dueAt: 0, idle: 0, notBefore: 0 });
  }

  /** What is known of `id`, for restore (a forget in a write job that rolled back undone). */
  saved(id: number): SavedWatch {
    return { watched: this.watched.get(id), home: this.homes.get(id), userspace: this.userspace.has(id), inFlight: this.inFlight.has(id) };
  }

  /** `id` as `s` saved it, unless watched or taken again since. */
  restore(id: number, s: SavedWatch): void {
    if (this.watched.has(id) || this.inFlight.has(id)) return;
    if (s.watched) this.watched.set(id, s.watched);
    if (s.home !== undefined) this.homes.set(id, s.home);
    if (s.userspace) this.userspace.add(id);
    if (s.inFlight) this.inFlight.add(id);
  }

  forget(id: number): void {
    this.watched.delete(id);
    this.homes.delete(id);
    this.userspace.delete(id);
    this.inFlight.delete(id);
  }

  /**
   * A check of `id` learnt nothing: asked again a max-idle after `now`, unless its lifetime ended
   * (forgotten) while the check was in flight: an ended lifetime put back was checked for as long as
   * the answers stayed unknown (a datapath that cannot answer vetoes for good), a stored one's row
   * closed and never its check. False: not watched.
   */
  again(id: number, ufid: string, now: number): boolean {
    if (!this.inFlight.has(id)) return false;
    this.watch(id, ufid, now);
    return true;
  }

  /**
   * A check of `id` whose answer's write failed (rolled back): watched again a max-idle after `now`,
   * with the home and userspace mark the check knew (`knew`): an end in the failed job forgot them, and
   * without them a datapath that cannot answer vetoed the lifetime for good.
   */
  rewatch(id: number, ufid: string, now: number, knew: { home?: string; userspace?: boolean }): void {
    this.watch(id, ufid, now);
    if (knew.home !== undefined) this.homes.set(id, knew.home);
    if (knew.userspace) this.userspace.add(id);
  }

  homeOf(id: number): string | undefined {
    return this.homes.get(id);
  }

  /** A log line of lib/dpif-netdev.c (flow_add, flow_mod) installed lifetime `id`'s flow: it lives in a userspace datapath. */
  inUserspace(id: number): void {
    this.userspace.add(id);
  }

  isUserspace(id: number): boolean {
    return this.userspace.has(id);
  }

  /**
   * At most `max` lifetimes due by `now`, longest due first; each is not due again until watched again.
   * A check watched under a larger max-idle than the current one is due that much sooner: vswitchd
   * idles flows out under the current one, and a check kept at a removed max-idle=600000 (or UINT_MAX:
   * 49 days) left the lifetime of a flow long gone open that long, its end read that late.
   */
  take(now: number, max: number): Array<{ id: number; ufid: string }> {
    const idle = this.maxIdleMs();
    const due: Array<{ id: number; ufid: string; dueAt: number }> = [];
    for (const [id, w] of this.watched) {
      const dueAt = this.dueOf(w, idle);
      if (dueAt <= now) due.push({ id, ufid: w.ufid, dueAt });
    }
    due.sort((a, b) => a.dueAt - b.dueAt);
    const out = due.slice(0, max);
    for (const d of out) {
      this.watched.delete(d.id);
      this.inFlight.add(d.id);
    }
    return out.map(({ id, ufid }) => ({ id, ufid }));
  }

  /** When `w` is due under max-idle `idle`: sooner by as much as the max-idle it was watched under was lowered since. */
  private dueOf(w: Watched, idle: number): number {
    return Math.max(w.dueAt - Math.max(0, w.idle - idle), w.notBefore);
  }

  /** After a check that found it installed at `now`: due a max-idle after its last packet (or now, never used). */
  present(id: number, ufid: string, flow: DumpedFlow, now: number, dp?: string): void {
    if (dp) this.homes.set(id, dp);
    const lastUsed = flow.usedSeconds === null ? now : now - flow.usedSeconds * 1000;
    this.watch(id, ufid, lastUsed, now + RECHECK_MS);
  }
}

/**
 * What each datapath answered lately: one that refused (dpctl's own error, not "no such flow")
 * MUTE_AFTER times in a row over at least a max-idle, none more than MUTE_GAP max-idles after the one
 * before, is mute; any answer that says whether it has a flow makes it heard again. No reply (a
 * timeout) neither counts nor clears: it says nothing of the datapath.
 */
export class DatapathAnswers {
  private readonly runs = new Map<string, { count: number; since: number; last: number; refusal: Refusal }>();
  private readonly maxIdleMs: () => number;

  /**
   * The span and gap scale with a max-idle above the default (a vetoed lifetime is asked again a
   * max-idle and its margin later), never below it: vswitchd takes 0 (no minimum), where a gap of six
   * max-idles was 0 ms and no two refusals were in a row (a datapath holding no flow vetoed for good),
   * and a 500 ms span made three refusals of one tick's burst "consistently".
   */
  constructor(maxIdleMs: MaxIdle = MAX_IDLE_MS) {
    const m = live(maxIdleMs);
    this.maxIdleMs = () => Math.max(m(), MAX_IDLE_MS);
  }

  heard(dp: string, r: CheckResult, now: number): void {
    if (r.state !== 'unknown') return void this.runs.delete(dp);
    if (!r.refused) return;
    const run = this.runs.get(dp);
    if (!run || now - run.last > MUTE_GAP * this.maxIdleMs()) return void this.runs.set(dp, { count: 1, since: now, last: now, refusal: r.refused });
    run.count++;
    run.last = now;
    // Both kinds in one run: it may exist and hold flows.
    if (r.refused !== run.refusal) run.refusal = 'cannot_answer';
  }

  /**
   * Only the datapaths of `dps` (dpif/show's list now): one that left it is never asked again, and
   * its run would stay for good and pass to a datapath listed later under its name (created again),
   * whose first refusal would then find it mute at once.
   */
  keepOnly(dps: readonly string[]): void {
    for (const dp of this.runs.keys()) if (!dps.includes(dp)) this.runs.delete(dp);
  }

  /** How `dp` refuses consistently, or null while it is not mute (nor once its last refusal is MUTE_GAP max-idles old). */
  mute(dp: string, now: number): Refusal | null {
    const run = this.runs.get(dp);
    const idle = this.maxIdleMs();
    return run && run.count >= MUTE_AFTER && now - run.since >= idle && now - run.last <= MUTE_GAP * idle ? run.refusal : null;
  }
}

/**
 * Whether the flow of `ufid` is installed in any of `dps` (every datapath of the daemon, the
 * integration bridge's first). dpctl/get-flow asks one datapath: the one its first argument names,
 * or without one the only one there is ("multiple datapaths, specify one" otherwise: lib/dpctl.c
 * opt_dpif_open). A userspace flow_add line names no datapath, so on a host with two (a kernel and a
 * userspace one, or two userspace types) the flow may be in any: present in one is present; gone
 * only when every one says so, or is mute (`answers`: refused consistently) and cannot hold it:
 * one dpctl finds no more holds no flow; one that cannot answer may hold any, so it only stands
 * aside for a lifetime whose flow an earlier check found in another (`home`: a UFID lives in the
 * datapath that installed it) and that one now says it is gone, or is no longer listed (removed,
 * its flows with it). Otherwise unknown. No datapath known: asked without one. `userspace`: the
 * flow's install line was dpif_netdev's, and a kernel datapath (`system@`, lib/dpif-netlink.c) holds
 * none of the userspace datapath's flows, so whatever it answers vetoes nothing (a flow that idled
 * out before its first check has no home to say gone).
 */
export async function checkFlowIn(
  call: (command: string, args: string[]) => Promise<string>,
  dps: readonly string[],
  ufid: string,
  opts: { answers?: DatapathAnswers; home?: string; userspace?: boolean; now?: number } = {},
): Promise<CheckResult> {
  const now = opts.now ?? Date.now();
  if (dps.length) opts.answers?.keepOnly(dps); // none: the list unread (dpif/show failed), not every datapath gone
  const answered = new Map<string | null, CheckResult>();
  for (const dp of dps.length ? dps : [null]) {
    const r = await checkFlow(call, dp, ufid);
    if (dp) opts.answers?.heard(dp, r, now);
    if (r.state === 'present') return dp ? { ...r, dp } : r;
    answered.set(dp, r);
  }
  // The home no longer listed (removed from dpif/show) holds the flow no more: its flows went with it,
  // and a UFID lives in the datapath that installed it. Without this a mute datapath that cannot
  // answer vetoed such a lifetime for good. An unread list (no datapath asked by name) removed nothing.
  const homeLeft = opts.home !== undefined && dps.length > 0 && !dps.includes(opts.home);
  const homeSaidGone = homeLeft || (opts.home !== undefined && answered.get(opts.home)?.state === 'gone');
  for (const [dp, r] of answered) {
    if (r.state !== 'unknown' || (opts.userspace && dp?.startsWith(`${KERNEL_TYPE}@`))) continue;
    const mute = dp ? opts.answers?.mute(dp, now) : null;
    if (mute === 'no_datapath' || (mute === 'cannot_answer' && homeSaidGone)) continue;
    return r;
  }
  return { state: 'gone' };
}

/**
 * One `dpctl/get-flow [DP] ufid:U` through `call` (ovs-appctl's protocol: an error reply throws an
 * error with the daemon's `text`). Only the datapath's own "No such file or directory" is gone.
 */
export async function checkFlow(call: (command: string, args: string[]) => Promise<string>, dp: string | null, ufid: string): Promise<CheckResult> {
  let text: string;
  try {
    text = await call('dpctl/get-flow', [...(dp ? [dp] : []), `ufid:${ufid}`]);
  } catch (err) {
    const said = (err as { text?: unknown }).text;
    // dpctl's own error, as ovs-vswitchd words it: `ovs-vswitchd: getting flow (No such file or directory)`.
    if (typeof said === 'string' && /(^|: )getting flow \(No such file or directory\)$/.test(said.trim())) return { state: 'gone' };
    // vswitchd's own answer otherwise: dpctl's "datapath not found" (opt_dpif_open: no datapath of that
    // name exists now), or another error of a datapath that exists (opening it, or a lookup by UFID it
    // cannot make: a kernel without UFIDs answers EINVAL). Anything else (no reply) refused nothing.
    const refused = typeof said !== 'string' ? undefined : /(^|: )datapath not found \(/.test(said.trim()) ? 'no_datapath' : 'cannot_answer';
    return { state: 'unknown', reason: (err as Error).message, ...(refused ? { refused } : {}) };
  }
  const line = text.split('\n').find((l) => l.trim() !== '');
  if (!line) return { state: 'unknown', reason: 'empty reply' };
  try {
    return { state: 'present', flow: parseDumpLine(line.trim()) };
  } catch (err) {
    return { state: 'unknown', reason: `unreadable reply: ${(err as Error).message}` };
  }
}
