// What an agent's spool holds against what PostgreSQL holds (issue 19's faults): every row the
// spool accepted must be in PostgreSQL under the same key with the same values. The spool is
// opened read-only, as an operator would look at it; PostgreSQL is read with the service's own
// type parsers (int8 as a number, bytea as a Buffer), so a value compares as SQLite gives it.
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { sqliteLikeTypes } from '../../src/storage/postgres';
import { shippedTables } from '../../src/storage/spool';

export interface TableCheck {
  table: string;
  /** Rows in the spool. */
  spool: number;
  /** Of those, in PostgreSQL with the same values. */
  same: number;
  /** Rows of the table in PostgreSQL (every writer's). */
  postgres: number;
}

export interface SpoolCheck {
  tables: TableCheck[];
  /** Changes the spool still holds for PostgreSQL (ship_log). */
  waiting: number;
  /** `table key: what differs`, for every spool row not found or not equal; empty when all arrived. */
  problems: string[];
}

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
const show = (v: unknown) => (Buffer.isBuffer(v) ? `x'${v.toString('hex')}'` : JSON.stringify(v));

export function openSpool(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true });
}

export async function compareSpoolWithPostgres(spoolFile: string, url: string): Promise<SpoolCheck> {
  const spool = openSpool(spoolFile);
  const pg = new Client({ connectionString: url, types: sqliteLikeTypes });
  await pg.connect();
  try {
    const tables: TableCheck[] = [];
    const problems: string[] = [];
    for (const t of shippedTables(spool)) {
      const local = spool.prepare(`SELECT * FROM ${q(t.name)}`).all() as Record<string, unknown>[];
      const central = (await pg.query(`SELECT * FROM ${q(t.name)}`)).rows as Record<string, unknown>[];
      const key = (r: Record<string, unknown>) => JSON.stringify(t.key.map((k) => (Buffer.isBuffer(r[k]) ? show(r[k]) : r[k])));
      const byKey = new Map(central.map((r) => [key(r), r]));
      let same = 0;
      for (const row of local) {
        const there = byKey.get(key(row));
        if (!there) {
          problems.push(`${t.name} ${key(row)}: not in PostgreSQL`);
          continue;
        }
        const diff = t.columns.filter((c) => show(row[c]) !== show(there[c]));
        if (diff.length) problems.push(`${t.name} ${key(row)}: ${diff.map((c) => `${c} spool ${show(row[c])} ≠ postgres ${show(there[c])}`).join('; ')}`);
        else same++;
      }
      tables.push({ table: t.name, spool: local.length, same, postgres: central.length });
    }
    const waiting = (spool.prepare('SELECT COUNT(*) AS n FROM ship_log').get() as { n: number }).n;
    return { tables, waiting, problems };
  } finally {
    spool.close();
    await pg.end();
  }
}

/** `table spool/same/postgres` lines for the test's log. */
export function describeCheck(c: SpoolCheck): string {
  return c.tables
    .filter((t) => t.spool || t.postgres)
    .map((t) => `${t.table.padEnd(28)} spool ${String(t.spool).padStart(6)}  same in PostgreSQL ${String(t.same).padStart(6)}  PostgreSQL ${String(t.postgres).padStart(6)}`)
    .join('\n');
}

/** The value of one sample of a Prometheus text exposition (0 when absent). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ? m[2].split(',') : [];
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
}

/** Every labelled sample of a metric, by the value of `label`. */
export function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{(?:.*,)?${label}="([^"]*)"(?:,.*)?\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) out[m[1]] = Number(m[2]);
  return out;
}
