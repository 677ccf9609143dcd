// Where `GET /traces/stream`'s walk of a port starts in time (trace-stream.service.ts). trace_port
// has one index by port, by time (port_name, created_at, trace_id: the lists'), none by id, so a
// stream following a port in one writer slot above its floor reads the port's rows from the earliest
// trace time among the slot's ids above that floor, with the ids as a filter. Trace times are not
// monotonic in id (an ingested event keeps its own time, a clock steps back), so that time is read,
// never guessed from the floor's own trace: per slot, a line of stretches of ids, each with its
// earliest trace time (trace-slot-store.ts earliestIn, a range of the primary key), read once for
// every stream (a tick's new ids are one stretch) and dropped once every stream's floor passed it.
// A slot's ids become visible in id order: each writer commits from one spool through one shipper,
// one transaction after the other (storage/shipper.ts; SQLite has one writer), so a stretch read
// holds every trace it will ever hold.
import type { IdStretch } from './trace-slot-store';

interface Stretch extends IdStretch {
  /** Earliest trace time among after < id <= upTo, null when none. */
  at: string | null;
}

/** Stretches a slot keeps at most: past it the oldest two become one (their earlier time: a wider walk, never a miss). */
const MAX_STRETCHES = 64;

export class StreamSlotTimes {
  /** Slot → its stretches, contiguous and in id order. */
  private readonly lines = new Map<number, Stretch[]>();
  /** Per slot, the look under way: two streams' walks of one slot read its new ids once. */
  private readonly pending = new Map<number, Promise<void>>();

  constructor(private readonly read: (stretches: readonly IdStretch[]) => Promise<Array<string | null>>) {}

  /** The earliest trace time among `slot`'s ids in (after, upTo], null when it has none. */
  async earliest(slot: number, after: number, upTo: number): Promise<string | null> {
    if (upTo <= after) return null;
    const prev = this.pending.get(slot) ?? Promise.resolve();
    const run = prev.then(() => this.cover(slot, after, upTo));
    const settled = run.catch(() => undefined);
    this.pending.set(slot, settled);
    try {
      await run;
    } finally {
      if (this.pending.get(slot) === settled) this.pending.delete(slot);
    }
    let min: string | null = null;
    for (const s of this.lines.get(slot) ?? []) if (s.upTo > after && s.after < upTo && s.at !== null && (min === null || s.at < min)) min = s.at;
    return min;
  }

  /** Reads what the line lacks of (after, upTo]: below its start (a resume), above its end (new ids). */
  private async cover(slot: number, after: number, upTo: number): Promise<void> {
    const line = this.lines.get(slot) ?? [];
    const want: IdStretch[] = [];
    if (!line.length) want.push({ after, upTo });
    else {
      if (after < line[0].after) want.push({ after, upTo: line[0].after });
      if (upTo > line[line.length - 1].upTo) want.push({ after: line[line.length - 1].upTo, upTo });
    }
    if (!want.length) return;
    const at = await this.read(want);
    const read = want.map((s, k) => ({ ...s, at: at[k] }));
    if (!line.length) this.lines.set(slot, read);
    else {
      if (after < line[0].after) line.unshift(read.shift()!);
      if (read.length) line.push(read[0]);
    }
    const kept = this.lines.get(slot)!;
    while (kept.length > MAX_STRETCHES) {
      const [a, b] = kept.splice(0, 2);
      kept.unshift({ after: a.after, upTo: b.upTo, at: a.at === null ? b.at : b.at === null ? a.at : a.at < b.at ? a.at : b.at });
    }
  }

  /**
   * Forgets what no stream needs: per slot a port's stream follows, the lowest floor among them
   * (`floors`); other slots entirely.
   */
  prune(floors: ReadonlyMap<number, number>): void {
    for (const [slot, line] of this.lines) {
      // A look under way adds to the line as it was: it stays whole (no stretch missing between).
      if (this.pending.has(slot)) continue;
      const floor = floors.get(slot);
      if (floor === undefined) {
        this.lines.delete(slot);
        continue;
      }
      while (line.length && line[0].upTo <= floor) line.shift();
      if (!line.length) this.lines.delete(slot);
    }
  }

  /** Stretches held, for tests and the bench. */
  get size(): number {
    let n = 0;
    for (const line of this.lines.values()) n += line.length;
    return n;
  }
}
