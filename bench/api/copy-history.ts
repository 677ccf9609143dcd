// A SQLite history into a migrated PostgreSQL database, for benches that compare the two stores on
// the same rows (pg-service-time, list-order, bench/stream/port-walk): by column name (the columns
// both have), 5,000 rows a statement (unnest of one array per column).
import Database from 'better-sqlite3';
import type { Pool } from 'pg';

/** The tables PostgreSQL keeps for itself (its migrations, writer slots), not the history. */
const OWN = new Set(['migrations', 'meta', 'writer_slot']);
const BATCH = 5000;

/** Rows copied per table. */
export async function copyHistory(file: string, pool: Pool): Promise<Record<string, number>> {
  const db = new Database(file, { readonly: true });
  const cols = (await pool.query(`SELECT table_name AS t, column_name AS c, data_type AS ty FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`)).rows as Array<{ t: string; c: string; ty: string }>;
  const tables = new Map<string, Array<{ c: string; ty: string }>>();
  for (const r of cols) if (!OWN.has(r.t)) tables.set(r.t, [...(tables.get(r.t) ?? []), r]);
  const counts: Record<string, number> = {};
  try {
    for (const [t, pgCols] of tables) {
      const names = new Set((db.prepare(`SELECT name FROM pragma_table_info(?)`).all(t) as Array<{ name: string }>).map((h) => h.name));
      const use = pgCols.filter((c) => names.has(c.c));
      if (!use.length) continue;
      const list = use.map((c) => `"${c.c}"`).join(', ');
      const insert = `INSERT INTO "${t}" (${list}) SELECT * FROM unnest(${use.map((c, i) => `$${i + 1}::${['bigint', 'integer', 'bytea'].includes(c.ty) ? c.ty : 'text'}[]`).join(', ')})`;
      let batch: unknown[][] = use.map(() => []);
      let n = 0;
      for (const row of db.prepare(`SELECT ${list} FROM "${t}"`).raw(true).iterate() as IterableIterator<unknown[]>) {
        row.forEach((v, i) => batch[i].push(v));
        if (++n % BATCH === 0) (await pool.query(insert, batch), (batch = use.map(() => [])));
      }
      if (batch[0].length) await pool.query(insert, batch);
      counts[t] = n;
    }
  } finally {
    db.close();
  }
  return counts;
}
