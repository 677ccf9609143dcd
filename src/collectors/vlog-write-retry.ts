// The vswitchd log source's batches of log events whose write the writer gave up (SQLITE_BUSY past
// the busy timeout while another process on the same SQLite file holds the write lock, a full disk):
// usually a passing failure, so the batch's items go back to the head of the queue and are written
// again, before anything read since (rows land in the order they were decided), once a wait has
// passed (doubling from RETRY_FIRST_MS). Bounded: an item whose write failed WRITE_ATTEMPTS times is
// given up, and so are the oldest beyond MAX_UNWRITTEN items waiting, at each failure and as items are
// read while a retry waits (overBound: a log flood during a held lock), so a failure that persists
// neither holds every later write back for ever nor grows memory without bound.
// A failure that is not a passing one (passing(): a constraint an item's row violates, the source's own
// code refusing one event) is usually one item's, and waiting would only hold back every event read with
// it and after it: the batch is split and written apart at once (isolate), the item that fails alone
// given up. Unless no item of it can be written: then the store refuses them all, whatever its code says
// (a table a bad migration left out, a trigger refusing every row, the writer closed), and the batch is
// retried as for a passing failure: split into 2n-1 writes and given up at once, every batch would be
// lost, each costing ~2n transactions, with nothing waiting between them.
import { TallyLog } from './tally-log';

/** The writes an item gets: a lock held past these (a minute and more: 1+2+4+8+16 s of waits, each attempt its busy timeout) drops it. */
export const WRITE_ATTEMPTS = 6;
export const RETRY_FIRST_MS = 1_000;
export const RETRY_MAX_MS = 30_000;
/** Items waiting at most (the upcall linker's bound): the log's rate limit makes it minutes of events. */
export const MAX_UNWRITTEN = 20_000;

export class WriteRetry<T extends object> {
  private readonly failures = new WeakMap<T, number>();
  private readonly alone = new WeakSet<T>();
  /** Nothing is written before this (ms): the failed items wait at the queue's head. */
  private dueAt = 0;

  /** A failed batch's retry is not due yet at `now`: nothing is written, to keep the order. */
  waiting(now: number): boolean {
    return now < this.dueAt;
  }

  /**
   * The oldest of `queue` beyond MAX_UNWRITTEN, taken out of it to be given up: its head is what was
   * read first (a failed batch put back there, then what was read since), so the order of the rest holds.
   */
  overBound(queue: T[], writing = 0): T[] {
    // `writing`: the batch being written (or written apart), still in memory: counted in the bound,
    // though older, not taken back in mid-write: what was read since is given up for it.
    const over = Math.min(queue.length + writing - MAX_UNWRITTEN, queue.length);
    return over > 0 ? queue.splice(0, over) : [];
  }

  /** `item` failed alone in a batch no item of which could be written (isolate: kept, the store's failure). */
  failedAlone(item: T): void {
    this.alone.add(item);
  }

  /** `item` failed alone at an earlier attempt (failedAlone). */
  failedAloneBefore(item: T): boolean {
    return this.alone.has(item);
  }

  /**
   * A batch's write failed at `now`, `behind` items queued after it: what goes back to the queue's
   * head (in order) and what is given up (its attempts spent, over MAX_UNWRITTEN, or `last`: no later
   * write, the service stopping). `wait`: ms until the retry, 0 when none.
   */
  failed(items: readonly T[], now: number, behind: number, last = false): { again: T[]; dropped: T[]; wait: number } {
    const again: T[] = [];
    const dropped: T[] = [];
    for (const i of items) {
      const n = (this.failures.get(i) ?? 0) + 1;
      this.failures.set(i, n);
      (last || n >= WRITE_ATTEMPTS ? dropped : again).push(i);
    }
    const over = again.length + behind - MAX_UNWRITTEN;
    if (over > 0) dropped.push(...again.splice(0, over));
    // The oldest item's failures set the pace: it was first put back longest ago.
    const wait = again.length ? Math.min(RETRY_FIRST_MS * 2 ** (this.failures.get(again[0])! - 1), RETRY_MAX_MS) : 0;
    this.dueAt = wait ? now + wait : 0;
    return { again, dropped, wait };
  }
}

/** A line for the items given up at most this often (ms), with all given up since the last. */
export const DROP_LOG_MS = 10_000;

/**
 * The log of given-up items (tally-log.ts): the bound is kept at each read, so a flood of datagrams
 * while the lock is held would otherwise log a line a datagram (thousands a second).
 */
export class DropLog extends TallyLog {
  constructor() {
    super(DROP_LOG_MS, ({ total, kinds, first }) =>
      `dropped ${total} log events never stored${first ? '' : ' since the last such line'}, their write failing past its retries, failing alone, or too many waiting behind it ` +
      `(${kinds.map(([k, n]) => `${k}: ${n}`).join(', ')})`,
    );
  }
}

/**
 * The log of batches written apart (isolate), as the drop line (tally-log.ts): a store refusing every
 * row with an error passing() does not name split each batch, a line each tick.
 */
export class ApartLog extends TallyLog {
  constructor() {
    super(DROP_LOG_MS, ({ kinds, first, last }) =>
      `log events written apart, their batch failing by one's own error${first ? '' : ' since the last such line'}: ` +
      `${kinds.filter(([, n]) => n).map(([k, n]) => `${k}: ${n}`).join(', ')} (latest: ${last})`,
    );
  }

  /** A batch of `n` written apart at `now` (isolate: `bad`, `rest` left), its write's `err`: the line due, if any. */
  batch(n: number, bad: ReadonlyArray<{ err: unknown }>, rest: number, err: unknown, now: number): string | null {
    const stored = n - bad.length - rest;
    if (!stored && !bad.length) return null; // nothing written apart: the retry's line says it
    const why = `${(err as Error)?.message}${bad.length ? `; failing alone: ${(bad[0].err as Error)?.message}` : ''}`;
    return this.add([['batches', 1], ['stored', stored], ['failing alone', bad.length]], now, why);
  }
}

/**
 * A failure of the store as a whole, which a wait may see pass and which every item of a batch meets
 * alike: another process's write lock (SQLITE_BUSY / SQLITE_LOCKED, also the writer's own failure once
 * its lock wait is spent: writer.ts lockHeld rejects with SQLite's error), a full disk (SQLITE_FULL),
 * I/O, memory, the file or its permissions, a schema another process changed. better-sqlite3's
 * SqliteError carries SQLite's (extended) code; what has none is the source's own code throwing on an
 * event. Anything else (SQLITE_CONSTRAINT*, SQLITE_MISMATCH, SQLITE_TOOBIG, SQLITE_RANGE, SQLITE_ERROR,
 * a TypeError) is an item's: written again it fails again.
 */
export function passing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|NOMEM|CANTOPEN|READONLY|PROTOCOL|INTERRUPT|CORRUPT|NOTADB|NOLFS|PERM|SCHEMA|ABORT)(_|$)/.test(code);
}

/** What isolate found: the items that failed alone (each with its error), and those left by a passing failure. */
export interface Isolated<T> {
  bad: Array<{ item: T; err: unknown }>;
  /** From the part a passing failure met to the batch's end, in order, with that failure (its retry is the caller's). */
  rest: T[];
  restErr?: unknown;
  /** `rest` is back because no item could be written: the store's failure, retried as a passing one. */
  store?: true;
  /** The first item, failed alone but kept with `rest`: mark it (WriteRetry.failedAlone). */
  kept?: T;
}

/**
 * `items`, whose write as one job failed with an error that is not a passing one, written apart at
 * once by `write` (null once committed, else its error), in the batch's order, so the rows of the good
 * items land in the order they were decided and an item is given up only for failing alone.
 * The first item is written alone first, then:
 * - it commits: the store takes rows, the bad ones are in the rest: halves, then halves of a half
 *   that failed (k bad items of n: about 2k·log2(n) writes);
 * - it fails and the rest, written as one, commits: it was the one bad item (2 writes);
 * - both fail, nothing written: taken as the store's failure (no item of a store refusing all can be
 *   written alone; 2 writes to learn it, not 2n-1): all of it in `rest`, for the retry's wait. The
 *   first item is `kept`; if it fails alone so again at a later attempt (failedAloneBefore) it is given
 *   up and only the rest goes back: a bad first item with another bad one behind it looks like the
 *   store's failure once, a wait later the batch starts with a good item and is written apart as above,
 *   nothing good given up. A store that stays broken loses that first item early, the rest at its
 *   WRITE_ATTEMPTS.
 * A passing failure met meanwhile stops it: that part and what follows are `rest`, for today's retry.
 */
export async function isolate<T>(
  items: readonly T[],
  err: unknown,
  write: (part: T[]) => Promise<unknown>,
  failedAloneBefore: (item: T) => boolean = () => false,
): Promise<Isolated<T>> {
  const [head, ...tail] = items;
  // The batch's own failure: an item alone has failed alone already.
  const headErr = tail.length ? await write([head]) : err;
  if (headErr !== null && passing(headErr)) return { bad: [], rest: [...items], restErr: headErr };
  if (headErr === null) return apart(tail);
  const tailErr = tail.length ? await write(tail) : headErr;
  if (tailErr === null) return { bad: [{ item: head, err: headErr }], rest: [] };
  if (passing(tailErr)) return { bad: [], rest: [...items], restErr: tailErr };
  if (failedAloneBefore(head)) return { bad: [{ item: head, err: headErr }], rest: tail, restErr: tailErr, store: true };
  return { bad: [], rest: [...items], restErr: tailErr, store: true, kept: head };

  /** `part` (a good item written before it) written apart by halves. */
  async function apart(part: T[]): Promise<Isolated<T>> {
    const out: Isolated<T> = { bad: [], rest: [] };
    const halves = (p: readonly T[]): T[][] => [p.slice(0, Math.ceil(p.length / 2)), p.slice(Math.ceil(p.length / 2))];
    const parts: T[][] = part.length > 1 ? halves(part) : [part];
    while (parts.length) {
      const p = parts.shift()!;
      if (!p.length) continue;
      const e = await write(p);
      if (e === null) continue;
      if (passing(e)) return { ...out, rest: [...p, ...parts.flat()], restErr: e };
      if (p.length === 1) out.bad.push({ item: p[0], err: e });
      else parts.unshift(...halves(p));
    }
    return out;
  }
}
