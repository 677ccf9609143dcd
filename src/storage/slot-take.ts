// The writer slot a new spool takes in PostgreSQL (spool.ts: slot · 2^40 ids each, MAX_SLOT of them).
// A slot used to be claimed for good, and agents on spools that do not outlive them (a DaemonSet's
// emptyDir: every pod restart and node upgrade a new spool) ran a database out of slots: 500 nodes
// upgraded monthly in ~16 months, and then no agent could start. A claim now takes, before a new slot,
// the lowest one given back: silent for LIVETRACE_SLOT_REUSE_DAYS (no word from its shipper, nor a
// claim, by PostgreSQL's clock) and with no row of its id range left in PostgreSQL (its rows pruned by
// the central retention, its traffic then its rules, logical flows and OVN objects, which it renames the
// claim for, retention/central-dead-slot-store.ts; or it never shipped any: a pod that crashed at its
// start). Rows left would be overwritten by the new spool's rows, which count from the slot's base again.
//
// What a slot given back means for what else is keyed by it:
// - its old spool, back, is refused as a copy is (slot-claim.ts: writer_slot names the new spool);
//   running, it ships nothing more (stillOurs) and tells PostgreSQL nothing of the slot (ship-synced.ts
//   updates writer_slot only under its own name). Its agent stops shipping until it is given a new
//   spool; what only that spool holds is not shipped. Hence a bound longer than any outage a spool
//   comes back from.
// - writer_slot's heard_at / traced_through / traced_flow_id start again as a new claim's (NULL): the
//   central retention holds nothing back for the slot until its new shipper speaks, as for any new
//   slot; pruned_lifetime's notes of the old spool are dropped with it (nobody will read them).
// - GET /traces/stream positions (Last-Event-ID: the highest id sent in each slot) and trace cursors
//   are ids: one taken in the slot before it was given back (at least LIVETRACE_SLOT_REUSE_DAYS old)
//   is above the new spool's first ids, which count from the slot's base again, so a client resuming
//   from it skips the new spool's traces up to that id in this slot (the others' are not affected).
// - sessions pulled by agents are an api instance's rows (trace_session, probed): a slot whose
//   sessions are still in PostgreSQL is never given back.
import { Logger } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { inTransaction, PG_NOW, pgIsoText } from './pg-client';
import { knownSlot, MAX_SLOT, quoteIdent as q, rememberSlot, shippedTables, SLOT_BITS } from './spool';

const RANGE = 2 ** SLOT_BITS;
const log = new Logger('Storage');

/**
 * Past this many claimed slots each new claim is warned about: a slot is given back only once
 * silent for LIVETRACE_SLOT_REUSE_DAYS with none of its rows left, so a deployment that keeps losing
 * its spools faster than that still runs out of them.
 */
export const SLOTS_RUNNING_LOW = Math.floor(MAX_SLOT * 0.8);
const SLOT_ADVICE =
  'every process started with a new spool (LIVETRACE_SPOOL) claims a slot, and one is given back only once silent for ' +
  'LIVETRACE_SLOT_REUSE_DAYS with none of its rows left in PostgreSQL (the central retention, LIVETRACE_CENTRAL_RETENTION_*, prunes its traffic, ' +
  'then its rules, logical flows and OVN objects; without it they stay): keep each spool on storage ' +
  'that outlives its process (a host path, a persistent volume); writer_slot in PostgreSQL lists who claimed which';

/**
 * The columns holding the writer's ids, by table, as the spool's schema has them (the spools'
 * migrations and PostgreSQL's go together): each marked table's mark (an id table's id, a trace's
 * port and session rows by trace_id, an edge by its child), and a table keyed by its own sequence
 * shipped row by row (trace_session). Not the citation bitmaps: keyed by kind first, PostgreSQL has
 * no index a bucket leads, and a bucket's row goes with its last trace (central retention).
 */
export function slotRanged(db: Database): SlotRanged[] {
  const seq = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'`).all() as Array<{ name: string }>).map((r) => r.name));
  const out: SlotRanged[] = [];
  for (const t of shippedTables(db))
    if (t.mark && !t.markShift) out.push({ table: t.name, col: t.mark });
    else if (!t.mark && t.key.length === 1 && seq.has(t.name)) out.push({ table: t.name, col: t.key[0] });
  return out;
}

/** A table's column holding a writer's ids (slotRanged). */
export type SlotRanged = { table: string; col: string };

/**
 * The writer_slot row `w` silent for `days` (an SQL expression: a parameter) by PostgreSQL's clock: no
 * word from its shipper (heard_at, traced_through) nor a claim (claimed_at) since. The one definition a
 * claim (reusable) and PostgreSQL's retention of a dead slot's rows (retention/central-dead-slot-store.ts)
 * share: what the retention deletes, the claim then finds empty.
 */
export const silentFor = (w: string, days: string): string =>
  `GREATEST(${w}.heard_at, ${w}.traced_through, ${w}.claimed_at) < ${pgIsoText(`now() - make_interval(days => ${days}::int)`)}`;

/** SQL true when column `col` holds an id of slot `slot`'s range (both SQL expressions): an index range. */
export const inSlotRange = (col: string, slot: string): string => `${col} >= ${slot}::bigint * ${RANGE} AND ${col} < (${slot}::bigint + 1) * ${RANGE}`;

/** SQL true when any of `ranged` holds a row in slot `slot`'s id range (an SQL expression), each probed through its index. */
export function heldIn(ranged: SlotRanged[], slot: string): string {
  const held = ranged.map(({ table, col }) => `EXISTS (SELECT 1 FROM ${q(table)} x WHERE ${inSlotRange(`x.${q(col)}`, slot)})`);
  return `(${held.join(' OR ') || 'false'})`;
}

/**
 * The lowest slot given back ($1: days): the silent ones in slot order (OFFSET 0 keeps the subquery
 * whole, so its filter runs first and its order is the walk's), each probed through every table's
 * index for its range until one holds nothing (LIMIT 1). The probes are subplans run a candidate at
 * a time, never joins nor hashes over whole tables (test/postgres/slot-reuse.spec.ts checks the plan).
 */
export function reusable(ranged: SlotRanged[]): string {
  return (
    `SELECT w.slot, w.writer, w.last FROM (SELECT s.slot, s.writer, GREATEST(s.heard_at, s.traced_through, s.claimed_at) AS last FROM writer_slot s ` +
    `WHERE ${silentFor('s', '$1')} ORDER BY s.slot OFFSET 0) w WHERE NOT ${heldIn(ranged, 'w.slot')} LIMIT 1`
  );
}

/** A slot given back, taken for `writer` as a new claim is (under the caller's lock of writer_slot). */
async function reclaim(c: PoolClient, writer: string, ranged: SlotRanged[], days: number): Promise<number | undefined> {
  const r = await c.query<{ slot: number; writer: string; last: string }>(reusable(ranged), [days]);
  const found = r.rows[0];
  if (!found) return undefined;
  const slot = Number(found.slot);
  await c.query(`UPDATE writer_slot SET writer = $2, claimed_at = ${PG_NOW}, heard_at = NULL, traced_through = NULL, traced_flow_id = NULL WHERE slot = $1`, [slot, writer]);
  await c.query(`DELETE FROM pruned_lifetime WHERE ${inSlotRange('id', '$1')}`, [slot]);
  log.log(`writer slot ${slot} given back (${found.writer} silent since ${found.last}, none of its rows left in PostgreSQL): claimed for ${writer}`);
  return slot;
}

/**
 * The slot this spool writes under: remembered, or claimed now in PostgreSQL (`reuseDays`:
 * LIVETRACE_SLOT_REUSE_DAYS, 0 takes only new ones). claimed_at by PostgreSQL's clock, as heard_at:
 * an agent's clock far behind made its fresh claim look silent, for the next claim to take.
 */
export async function writerSlot(db: Database, pool: Pool, writer: string, reuseDays: number): Promise<number> {
  const known = knownSlot(db);
  if (known !== undefined) return known;
  const ranged = slotRanged(db);
  const client = await pool.connect();
  let slot: number;
  let reused: number | undefined;
  try {
    slot = await inTransaction(client, async () => {
      // Shippers' batches hold writer_slot FOR SHARE (slot-claim.ts stillOurs): one still shipping
      // under the old name is over before a slot is judged, and the next is refused.
      await client.query('LOCK TABLE writer_slot IN EXCLUSIVE MODE');
      reused = reuseDays > 0 ? await reclaim(client, writer, ranged, reuseDays) : undefined;
      if (reused !== undefined) return reused;
      const r = await client.query(`INSERT INTO writer_slot (slot, writer, claimed_at) SELECT COALESCE(MAX(slot), 0) + 1, $1, ${PG_NOW} FROM writer_slot RETURNING slot`, [writer]);
      const claimed = Number(r.rows[0].slot);
      if (claimed > MAX_SLOT) throw new Error(`no writer slot left (${MAX_SLOT} claimed), none given back: ${SLOT_ADVICE}`);
      return claimed;
    });
  } finally {
    client.release();
  }
  rememberSlot(db, slot);
  if (reused === undefined && slot > SLOTS_RUNNING_LOW) log.warn(`claimed writer slot ${slot} for ${writer}, ${MAX_SLOT - slot} of ${MAX_SLOT} left: ${SLOT_ADVICE}`);
  return slot;
}
