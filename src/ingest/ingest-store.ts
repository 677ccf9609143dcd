// The one way into ingest_event, the ledger of accepted events: one row per (source, event id),
// written first with INSERT OR IGNORE so that an event sent twice is stored once, and pointing at
// the row the event made (upcall, lifetime or trace). Runs inside the caller's writer job.
import { Injectable } from '@nestjs/common';
import type { WriteContext } from '../storage/writer';

export interface LedgerEntry {
  source: string;
  eventId: string;
  type: string;
  time: string;
  receivedAt: string;
  chassis: string;
  /** The UFID the event names, if any. */
  ufid: string | null;
  /** The event as received (JSON). */
  body: string;
}

@Injectable()
export class IngestStore {
  /** The entry's row id, or null when (source, event id) was already stored. */
  record(tx: WriteContext, e: LedgerEntry): number | null {
    const r = tx
      .stmt('INSERT OR IGNORE INTO ingest_event (source, event_id, type, time, received_at, chassis, ufid, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(e.source, e.eventId, e.type, e.time, e.receivedAt, e.chassis, e.ufid, e.body);
    return r.changes === 0 ? null : Number(r.lastInsertRowid);
  }

  /** The row the event made. */
  setRef(tx: WriteContext, entryId: number, ref: number): void {
    tx.stmt('UPDATE ingest_event SET ref_id = ? WHERE id = ?').run(ref, entryId);
  }

  /**
   * The removal events (ukey_removed, ukey_revalidated: the caller tells which remove) of this UFID
   * on this chassis dated in [from, until), oldest first, from any producer, with the lifetime each
   * was applied to (null: none had begun by then, or it had ended). Reads idx_ingest_event_ufid.
   */
  removalsIn(tx: WriteContext, chassis: string, ufid: string, from: string, until: string | null): Array<{ id: number; time: string; refId: number | null; body: string }> {
    // '\uffff' sorts after every RFC 3339 time: no upper bound.
    return tx
      .stmt(
        `SELECT id, time, ref_id AS refId, body FROM ingest_event
          WHERE ufid = ? AND ufid IS NOT NULL AND type IN ('ukey_removed', 'ukey_revalidated') AND time >= ? AND time < ? AND chassis = ?
          ORDER BY time, id`,
      )
      .all(ufid, from, until ?? '\uffff', chassis) as Array<{ id: number; time: string; refId: number | null; body: string }>;
  }

  /** The upcall row an upcall event of this source made, if stored. */
  upcallRef(tx: WriteContext, source: string, eventId: string): number | null {
    const r = tx.stmt(`SELECT ref_id FROM ingest_event WHERE source = ? AND event_id = ? AND type = 'upcall'`).get(source, eventId) as { ref_id: number | null } | undefined;
    return r?.ref_id ?? null;
  }

  /**
   * Retention (inside its writer job): looks at up to `batch` entries above `after` in id order and
   * deletes those heard before `before` (received_at, the agent's clock, as every table's age: by the
   * producer's time too, from one days ahead an entry heard weeks ago stayed) or with an id at or below `maxId`,
   * except what the ledger still answers for: for each lifetime still open, each producer's first
   * ukey_created / ukey_updated of it (lifetimesOf finds a producer's open lifetimes through one, so
   * its restart closes them; the rest of a flow's stream, installed for weeks, goes by age), and
   * whatever was heard from `quietBefore` on (a batch resent after a timeout is still a duplicate; an
   * early removal, removalsIn, still waits for its install). An early removal older than that can only
   * end an install dated before it, long gone: such a late install is closed as idle by its sweep
   * instead. `firsts`: the (source, lifetime) pairs whose first entry this round has already passed
   * (one Set for the round's batches, which walk ids from the start: the first met is the one kept;
   * without it each batch keeps its own first, more than needed). `cursor`: the last id looked at, or
   * null once no entry further on can go (ids grow with received_at: one writer). `may`: whether an
   * entry over the limits may go (the spool's: PostgreSQL holds it as it is).
   */
  pruneOldest(
    tx: WriteContext,
    o: { after: number; before: string | null; maxId: number | null; quietBefore: string; batch: number; may?: (id: number) => boolean; firsts?: Set<string> },
  ): { cursor: number | null; deleted: number } {
    const rows = tx
      .stmt(
        `SELECT e.id, e.received_at AS receivedAt, e.source, e.ref_id AS ref, f.id IS NOT NULL AS open FROM ingest_event e
           LEFT JOIN datapath_flow f ON f.id = e.ref_id AND f.removed_at IS NULL AND e.type IN ('ukey_created', 'ukey_updated')
          WHERE e.id > ? ORDER BY e.id LIMIT ?`,
      )
      .all(o.after, o.batch) as Array<{ id: number; receivedAt: string; source: string; ref: number; open: number }>;
    const del = tx.stmt('DELETE FROM ingest_event WHERE id = ?');
    const firsts = o.firsts ?? new Set<string>();
    let deleted = 0;
    for (const r of rows) {
      if (r.open) {
        const pair = `${r.ref} ${r.source}`;
        if (!firsts.has(pair)) {
          firsts.add(pair);
          continue;
        }
      }
      if (r.receivedAt >= o.quietBefore) continue;
      const old = o.before !== null && r.receivedAt < o.before;
      if ((old || (o.maxId !== null && r.id <= o.maxId)) && (o.may?.(r.id) ?? true)) deleted += del.run(r.id).changes;
    }
    const beyond = (r: (typeof rows)[number]) => (o.before === null || r.receivedAt >= o.before) && (o.maxId === null || r.id > o.maxId);
    return { cursor: !rows.length || rows.every(beyond) ? null : rows[rows.length - 1].id, deleted };
  }

  /** The id of the newest entry beyond the `keep` newest (null: no more than `keep`). */
  idBeyondNewest(tx: WriteContext, keep: number): number | null {
    return (tx.stmt('SELECT id FROM ingest_event ORDER BY id DESC LIMIT 1 OFFSET ?').get(keep) as { id: number } | undefined)?.id ?? null;
  }

  /** The lifetimes this source's ukey_created / ukey_updated events made or continued. */
  lifetimesOf(tx: WriteContext, source: string): number[] {
    return (
      tx.stmt(`SELECT ref_id FROM ingest_event WHERE source = ? AND type IN ('ukey_created', 'ukey_updated') AND ref_id IS NOT NULL`).all(source) as Array<{ ref_id: number }>
    ).map((r) => r.ref_id);
  }
}
