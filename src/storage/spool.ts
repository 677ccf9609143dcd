// This process's SQLite file as a spool for the central PostgreSQL database (issue 19). Writers
// stay what they are (synchronous, one transaction per chunk, never waiting on the network); the
// spool notes each changed row (triggers → ship_log) and the shipper copies them. Two facts make a
// copied row land where it belongs without renumbering:
// - every writer (agent or api instance) owns an id range, slot · 2^40 up to the next slot, claimed
//   once in PostgreSQL's writer_slot (slot-take.ts) and remembered in the spool's meta, so ids never
//   collide between chassis and a row keeps its id, and the ids that point at it, in PostgreSQL;
// - a row is shipped whole (its current values, by key), so a change shipped twice, or late,
//   leaves the same row.
import type { Database, Statement } from 'better-sqlite3';

/** 2^40 ids per writer; slot ≤ 8191 keeps every id below 2^53 (a JS number). */
export const SLOT_BITS = 40;
export const MAX_SLOT = 8191;
const SLOT_KEY = 'writer_slot';

/**
 * Tables of the spool that are its own business, never shipped. chassis_mark too: as a row it could
 * reach PostgreSQL ahead of the traces it vouches for; the shipper tells it instead (ship-synced.ts).
 */
const LOCAL_TABLES = new Set(['migrations', 'meta', 'sqlite_sequence', 'ship_log', 'ship_mute', 'chassis_mark']);

export interface ShippedTable {
  name: string;
  columns: string[];
  /** Primary key columns, in key order. */
  key: string[];
  /**
   * Shipped by a high-water mark on this key column (indexed: a range of it is one index walk)
   * instead of one ship_log entry a row: see installTriggers.
   */
  mark?: string;
  /** The mark column holds a writer's ids shifted right by this many bits (citation buckets). */
  markShift?: number;
  /**
   * The marked table whose ids this one's mark holds (a trace's ports, a flow's edges): its rows go
   * to PostgreSQL no later than that table's, whatever a batch's byte bound (shipper.ts).
   */
  follows?: string;
}

/**
 * Tables whose rows are shipped by range, besides every table keyed by an id of the writer's own
 * sequence: a trace's port rows, by its id (written with their trace, or later for an older trace
 * of the same path: logged then, as any row at or below the claim); the citation bitmaps, by bucket
 * (trace id >> 5: a bucket's rows change as its 32 traces are written, then only when pruned).
 */
export const MARKED: Record<string, { col: string; shift: number; follows: string }> = {
  trace_port: { col: 'trace_id', shift: 0, follows: 'trace' },
  // A trace's other sessions (a pass several wanted), written with it.
  trace_extra_session: { col: 'trace_id', shift: 0, follows: 'trace' },
  // By the child: the flow just created (its parent is older, often below the claim).
  recirc_edge: { col: 'child_id', shift: 0, follows: 'datapath_flow' },
  // citation-store.ts's BUCKET_SHIFT (storage imports no feature; a unit test holds them equal).
  trace_citation: { col: 'bucket', shift: 5, follows: 'trace' },
};
/** Rows another process ends (an upsert guard, pulled copies): always logged row by row. */
const LOGGED_ONLY = new Set(['trace_session']);

/** Every shipped table with its columns and key, as the spool's schema has them. */
export function shippedTables(db: Database): ShippedTable[] {
  const names = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>)
    .map((r) => r.name)
    .filter((n) => !LOCAL_TABLES.has(n));
  const seqTables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'`).all() as Array<{ name: string }>).map((r) => r.name));
  return names.map((name) => {
    const cols = db.prepare(`SELECT name, pk FROM pragma_table_info(?) ORDER BY cid`).all(name) as Array<{ name: string; pk: number }>;
    const key = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const marked: { col: string; shift: number; follows?: string } | undefined = LOGGED_ONLY.has(name)
      ? undefined
      : MARKED[name] ?? (seqTables.has(name) && key.length === 1 ? { col: key[0], shift: 0 } : undefined);
    const follows = marked?.follows && names.includes(marked.follows) ? { follows: marked.follows } : {};
    return { name, columns: cols.map((c) => c.name), key, ...(marked && key.includes(marked.col) ? { mark: marked.col, markShift: marked.shift, ...follows } : {}) };
  });
}

/** Tables (or their ranges) with the ones another follows first: a follower is read and claimed after what it follows. */
export const leadersFirst = <T extends { t: ShippedTable } | ShippedTable>(xs: T[]): T[] => {
  const of = (x: T): ShippedTable => ('t' in x ? x.t : x);
  return [...xs.filter((x) => !of(x).follows), ...xs.filter((x) => of(x).follows)];
};

/** meta keys of a marked table: everything up to `shipped` is in PostgreSQL; up to `claim`, logged when changed. */
export const markKeys = (table: string) => ({ shipped: `ship_mark:${table}`, claim: `ship_claim:${table}` });

/**
 * The values a slot's rows hold in a mark column, (base, top) exclusive: ids, or ids >> shift (the
 * first bucket holds ids base + 1 … base + 31 and so is inside).
 */
export function slotBounds(slot: number, shift = 0): { base: number; top: number } {
  const base = slot * 2 ** SLOT_BITS;
  const top = (slot + 1) * 2 ** SLOT_BITS;
  return shift ? { base: base / 2 ** shift - 1, top: top / 2 ** shift } : { base, top };
}

/** An SQL identifier quoted (the same in SQLite and PostgreSQL): the one writer of it for the spool and the shippers. */
export const quoteIdent = (id: string): string => `"${id.replace(/"/g, '""')}"`;
const q = quoteIdent;

/**
 * The highest value a marked table holds in its mark column within the slot's own range (the
 * slot's base when none): where a range may be claimed up to, and what the backlog counts to.
 */
export function highestOwn(stmt: (sql: string) => Statement, t: ShippedTable, slot: number): number {
  const { base, top } = slotBounds(slot, t.markShift);
  const r = stmt(`SELECT MAX(${q(t.mark!)}) AS m FROM ${q(t.name)} WHERE ${q(t.mark!)} > ? AND ${q(t.mark!)} < ?`).get(base, top) as { m: number | null };
  return r.m ?? base;
}

/**
 * (Re)creates the triggers that note changed rows in ship_log: on every start, so a migration
 * that added a table or a column is followed. One entry a row: a change to a row already waiting
 * bumps its `ver` (an upsert: one index probe and an in-place update, where DELETE + INSERT cost
 * four b-tree writes a change), and the shipper forgets an entry only if its `ver` is still the one
 * it shipped, so a change made while a batch was on its way is shipped again. Not REPLACE: a
 * trigger's OR-clause gives way to the firing statement's, so an upsert's DO UPDATE (trace_citation's
 * bitmaps) made REPLACE an ABORT; an UPSERT clause is the trigger's own.
 *
 * A marked table (trace, trace_port, path, datapath_flow, …: nearly every row a trace writes) is
 * shipped by range instead: the shipper first claims (mark, claim] in meta through the writer, then
 * reads that range and ships it whole. Its triggers log only a row at or below the claim (changed
 * after it was claimed: the range read may have missed the change) or outside this slot's range; a
 * row above the claim is not logged at all, inserted, updated or deleted: the range that claims it
 * later reads whatever it is then. So the tracer's inserts cost a comparison with a constant (see
 * setClaim), not a ship_log entry to write, read back by key and delete. A muted write (ship_mute) into a marked table above
 * the claim is shipped all the same: only trace_session is written muted, and it is not marked.
 */
export function installTriggers(db: Database, tables: ShippedTable[], slot?: number): void {
  const tx = db.transaction(() => {
    if (slot !== undefined) initMarks(db, tables, slot);
    // A range of a mark that does not lead the key is walked through an index of the spool's own.
    for (const t of tables)
      if (t.mark && slot !== undefined && t.key[0] !== t.mark && !leadsAnIndex(db, t.name, t.mark))
        db.exec(`CREATE INDEX IF NOT EXISTS ${q(`ship_idx_${t.name}_${t.mark}`)} ON ${q(t.name)} (${q(t.mark)})`);
    const claimOf = db.prepare('SELECT value FROM meta WHERE key = ?');
    for (const t of tables) {
      const claim = t.mark && slot !== undefined ? Number((claimOf.get(markKeys(t.name).claim) as { value: string }).value) : undefined;
      createTriggers(db, t, claim === undefined ? undefined : { slot: slot!, claim });
    }
  });
  tx();
}

/**
 * Moves a marked table's claim, in meta and in its triggers, inside the caller's transaction. The
 * claim is written into the triggers as a constant: a lookup of meta for every row written cost
 * 0.02–0.045 ms a trace (bench/api/postgres-spool-writer.ts); the DDL, once a batch, costs every
 * connection one re-prepare of its statements.
 */
export function setClaim(db: Database, t: ShippedTable, slot: number, claim: number): void {
  db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(String(claim), markKeys(t.name).claim);
  createTriggers(db, t, { slot, claim });
}

function createTriggers(db: Database, t: ShippedTable, marked?: { slot: number; claim: number }): void {
  for (const [op, ref] of [['INSERT', 'NEW'], ['UPDATE', 'NEW'], ['DELETE', 'OLD']] as const) {
    const name = q(`ship_${t.name}_${op.toLowerCase()}`);
    db.exec(`DROP TRIGGER IF EXISTS ${name}`);
    const key = `json_array(${t.key.map((k) => `${ref}.${q(k)}`).join(', ')})`;
    let when = 'NOT EXISTS (SELECT 1 FROM ship_mute)';
    if (t.mark && marked) {
      const col = `${ref}.${q(t.mark)}`;
      // The claim first: most rows are above it, and AND stops there.
      when = `(${col} <= ${Math.trunc(marked.claim)} OR ${col} >= ${slotBounds(marked.slot, t.markShift).top}) AND ${when}`;
    }
    db.exec(
      `CREATE TRIGGER ${name} AFTER ${op} ON ${q(t.name)} WHEN ${when} BEGIN ` +
        `INSERT INTO ship_log (tbl, pk) VALUES ('${t.name}', ${key}) ON CONFLICT (tbl, pk) DO UPDATE SET ver = ver + 1; END`,
    );
  }
}

function leadsAnIndex(db: Database, table: string, col: string): boolean {
  return !!db.prepare(`SELECT 1 FROM pragma_index_list(?) l, pragma_index_info(l.name) i WHERE i.seqno = 0 AND i.name = ?`).get(table, col);
}

/**
 * A marked table without marks (a new spool, or one that logged every row before marks existed)
 * starts at its highest own row: every row up to it is in PostgreSQL or waiting in ship_log.
 */
function initMarks(db: Database, tables: ShippedTable[], slot: number): void {
  const has = db.prepare(`SELECT value FROM meta WHERE key = ?`);
  const put = db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?)`);
  for (const t of tables) {
    if (!t.mark) continue;
    const k = markKeys(t.name);
    const shipped = has.get(k.shipped) as { value: string } | undefined;
    if (shipped && has.get(k.claim)) continue;
    // A claim lost on its own: what is above the shipped mark was never shipped by range.
    const mark = shipped ? Number(shipped.value) : highestOwn((sql) => db.prepare(sql), t, slot);
    db.prepare(`DELETE FROM meta WHERE key IN (?, ?)`).run(k.shipped, k.claim);
    put.run(k.shipped, String(mark));
    put.run(k.claim, String(mark));
  }
}

/** Drops the triggers: a spool opened as a plain SQLite store again records nothing more. */
export function dropTriggers(db: Database): void {
  for (const r of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'ship\\_%' ESCAPE '\\'`).all() as Array<{ name: string }>)
    db.exec(`DROP TRIGGER IF EXISTS ${q(r.name)}`);
}

/** The slot this spool remembers writing under, if it has one. */
export function knownSlot(db: Database): number | undefined {
  if (!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get()) return undefined;
  const known = db.prepare(`SELECT value FROM meta WHERE key = ?`).get(SLOT_KEY) as { value: string } | undefined;
  return known ? Number(known.value) : undefined;
}

/** The slot just claimed (slot-take.ts), remembered for every later start. */
export function rememberSlot(db: Database, slot: number): void {
  db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?)`).run(SLOT_KEY, String(slot));
}

/**
 * Sets the table's id sequence to the highest id of the slot's own range (others' rows, e.g. pulled
 * sessions, do not count), never below where the sequence already was in that range: an id once
 * given is not given again. Its newest rows may be gone (pruned locally while PostgreSQL keeps them,
 * LIVETRACE_CENTRAL_RETENTION_*): lowered to the highest row left, the next rows took ids PostgreSQL
 * still held, and the shipper overwrote those rows. `given`: the slot's highest given as read before
 * an explicit id of another slot moved the sequence out of the range (the range's own sequence is
 * then lost: a session pull, ship-sessions.ts), never gone below either.
 */
export function ownSequence(stmt: (sql: string) => Statement, table: string, key: string, slot: number, given = 0): void {
  const seq = Math.max(highestGiven(stmt, table, key, slot), given);
  if (stmt(`UPDATE sqlite_sequence SET seq = ? WHERE name = ?`).run(seq, table).changes === 0)
    stmt(`INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`).run(table, seq);
}

/**
 * The highest id of the slot's range `table` has given: its own rows' highest, or its sequence
 * where that lies in the range (rows given since deleted); the slot's base when none.
 */
export function highestGiven(stmt: (sql: string) => Statement, table: string, key: string, slot: number): number {
  const base = slot * 2 ** SLOT_BITS;
  const top = base + 2 ** SLOT_BITS;
  const r = stmt(`SELECT MAX(${q(key)}) AS m FROM ${q(table)} WHERE ${q(key)} >= ? AND ${q(key)} < ?`).get(base, top) as { m: number | null };
  const now = stmt(`SELECT seq FROM sqlite_sequence WHERE name = ?`).get(table) as { seq: number } | undefined;
  return Math.max(r.m ?? base, now && now.seq >= base && now.seq < top ? now.seq : base);
}

/**
 * The id for a new row of `table` in this spool's writer slot, or null when the file has no slot (a
 * plain SQLite store: its AUTOINCREMENT decides). SQLite gives an AUTOINCREMENT row
 * max(sqlite_sequence, MAX(id)) + 1, so once a row of a higher slot is in the table (a session
 * copied from PostgreSQL, pullSessions) that is the other writer's next id, whatever ownSequence set:
 * both writers' rows then share an id, and PostgreSQL keeps one of them. A table holding others' rows
 * inserts with this id instead.
 */
export function nextOwnId(stmt: (sql: string) => Statement, table: string, key = 'id'): number | null {
  const slot = stmt(`SELECT value FROM meta WHERE key = ?`).get(SLOT_KEY) as { value: string } | undefined;
  if (!slot) return null;
  // The sequence as well, where it is the slot's own: an id once given is not given again.
  return highestGiven(stmt, table, key, Number(slot.value)) + 1;
}

/**
 * Starts every id sequence of the spool at the slot's own highest id (its first, in a new spool).
 * Rows from other slots are others' (sessions copied from PostgreSQL); rows below the first slot
 * are a SQLite file used as a store on its own: refused, their ids would land on others' rows.
 */
export function enterSlot(db: Database, tables: ShippedTable[], slot: number): void {
  const seqTables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'`).all() as Array<{ name: string }>).map((r) => r.name));
  db.transaction(() => {
    for (const t of tables) {
      if (!seqTables.has(t.name)) continue;
      const id = q(t.key[0]);
      const plain = db.prepare(`SELECT COUNT(*) AS n FROM ${q(t.name)} WHERE ${id} < ?`).get(2 ** SLOT_BITS) as { n: number };
      if (plain.n > 0)
        throw new Error(
          `the spool's table ${t.name} has ${plain.n} rows outside any writer's id range (ids below 2^${SLOT_BITS}, slot ${slot} here): ` +
            'a SQLite file used as a store on its own cannot become a spool; give LIVETRACE_SPOOL a new file',
        );
      ownSequence((sql) => db.prepare(sql), t.name, t.key[0], slot);
    }
  })();
}
