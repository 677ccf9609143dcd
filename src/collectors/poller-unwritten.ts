// What a poll's failed write held. The poller applies each dump in memory before its rows are
// written; a write that fails (another process keeps the SQLite write lock past the writer's wait,
// a full disk) rolled its rows back while memory went on, so its new lifetimes were never stored
// (later polls only update or end a stored row) and the lifetimes it ended stayed open in the store
// for good. Kept here, written by the next poll's persist; bounded, so a store that never comes back
// costs no more than MAX_UNWRITTEN ends and edges (the oldest given up, counted).
import type { FlowEvent, LiveFlow, RecircLink } from './datapath-diff';

export const MAX_UNWRITTEN = 100_000;

export class PollerUnwritten {
  /** Lifetimes begun in a failed write: no row (stored by catch-up while installed, or with their end). */
  readonly begun = new Set<LiveFlow>();
  readonly ends = new Map<LiveFlow, { at: string; reason: string }>();
  readonly links: RecircLink[] = [];
  /** Ends and edges given up past MAX_UNWRITTEN, not yet said (takeGivenUp). */
  private givenUp = 0;

  /** How many were given up since the last call. */
  takeGivenUp(): number {
    const n = this.givenUp;
    this.givenUp = 0;
    return n;
  }

  /** Event `e`'s write failed (rolled back). `stale`: stored lifetimes whose counters wait. */
  failed(e: FlowEvent, stale: Set<LiveFlow>): void {
    const f = e.flow;
    if (e.type === 'ukey_created') {
      f.dbId = undefined; // of a rolled-back row
      this.begun.add(f);
    } else if (e.type === 'ukey_updated' && f.dbId) stale.add(f);
    else if (e.type === 'ukey_removed' && (f.dbId || this.begun.has(f))) {
      if (this.begun.has(f)) f.dbId = undefined;
      this.ends.set(f, { at: e.at, reason: e.reason });
      this.bound();
    }
  }

  linksFailed(links: RecircLink[]): void {
    this.links.push(...links);
    this.bound();
  }

  /** Its end (or its edge: either side) stored: a lifetime begun unwritten is forgotten. */
  written(f: LiveFlow): void {
    this.begun.delete(f);
  }

  private bound(): void {
    for (const f of this.ends.keys()) {
      if (this.ends.size <= MAX_UNWRITTEN) break;
      this.ends.delete(f);
      this.begun.delete(f);
      this.givenUp++;
    }
    const over = this.links.length - MAX_UNWRITTEN;
    if (over > 0) {
      this.links.splice(0, over);
      this.givenUp += over;
    }
  }
}
