// The spool side of a shipping batch (shipper.ts): its rows read under a byte budget as well as the
// row count (LIVETRACE_SHIP_BATCH_BYTES). A batch holds its rows several times over (read, encoded
// for COPY or as array literals, sent), and after a long outage 5,000 rows of ingested events (up to
// 2 MB of text each) were ~10 GB of one process's memory. Rows are read one at a time and the read
// stops where the budget ends; the first row of a batch is always taken, so a row larger than the
// budget still ships, alone.
import type { Statement } from 'better-sqlite3';
import { quoteIdent, type ShippedTable } from './spool';
import { absent } from './ship-sql';

const q = quoteIdent;

/**
 * A row's weight against the budget: its text by characters (its length, known without a scan;
 * PostgreSQL's UTF-8 may take up to 3 bytes each), a blob by bytes, anything else 8.
 */
export function rowBytes(row: unknown[]): number {
  let n = 0;
  for (const v of row) n += typeof v === 'string' || Buffer.isBuffer(v) ? v.length : 8;
  return n;
}

/** What one batch may still read. Once a read stopped short, every later read of the batch takes nothing (cut). */
export class ShipBudget {
  spent = 0;
  rows = 0;
  cut = false;

  constructor(private readonly bytes: number) {}

  /** Takes the row if it fits (or is the batch's first); `must`: taken whatever the budget (the rest of a mark value). */
  take(row: unknown[], must = false): boolean {
    const n = rowBytes(row);
    if (!must && (this.cut || (this.rows > 0 && this.spent + n > this.bytes))) {
      this.cut = true;
      return false;
    }
    this.spent += n;
    this.rows++;
    return true;
  }
}

/**
 * A claimed range's rows, (from, to] of the mark, in mark order, as far as the budget goes: `upTo`
 * is the mark they reach (`from` when none was taken, `to` when all were). The rows of one mark value
 * (a trace's ports, a citation bucket) are never split, so a shipped mark is always whole; those up
 * to `must` are taken whatever the budget (the rows of a table it follows that go in the batch).
 */
export function readRange(
  stmt: (sql: string) => Statement,
  t: ShippedTable,
  from: number,
  to: number,
  budget: ShipBudget,
  must = -Infinity,
): { rows: unknown[][]; upTo: number } {
  const at = t.columns.indexOf(t.mark!);
  const rows: unknown[][] = [];
  let last: number | undefined;
  const sql = `SELECT * FROM ${q(t.name)} WHERE ${q(t.mark!)} > ? AND ${q(t.mark!)} <= ? ORDER BY ${q(t.mark!)}`;
  for (const row of stmt(sql).raw(true).iterate(from, to) as IterableIterator<unknown[]>) {
    const mark = row[at] as number;
    if (!budget.take(row, mark === last || mark <= must)) return { rows, upTo: last ?? from };
    rows.push(row);
    last = mark;
  }
  return { rows, upTo: to };
}

/**
 * The current values of the rows of these keys (a key without a row was deleted: `gone`), as far as
 * the budget goes: `done` are the keys read, whose ship_log entries the batch may forget; the others
 * wait for the next batch.
 */
export function readByKey(
  stmt: (sql: string) => Statement,
  t: ShippedTable,
  keys: unknown[][],
  budget: ShipBudget,
): { rows: unknown[][]; gone: unknown[][]; done: unknown[][] } {
  const out = { rows: [] as unknown[][], gone: [] as unknown[][], done: [] as unknown[][] };
  const at = t.key.map((k) => t.columns.indexOf(k));
  const per = Math.max(1, Math.floor(30_000 / t.key.length));
  for (let i = 0; i < keys.length; i += per) {
    const part = keys.slice(i, i + per);
    const sql =
      t.key.length === 1
        ? `SELECT * FROM ${q(t.name)} WHERE ${q(t.key[0])} IN (${part.map(() => '?').join(',')})`
        : `SELECT * FROM ${q(t.name)} WHERE (${t.key.map(q).join(', ')}) IN (VALUES ${part.map(() => `(${t.key.map(() => '?').join(', ')})`).join(', ')})`;
    const rows: unknown[][] = [];
    let short = false;
    for (const row of stmt(sql).raw(true).iterate(...part.flat()) as IterableIterator<unknown[]>) {
      if (!budget.take(row)) {
        short = true;
        break;
      }
      rows.push(row);
    }
    out.rows.push(...rows);
    if (!short) {
      out.done.push(...part);
      out.gone.push(...absent(t, part, rows));
      continue;
    }
    // Stopped inside this part: only the keys whose rows were read are done (a key not met may be
    // a deleted row or one not read yet).
    const read = new Set(rows.map((r) => JSON.stringify(at.map((c) => r[c]))));
    out.done.push(...part.filter((k) => read.has(JSON.stringify(k))));
    break;
  }
  return out;
}
