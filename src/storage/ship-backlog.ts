// The spool's backlog: the changes waiting for PostgreSQL, which /health's central part, the
// livetrace_ship_backlog metric and the bound the sources stop by (LIVETRACE_SPOOL_MAX_CHANGES) read.
// Two parts: ship_log's entries (one a logged row), and per marked table its rows above the shipped
// mark, counted by the mark's values (ids are dense in a writer's range: counting rows would walk
// the range). The shipper counts it whole as its attempts end; while PostgreSQL is away attempts
// end seconds apart, so the writer counts it at the end of each of its chunks instead, by what the
// chunk added (shipper.ts countChunk): ship_log's entries past the newest one counted (seq only grows,
// AUTOINCREMENT; nothing deletes an entry but the shipper, after PostgreSQL's COMMIT, and it says how
// many), and each marked table's top again (one index probe) over its shipped mark as that same
// connection reads meta (inside the shipper's own delete job the mark has moved before the shipper's
// memory of it does: counted by memory, the chunk that shipped the first batch after an outage said
// its whole range still waited). Work in proportion to the chunk's own changes, no query a write.
import type { Statement } from 'better-sqlite3';
import { highestOwn, type ShippedTable } from './spool';
import { shippedMarks } from './spool-state';

type Stmt = (sql: string) => Statement;

/** What the backlog sets: the count, and whether it reached the bound (ShipperState). */
export interface BacklogState {
  backlog: number;
  full: boolean;
}

/**
 * The backlog counted whole or by what came since the last count, into `state`. The two may run on other
 * connections (the shipper's read connection: what is committed; the writer's: its open transaction
 * too): a whole count taken on either is where the next count since goes on from.
 */
export class SpoolBacklog {
  /** ship_log's entries as last counted, and the newest of them. */
  private logged?: { n: number; seq: number };

  constructor(
    private readonly state: BacklogState,
    /** The bound: LIVETRACE_SPOOL_MAX_CHANGES. */
    private readonly max: number,
    private readonly marked: readonly ShippedTable[],
    private readonly slot: number | undefined,
  ) {}

  whole(stmt: Stmt): void {
    const r = stmt('SELECT COUNT(*) AS n, MAX(seq) AS s FROM ship_log').get() as { n: number; s: number | null };
    this.logged = { n: r.n, seq: r.s ?? 0 };
    this.set(r.n + this.aboveMarks(stmt));
  }

  /** The entries counted before and those past the newest of them; whole when there is no count to go on from. */
  since(stmt: Stmt): void {
    const c = this.logged;
    if (!c) return this.whole(stmt);
    const r = stmt('SELECT COUNT(*) AS n, MAX(seq) AS s FROM ship_log WHERE seq > ?').get(c.seq) as { n: number; s: number | null };
    c.n += r.n;
    if (r.s !== null) c.seq = r.s;
    this.set(c.n + this.aboveMarks(stmt));
  }

  /** Entries the shipper deleted (their rows in PostgreSQL), inside the writer job that deleted them. */
  deleted(n: number): void {
    if (this.logged) this.logged.n -= n;
  }

  /**
   * A writer transaction rolled back: entries counted inside it are gone and their seq values may
   * be given again (AUTOINCREMENT's counter rolls back too). The next count is whole.
   */
  forget(): void {
    this.logged = undefined;
  }

  private set(n: number): void {
    this.state.backlog = n;
    this.state.full = n >= this.max;
  }

  /** Rows of the marked tables above their shipped marks, both as the counting connection sees them. */
  private aboveMarks(stmt: Stmt): number {
    if (!this.marked.length) return 0;
    const marks = shippedMarks({ stmt }, this.marked.map((t) => t.name));
    let n = 0;
    for (const t of this.marked) n += Math.max(0, highestOwn(stmt, t, this.slot!) - (marks.get(t.name) ?? 0));
    return n;
  }
}
