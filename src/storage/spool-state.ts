// What a spool knows of PostgreSQL's copy, for pruning the spool locally (retention/spool-retention-store.ts)
// while PostgreSQL keeps the rows, and for counting its backlog (ship-backlog.ts): a row is in PostgreSQL as it is now when it is at or below its
// table's shipped mark (the shipper advances it only after PostgreSQL's COMMIT) and no ship_log entry
// waits for it (a change made after it was claimed). Anything else may exist only in the spool.
import { markKeys } from './spool';
import type { WriteContext } from './writer';

/** The shipped mark of each marked table (absent: the table has no marks, nothing is known shipped), as `tx`'s connection sees meta. */
export function shippedMarks(tx: Pick<WriteContext, 'stmt'>, tables: readonly string[]): Map<string, number> {
  const get = tx.stmt('SELECT value FROM meta WHERE key = ?');
  const out = new Map<string, number>();
  for (const t of tables) {
    const r = get.get(markKeys(t).shipped) as { value: string } | undefined;
    if (r) out.set(t, Number(r.value));
  }
  return out;
}

/**
 * The keys waiting in ship_log for these tables, parsed (each a JSON array, the table's key in key
 * order), or null when more than `max` wait: PostgreSQL is behind or away, and the caller leaves
 * the spool alone rather than read a backlog of millions each batch.
 */
export function pendingKeys(tx: WriteContext, tables: readonly string[], max: number): Map<string, unknown[][]> | null {
  const out = new Map<string, unknown[][]>(tables.map((t) => [t, []]));
  const n = tx.stmt(`SELECT COUNT(*) AS n FROM ship_log WHERE tbl IN (SELECT value FROM json_each(?))`).get(JSON.stringify(tables)) as { n: number };
  if (n.n > max) return null;
  if (!n.n) return out;
  for (const r of tx.stmt(`SELECT tbl, pk FROM ship_log WHERE tbl IN (SELECT value FROM json_each(?))`).all(JSON.stringify(tables)) as Array<{ tbl: string; pk: string }>)
    out.get(r.tbl)!.push(JSON.parse(r.pk) as unknown[]);
  return out;
}

/** The values of column `col` among a table's waiting keys (the key as ship_log holds it: the primary key in key order). */
export function waitingValues(tx: WriteContext, pending: Map<string, unknown[][]>, table: string, col: string): Set<number> {
  const key = (tx.stmt('SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk').all(table) as Array<{ name: string }>).map((r) => r.name);
  const at = key.indexOf(col);
  if (at < 0) throw new Error(`${col} is not in ${table}'s primary key`);
  return new Set((pending.get(table) ?? []).map((k) => Number(k[at])));
}

/**
 * Runs `fn` with the spool's triggers silenced (ship_mute): its deletes stay local, PostgreSQL keeps
 * the rows. Inside one writer job, so no other job's writes fall under the mute.
 */
export function muted<T>(tx: WriteContext, fn: () => T): T {
  tx.stmt('INSERT OR IGNORE INTO ship_mute ("on") VALUES (1)').run();
  try {
    return fn();
  } finally {
    tx.stmt('DELETE FROM ship_mute').run();
  }
}
