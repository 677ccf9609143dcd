// The newest trace id of each writer slot (storage/spool.ts: with PostgreSQL every writer, agent or
// api instance, writes ids from slot·2^40; on SQLite all ids are slot 0), for `GET /traces/stream`'s
// tick (trace-stream.service.ts): ids order commits only within one slot, so "anything new?" is
// asked per slot. One statement, the same SQL on both dialects: a loose index scan of trace's
// primary key, from the newest id of all down to the newest below each slot's base, one index probe
// a slot with rows (writer_slot is not read: an api instance or an idle agent claims a slot and writes
// no trace, and a slot without rows costs no probe).
import type { SqlReader } from '../storage/sql';
import { SLOT_BITS } from '../storage/spool';

/** The first id of the slot after `id`'s, i.e. the ids of one slot are [slotBase(s), slotBase(s + 1)). */
export const SLOT_SIZE = 2 ** SLOT_BITS;
export const slotOf = (id: number): number => Math.floor(id / SLOT_SIZE);
export const slotBase = (slot: number): number => slot * SLOT_SIZE;

// Integer division in both SQLite and PostgreSQL (bigint / bigint): the base of n.id's slot.
const NEWEST_PER_SLOT = `WITH RECURSIVE newest(id) AS (
  SELECT MAX(id) FROM trace
  UNION ALL
  SELECT (SELECT MAX(t.id) FROM trace t WHERE t.id < (n.id / ${SLOT_SIZE}) * ${SLOT_SIZE}) FROM newest n WHERE n.id >= ${SLOT_SIZE}
)
SELECT id FROM newest WHERE id IS NOT NULL`;

/** Slot → its newest trace id, for every slot that holds a trace. */
export async function newestPerSlot(q: SqlReader): Promise<Map<number, number>> {
  const rows = await q.all<{ id: number | string }>(NEWEST_PER_SLOT);
  return new Map(rows.map((r) => [slotOf(Number(r.id)), Number(r.id)]));
}
