// chassis_mark (migration ChassisMark): per chassis, the time through which its agent has stored
// everything it traced (collectors/traced-mark.ts says exactly what that covers). Written by the
// agent: on a SQLite store directly, once the traces it vouches for are committed; with PostgreSQL by
// its shipper, once they have shipped (storage/ship-synced.ts hands this store the statement's
// sender). Read by the cross-chassis path (provisional.ts) through PathStore's reader.
import type { SqlReader } from '../storage/sql';
import type { WriteContext } from '../storage/writer';

/** A chassis's mark: its agent's own clock, ISO text (compared with the first_seen it wrote). */
export interface ChassisMark {
  chassis: string;
  tracedThrough: string;
}

/** Never backwards: a mark told late (a slow write, an older spool's word) does not undo a newer one. */
export function writeMark(tx: WriteContext, m: ChassisMark, now: string): void {
  tx.stmt(
    `INSERT INTO chassis_mark (chassis, traced_through, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (chassis) DO UPDATE SET traced_through = max(chassis_mark.traced_through, excluded.traced_through), updated_at = excluded.updated_at`,
  ).run(m.chassis, m.tracedThrough, now);
}

/** The same on PostgreSQL, through the shipper's connection (`send`, its parameters $1…). */
export async function tellCentralMark(send: (text: string, values: unknown[]) => Promise<unknown>, m: ChassisMark, now: string): Promise<void> {
  await send(
    `INSERT INTO chassis_mark (chassis, traced_through, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (chassis) DO UPDATE SET traced_through = GREATEST(chassis_mark.traced_through, EXCLUDED.traced_through), updated_at = EXCLUDED.updated_at`,
    [m.chassis, m.tracedThrough, now],
  );
}

/** Whether a chassis other than `chassis` told a mark in this store: the file is shared by agents. */
export async function otherChassisMarked(query: SqlReader, chassis: string): Promise<boolean> {
  return (await query.get('SELECT 1 AS found FROM chassis_mark WHERE chassis <> ? LIMIT 1', chassis)) !== undefined;
}
