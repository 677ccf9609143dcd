// What one write job of the vswitchd log source did in memory to its lifetimes (vlog-lifetimes.ts),
// and its undo when the job's transaction rolls back (a COMMIT failing, as on a full disk): the writer
// replays the job alone and the source writes it again later (vlog-write-retry.ts), so each run must
// start from the memory the run before started from, or it writes (and counts) something else.
import type { InstalledFlow } from '../upcalls';
import type { VlogCopies } from './pmd-copies-column';
import type { GoneChecks, SavedWatch } from './vlog-gone-check';
import type { VlogPmdCopies } from './vlog-pmd-copies';

/** What a check that found the flow installed says of its lifetime. */
export interface Seen {
  /** On vswitchd's clock, as the lifetime's other times (vlog-log-clock.ts shownAt). */
  lastSeen: string;
  /** When, on the agent's clock: what its next check is counted from. */
  at: number;
  packets: number;
  bytes: number;
  used: string | null;
  /** Its copies on several PMDs (pmd-copies-column.ts), written with the counters. */
  pmdCopies?: string | null;
}

/** A lifetime not stored, the spool being full: checked in the datapath under a negative id. */
export interface Unstored {
  id: number;
  flow: InstalledFlow;
  /** Its log line's time: its first_seen if it is stored. */
  time: string;
  /** When it began on the agent's clock (its line's event, vlog-log-clock.ts, or the check that found it): its heard_at. */
  heard: number;
  seen: Seen | null;
  /** Asked for at once since the spool had room (not again until it is full again). */
  hurried: boolean;
  /** Checks in a row that learnt nothing (vswitchd away, a timeout): given up at MAX_FAILED_CHECKS. */
  failedChecks: number;
}

/** What one write job did in memory that its rollback undoes (VlogLifetimes.making, rolledBack: undo). */
export interface WriteJob {
  /** The ids of the rows it made. */
  made: Set<number>;
  /** What writeHeld wrote and so no longer held: held again if the write rolls back. */
  wroteHeld: Array<{ held: Map<number, Seen>; copiesHeld: Set<number> }>;
  /** Held-back lifetimes it stored (storeLate), as they were: held back again if it rolls back. */
  storedLate: Array<{ u: Unstored; watch: SavedWatch; id?: number }>;
  /** Stored lifetimes it ended (end), their watches and PMD copies as they were: watched and counted again if it rolls back. */
  ended: Array<{ id: number; watch: SavedWatch; copies?: VlogCopies }>;
  /** New lifetimes it held back (begin while full): no longer held if it rolls back. */
  heldBack: Unstored[];
  /** PMDs it noted (notePmd): not known if it rolls back, so that the replay notes and writes them again. */
  noted: Array<{ id: number; thread: string }>;
  /** Held-back lifetimes it lost (lose), as they were: held back again if it rolls back. */
  lost: Array<{ u: Unstored; watch: SavedWatch; copies?: VlogCopies }>;
  /**
   * What its run counted (VlogLifetimes.afterCommit: the spool bound's outcomes, the source's upcalls):
   * counted once its transaction commits (committed), each run anew, so a rolled-back run and its replay count once.
   */
  counts: Array<() => void>;
}
/** `job` committed: what its last run counted is counted. */
export function committed(job: WriteJob): void {
  for (const c of job.counts.splice(0)) c();
}

export const writeJob = (): WriteJob => ({ made: new Set(), wroteHeld: [], storedLate: [], ended: [], heldBack: [], lost: [], noted: [], counts: [] });

/** VlogLifetimes' memory a job changes (the lifetimes' counters, copies, watches, and the ones held back). */
export interface JobMemory {
  unstored: Map<string, Unstored>;
  held: Map<number, Seen>;
  copiesHeld: Set<number>;
  copies: VlogPmdCopies;
  gone: GoneChecks;
}

/**
 * `job`'s rows were rolled back and SQLite gives their ids again (AUTOINCREMENT's sequence rolled back
 * with them): what `m` learnt of them goes, or the next lifetime stored took it over (a kernel put's
 * the userspace mark of a rolled-back dpif_netdev flow_add: no longer vetoed). What the job took out of
 * `m` (counters and copies it wrote from memory, lifetimes it stored late, ended or lost) is put back
 * unless known anew since, for the next write; `job` is emptied for its next run.
 */
export function undo(job: WriteJob, m: JobMemory): void {
  // A lifetime it ended is open again: checked as before (a flow_del given up leaves it to a check),
  // its copies known (the replay's check of another copy is not counters fallen). First: one stored
  // late in the job takes its copies back under its negative id below.
  for (const { id, watch, copies } of job.ended.reverse()) {
    if (copies) m.copies.restore(id, copies);
    if (!job.made.has(id)) m.gone.restore(id, watch);
  }
  // A lifetime stored late is held back again as it was (its check's replay stores it, or its
  // given-up check watches it again: unwritten), its copies back under its negative id.
  for (const { u, id, watch } of job.storedLate.reverse()) {
    if (m.unstored.has(u.flow.ufid)) continue;
    m.unstored.set(u.flow.ufid, u);
    if (id !== undefined) m.copies.move(id, u.id);
    m.gone.restore(u.id, watch);
  }
  for (const id of job.made) {
    m.gone.forget(id);
    m.copies.delete(id);
    m.held.delete(id);
    m.copiesHeld.delete(id);
  }
  for (const w of job.wroteHeld) {
    for (const [id, seen] of w.held) if (!m.held.has(id) && !job.made.has(id)) m.held.set(id, seen);
    for (const id of w.copiesHeld) if (!job.made.has(id)) m.copiesHeld.add(id);
  }
  // Lifetimes it held back go; ones it lost are held back again as they were (unless held anew).
  for (const u of job.heldBack) {
    if (m.unstored.get(u.flow.ufid) === u) m.unstored.delete(u.flow.ufid);
    m.gone.forget(u.id);
    m.copies.delete(u.id);
  }
  const heldBack = new Set(job.heldBack); // looked up for each one lost: a flood of them is not quadratic
  for (const { u, watch, copies } of job.lost.reverse()) {
    if (heldBack.has(u) || m.unstored.has(u.flow.ufid)) continue;
    m.unstored.set(u.flow.ufid, u);
    m.gone.restore(u.id, watch);
    if (copies) m.copies.restore(u.id, copies);
  }
  // Last: what it noted is under the ids it was noted under again (moves undone, losses restored).
  for (const { id, thread } of job.noted.reverse()) m.copies.unnote(id, thread);
  job.made.clear();
  job.noted = [];
  job.wroteHeld = [];
  job.storedLate = [];
  job.ended = [];
  job.heldBack = [];
  job.lost = [];
  job.counts.length = 0; // rolled back: not counted
}
