// Whether the writer slot a spool remembers is still its own in PostgreSQL. A slot is claimed once
// (slot-take.ts writerSlot) and remembered in the spool's meta; a spool restored from a backup, or two
// copies of one spool, then start under one slot, and their rows (same ids) overwrite each other's
// in PostgreSQL. Two facts tell it:
// - the claim's owner: writer_slot.writer names the spool that last started on the slot. Each start
//   that reaches PostgreSQL gives it a new name, in PostgreSQL and in the spool (the spool first, as
//   `writer_id_next`, so a crash between the two leaves a name both sides know). A copy started
//   since has renamed the claim: this spool's name is no longer there.
// - the ids: PostgreSQL holds no row of the slot above what the spool has given (sqlite_sequence
//   never goes back: spool.ts ownSequence). A row above it was written by a newer state of this
//   spool (a backup restored) or by a copy that went on writing.
// Another owner refuses: re-claiming a new slot would not help, since the spool's rows keep the old
// slot's ids (the lifetimes it continues, its sessions) and would go on overwriting the other copy's
// rows. Ids past the spool's under its own name are a spool that lost rows it had shipped: a host
// crash (WAL, synchronous = NORMAL: the commits since the last checkpoint), or a backup taken since
// its last start. The claim says no other copy runs, so its ids move past PostgreSQL's and it starts:
// refusing stopped an agent's tracing after every power loss, for rows PostgreSQL holds anyway.
// Started while PostgreSQL was away, such a spool has already written under ids PostgreSQL holds:
// refused (checkClaim).
import { Logger } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { inTransaction, PG_NOW, SILENT_MS, withClient } from './pg-client';
import { nextOwnId, shippedTables, SLOT_BITS } from './spool';

const ID_KEY = 'writer_id';
const NEXT_KEY = 'writer_id_next';
const log = new Logger('Storage');

const REMEDY =
  'two spools writing one slot overwrite each other\'s rows in PostgreSQL. Start this process on a new LIVETRACE_SPOOL ' +
  '(it claims a new slot; what only this copy holds is not shipped), or keep only the spool that went on (writer_slot in PostgreSQL names it)';

/**
 * What writer_slot.writer of a slot PostgreSQL's retention gave back starts with (the old name follows):
 * its rules, snapshots and OVN objects deleted (retention/central-dead-slot-store.ts), its spool, back,
 * would ship traces citing them. No spool has such a name: refused, and told why.
 */
export const GIVEN_BACK = 'given back: ';

/** Refuses a spool whose slot PostgreSQL's retention gave back (`owner`: writer_slot.writer). */
function refuseGivenBack(slot: number, owner: string | undefined): void {
  if (!owner?.startsWith(GIVEN_BACK)) return;
  throw new Error(
    `writer slot ${slot} was given back: silent for LIVETRACE_SLOT_REUSE_DAYS, PostgreSQL's retention deleted the OpenFlow rules, logical flows ` +
      `and OVN objects this spool's traces cite (its next traces would cite rows PostgreSQL no longer has); start this process on a new LIVETRACE_SPOOL (it claims a slot)`,
  );
}

/**
 * The name this spool's claim has in writer_slot (and the one it is being renamed to), if it knows
 * one: `stmt` prepares on the spool (a Database's prepare, or a cache of them).
 */
export function ownNames(stmt: (sql: string) => Statement): string[] {
  const get = stmt('SELECT value FROM meta WHERE key = ?');
  return [ID_KEY, NEXT_KEY].map((k) => (get.get(k) as { value: string } | undefined)?.value).filter((v): v is string => v !== undefined);
}

const setMeta = (db: Database, key: string, value: string): void =>
  void db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);

/**
 * What the spool's connection committed, on disk before PostgreSQL is told: the spool runs WAL
 * with synchronous = NORMAL (data-source.options.ts), whose commits a host crash (power loss, a
 * kernel panic, a VM reset) may take back until the next checkpoint, and a claim renamed in
 * PostgreSQL under a name the spool lost refuses the agent at its next start as a copy. A
 * checkpoint syncs the WAL, then the main file: once a start.
 */
function onDisk(db: Database): void {
  db.pragma('wal_checkpoint(FULL)');
}

/** The next id `table` gives is past `id` (an AUTOINCREMENT's sqlite_sequence; never lowered). */
function movePast(db: Database, table: string, id: number): void {
  if (db.prepare('UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?').run(id, table).changes === 0)
    db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table, id);
}

/** A claim just made (slot-take.ts writerSlot) is this spool's under `writer`. */
export function rememberClaim(db: Database, writer: string): void {
  setMeta(db, ID_KEY, writer);
}

/**
 * The highest id of its slot each shipped table with a sequence has given, by table: what
 * PostgreSQL may hold of the slot. Taken at the start, before anything is written: a start while
 * PostgreSQL is away is checked once it answers, and the rows written meanwhile (under ids PostgreSQL
 * may hold) move the sequences past PostgreSQL's rows.
 */
export function givenIds(db: Database): Map<string, { key: string; given: number }> {
  const seq = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'`).all() as Array<{ name: string }>).map((r) => r.name));
  const out = new Map<string, { key: string; given: number }>();
  for (const t of shippedTables(db))
    if (seq.has(t.name) && t.key.length === 1) out.set(t.name, { key: t.key[0], given: nextOwnId((sql) => db.prepare(sql), t.name, t.key[0])! - 1 });
  return out;
}

/**
 * Throws when writer_slot names another spool, or PostgreSQL holds ids of the slot the spool had not
 * given at its start (`atStart`); with `advance` (a start before any write, the claim named as this
 * spool's), such ids are put there by table instead (PostgreSQL's highest), for the sequences to move past.
 */
async function check(db: Database, c: PoolClient, slot: number, owner: string | undefined, atStart = givenIds(db), advance?: Map<string, number>): Promise<void> {
  const ours = ownNames((sql) => db.prepare(sql));
  refuseGivenBack(slot, owner);
  if (owner !== undefined && ours.length && !ours.includes(owner))
    throw new Error(`writer slot ${slot} is claimed in PostgreSQL by ${owner}, not by this spool (${ours[0]}): a copy of this spool started since, or this one was restored from a backup; ${REMEDY}`);
  const ownClaim = owner !== undefined && ours.includes(owner);
  const base = slot * 2 ** SLOT_BITS;
  for (const [table, { key, given }] of atStart) {
    const k = `"${key}"`;
    const r = await c.query<{ m: string | number | null }>(`SELECT MAX(${k}) AS m FROM "${table}" WHERE ${k} > $1 AND ${k} < $2`, [given, base + 2 ** SLOT_BITS]);
    const m = r.rows[0]?.m;
    if (m !== null && m !== undefined && advance && ownClaim) {
      log.warn(
        `writer slot ${slot}: PostgreSQL holds ${table} ids up to ${m}, past the ${given} this spool gave: it lost rows it had shipped ` +
          `(a host crash since they were written, or a backup taken since its last start restored); PostgreSQL keeps them, and this spool's ids go on after them`,
      );
      advance.set(table, Number(m));
    } else if (m !== null && m !== undefined)
      throw new Error(
        `PostgreSQL holds ${table} id ${m} of writer slot ${slot}, past the highest this spool gave (${given}): the spool is older than what was shipped ` +
          `from it (restored from a backup, or a copy of a spool that went on writing), and its next rows would overwrite PostgreSQL's; ${REMEDY}`,
      );
  }
}

/**
 * Inside a shipping batch's transaction: refuses (throws) when writer_slot no longer names this
 * spool. A copy started while this spool's agent runs (a VM cloned, a volume attached twice)
 * renames the claim; the start's check cannot see this one, which never starts again. FOR SHARE:
 * a rename (confirmClaim, FOR UPDATE) waits for a batch under way, a batch for a rename. A spool
 * that knows no name (older, started while PostgreSQL was away) is not checked here.
 */
export async function stillOurs(db: Database, c: PoolClient, slot: number): Promise<void> {
  const ours = ownNames((sql) => db.prepare(sql));
  if (!ours.length) return;
  const owner = (await c.query<{ writer: string }>('SELECT writer FROM writer_slot WHERE slot = $1 FOR SHARE', [slot])).rows[0]?.writer;
  refuseGivenBack(slot, owner);
  if (owner !== undefined && !ours.includes(owner))
    throw new Error(`writer slot ${slot} is claimed in PostgreSQL by ${owner}, not by this spool (${ours[0]}): a copy of this spool started since; nothing more ships from this one; ${REMEDY}`);
}

/**
 * At a start that reaches PostgreSQL, on a spool that remembered its slot: refuses (throws) if the
 * claim is not this spool's, else renames the claim to `writer` (this start) in both places. A slot
 * PostgreSQL has no claim for (a new database) is claimed again under the same number.
 */
export async function confirmClaim(db: Database, pool: Pool, slot: number, writer: string): Promise<void> {
  await withClient(pool, SILENT_MS, (c) =>
    inTransaction(c, async () => {
      const r = await c.query<{ writer: string }>('SELECT writer FROM writer_slot WHERE slot = $1 FOR UPDATE', [slot]);
      const owner = r.rows[0]?.writer;
      const advance = new Map<string, number>();
      await check(db, c, slot, owner, givenIds(db), advance);
      if (owner === undefined) {
        log.warn(`writer slot ${slot} of this spool has no claim in PostgreSQL (a new database?): claimed again for ${writer}`);
        await c.query(`INSERT INTO writer_slot (slot, writer, claimed_at) VALUES ($1, $2, ${PG_NOW})`, [slot, writer]);
      } else {
        if (!ownNames((sql) => db.prepare(sql)).length) log.log(`writer slot ${slot}: this spool's claim, ${owner} in PostgreSQL, is named ${writer} from now on`);
        await c.query('UPDATE writer_slot SET writer = $2 WHERE slot = $1', [slot, writer]);
      }
      // The name PostgreSQL holds is this spool's (checked) and stays its own until the rename is
      // known committed: a rename whose commit fails leaves both names known, whatever was before.
      db.transaction(() => {
        for (const [table, m] of advance) movePast(db, table, m);
        if (owner !== undefined) setMeta(db, ID_KEY, owner);
        setMeta(db, NEXT_KEY, writer);
      })();
      onDisk(db);
    }),
  );
  setMeta(db, ID_KEY, writer);
  db.prepare('DELETE FROM meta WHERE key = ?').run(NEXT_KEY);
}

/**
 * The same check for a spool that started while PostgreSQL was away, once it answers (central.ts
 * deferred): refused (throws) when the claim is not this spool's; not renamed (the spool's writer is
 * running, its meta is not written from here). A slot without a claim (a new database) is claimed
 * under `writer`, so no new spool is handed it.
 */
export async function checkClaim(db: Database, pool: Pool, slot: number, writer: string, atStart: ReturnType<typeof givenIds>): Promise<void> {
  await withClient(pool, SILENT_MS, async (c) => {
    await c.query(`INSERT INTO writer_slot (slot, writer, claimed_at) VALUES ($1, $2, ${PG_NOW}) ON CONFLICT (slot) DO NOTHING`, [slot, writer]);
    const r = await c.query<{ writer: string }>('SELECT writer FROM writer_slot WHERE slot = $1', [slot]);
    const owner = r.rows[0]?.writer;
    await check(db, c, slot, owner === writer ? undefined : owner, atStart);
  });
}
