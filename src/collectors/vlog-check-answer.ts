// A check in the datapath (vlog-gone-check.ts) of a vswitchd log source's lifetime: its answer as
// queued for the write job, when the lifetime's next check is counted from, whether the flow the
// check read goes on with the lifetime or ended it, and how many checks that learn nothing a
// held-back lifetime is given up after.
import type { DumpedFlow } from '../ovs/dump-flows';
import type { InstalledFlow } from '../upcalls';
import { actionsOf } from './datapath-diff';
import type { Counts } from './pmd-copies-column';
import type { CheckResult } from './vlog-gone-check';
import type { Seen } from './vlog-write-job';

/**
 * A check's answer for lifetime `id` (negative: one held back) of `ufid`; `home`, `userspace`: what the check knew (unwritten);
 * `offset`: the clocks' (LogClock.offset) when it was made, absent or null if none was measured.
 */
export type CheckedItem = { kind: 'checked'; id: number; ufid: string; at: number; result: CheckResult; home?: string; userspace?: boolean; offset?: number | null };

/**
 * A held-back lifetime whose checks failed this many times in a row (a max-idle apart: about a
 * minute) is given up (lost_unchecked): with vswitchd's socket failing and the spool full, every
 * flow_add read would otherwise stay in memory for good. A stored lifetime is not: its row is the
 * memory, and its checks go on.
 */
export const MAX_FAILED_CHECKS = 5;

/**
 * When the agent last knew `f` installed, on its own clock (the one the checks are taken by): a
 * check's (`seen`, written from its Date.now()) or when its log line was read, never the line's own
 * time: vswitchd's clock may be minutes apart, and a check reckoned from it ran that much early or late.
 */
export const heardAt = (f: InstalledFlow, seen: Seen | null): number => (seen ? seen.at : f.at);

/**
 * How the flow `f` a check read under a stored lifetime's UFID ends it (null: it goes on), given
 * `counted`, the check's counters as the lifetime's (VlogPmdCopies.counted; null: they fell).
 * Fewer packets than the lifetime counted: its flow was deleted unlogged and installed again
 * (same key, so same UFID; same actions, so no flow_add told another lifetime). As the poller's
 * counters_reset (datapath-diff.ts): it ends at this check, and the flow found is a new lifetime,
 * first seen now (its install's log line, if any, was taken for the old one put again).
 * Other actions, counters not fallen: modified in place (the revalidators' UKEY_MODIFY keeps the
 * UFID and the counters) with no log line of it read (dpif_netdev's flow_mod dropped by the log's
 * rate limit; the kernel's put[modify] is no install): ended actions_changed, as by the poller.
 */
export function endByCheck(counted: Counts | null, f: DumpedFlow, actions: string): 'counters_reset' | 'actions_changed' | null {
  return !counted ? 'counters_reset' : actionsOf(f) !== actions ? 'actions_changed' : null;
}
