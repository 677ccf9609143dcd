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

  /** The lifetimes this source's ukey_created / ukey_updated events made or continued. */
  lifetimesOf(tx: WriteContext, source: string): number[] {
    return (
      tx.stmt(`SELECT ref_id FROM ingest_event WHERE source = ? AND type IN ('ukey_created', 'ukey_updated') AND ref_id IS NOT NULL`).all(source) as Array<{ ref_id: number }>
    ).map((r) => r.ref_id);
  }
}
