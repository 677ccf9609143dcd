// The next range each marked table ships (shipper.ts): how far, in a writer transaction, a table's
// claim moves past its shipped mark. A table that follows another (a trace's ports) is claimed with
// it; a citation bucket once it is whole. The shipper keeps the marks it committed; this only decides
// and writes the new claims (spool.ts setClaim: the triggers log a row changed at or below its claim).
import type { Database } from 'better-sqlite3';
import { highestOwn, leadersFirst, markKeys, setClaim, type ShippedTable } from './spool';
import type { WriteContext } from './writer';

/**
 * Inside a writer transaction: claims, in each marked table with nothing claimed beyond its
 * shipped mark, up to `batch` ids more (as far as its rows go). Committed before the range is
 * read, so a row of it changed after the read is logged (its trigger sees the claim).
 */
export function claimRanges(
  tx: WriteContext,
  d: {
    marked: ShippedTable[];
    /** This writer's slot: its own range of each table. */
    slot: number;
    /** Changes per PostgreSQL transaction (ShipperOptions.batch). */
    batch: number;
    /** The writer's connection, whose triggers take the claim. */
    db: Database;
  },
): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  // A table that follows another (a trace's ports) after it, claimed at least as far as it: its
  // shipped mark may be behind the other's (the last traces had no ports), and a span from there
  // left the newest traces' ports to the next range, a batch after their traces.
  for (const t of leadersFirst(d.marked)) {
    const k = markKeys(t.name);
    const shipped = Number((tx.stmt('SELECT value FROM meta WHERE key = ?').get(k.shipped) as { value: string }).value);
    const claim = Number((tx.stmt('SELECT value FROM meta WHERE key = ?').get(k.claim) as { value: string }).value);
    if (claim > shipped) continue;
    const high = highestOwn((sql) => tx.stmt(sql), t, d.slot);
    const span = Math.max(1, Math.floor(d.batch / 2 ** (t.markShift ?? 0)));
    // A citation bucket fills as its 32 traces come: claimed once the next one has begun, so it
    // is read once, whole; the last one too when nothing else is left to claim (a quiet spool).
    let next = Math.min(t.markShift && high - 1 > shipped ? high - 1 : high, shipped + span);
    const led = t.follows && !t.markShift ? (tx.stmt('SELECT value FROM meta WHERE key = ?').get(markKeys(t.follows).claim) as { value: string } | undefined) : undefined;
    if (led) next = Math.max(next, Math.min(high, Number(led.value)));
    if (next <= claim) continue;
    setClaim(d.db, t, d.slot, next);
    out.push([t.name, next]);
  }
  return out;
}
