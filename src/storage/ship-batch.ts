// What one shipping batch carries (shipper.ts), read from the spool under its budget: the claimed
// ranges' rows (leaders first: a trace before its ports), the logged changes inside a range read
// with it, then the other logged changes' current rows by key. Sending them and committing the
// marks is the shipper's; which ship_log entries the batch may forget once PostgreSQL committed
// (`done`) and how far each range was read (`reached`) come from here.
import type { Statement } from 'better-sqlite3';
import { readByKey, readRange, type ShipBudget } from './ship-read';
import { absent } from './ship-sql';
import { leadersFirst, type ShippedTable } from './spool';

export interface ShipLogEntry {
  seq: number;
  tbl: string;
  pk: string;
  ver: number;
}

/** A claimed range of a marked table: (shipped, claim] of its mark. */
export interface ClaimedRange {
  t: ShippedTable;
  shipped: number;
  claim: number;
}

/** One table's part of a batch. `fresh`: a range's rows, new to PostgreSQL unless the range is sent again (see ship-sql.ts copyFresh). */
export interface TableWork {
  t: ShippedTable;
  fresh: unknown[][];
  rows: unknown[][];
  gone: unknown[][];
}

/** The spool as a batch reads it: the shipped tables, each marked table's shipped mark, its statements. */
export interface SpoolSide {
  tables: ReadonlyMap<string, ShippedTable>;
  shippedMark(name: string): number | undefined;
  /** The shipper's prepared statements (fixed texts). */
  stmt(sql: string): Statement;
  /** A statement prepared for this batch only (texts that vary with the keys' count). */
  prepare(sql: string): Statement;
}

export function readBatch(
  spool: SpoolSide,
  entries: readonly ShipLogEntry[],
  ranges: ClaimedRange[],
  budget: ShipBudget,
): { work: Map<string, TableWork>; done: ShipLogEntry[]; reached: Array<{ t: ShippedTable; upTo: number }> } {
  // Entries the batch ships (forgotten after PostgreSQL's COMMIT); the others wait for a later one.
  const done: ShipLogEntry[] = [];
  const byTable = new Map<string, Array<{ e: ShipLogEntry; key: unknown[] }>>();
  for (const e of entries) {
    if (!spool.tables.has(e.tbl)) {
      done.push(e);
      continue;
    }
    let keys = byTable.get(e.tbl);
    if (!keys) byTable.set(e.tbl, (keys = []));
    keys.push({ e, key: JSON.parse(e.pk) as unknown[] });
  }
  const work = new Map<string, TableWork>();
  // How far each range's rows are read (the budget may end inside one: the rest waits, still claimed).
  const reached: Array<{ t: ShippedTable; upTo: number }> = [];
  // A table that follows another (a trace's ports, a flow's edges) is read after it, and its rows
  // of the other's rows in PostgreSQL after this batch go whatever the budget: a cut never sends a
  // trace without its ports (PostgreSQL's retention, taking a trace with its ports, left ports
  // shipped after it pointing at nothing, for good).
  const shippedTo = (name: string) => reached.find((x) => x.t.name === name)?.upTo ?? spool.shippedMark(name);
  for (const r of leadersFirst(ranges)) {
    const logged = byTable.get(r.t.name) ?? [];
    const at = r.t.key.indexOf(r.t.mark!);
    const mark = (k: unknown[]) => k[at] as number;
    const claimed = (k: unknown[]) => mark(k) > r.shipped && mark(k) <= r.claim;
    // Logged rows inside the claimed range go with the part of it read (one copy of a row per
    // statement), or wait for the batch that reads theirs.
    byTable.set(r.t.name, logged.filter((l) => !claimed(l.key)));
    const parent = r.t.follows === undefined ? undefined : shippedTo(r.t.follows);
    const must = parent === undefined ? -Infinity : Math.floor(parent / 2 ** (r.t.markShift ?? 0));
    const { rows, upTo } = readRange(spool.stmt, r.t, r.shipped, r.claim, budget, must);
    if (upTo === r.shipped) continue;
    const inside = logged.filter((l) => claimed(l.key) && mark(l.key) <= upTo);
    done.push(...inside.map((l) => l.e));
    reached.push({ t: r.t, upTo });
    work.set(r.t.name, { t: r.t, fresh: rows, rows: [], gone: absent(r.t, inside.map((l) => l.key), rows) });
  }
  for (const [name, logged] of byTable) {
    if (!logged.length) continue;
    const t = spool.tables.get(name)!;
    const read = readByKey(spool.prepare, t, logged.map((l) => l.key), budget);
    const taken = new Set(read.done.map((k) => JSON.stringify(k)));
    done.push(...logged.filter((l) => taken.has(JSON.stringify(l.key))).map((l) => l.e));
    const w = work.get(name) ?? { t, fresh: [], rows: [], gone: [] };
    w.rows.push(...read.rows);
    w.gone.push(...read.gone);
    work.set(name, w);
  }
  return { work, done, reached };
}
