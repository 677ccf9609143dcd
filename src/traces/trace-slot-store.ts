// The newest trace id of each writer slot (storage/spool.ts: with PostgreSQL every writer, agent or
// api instance, writes ids from slot·2^40; on SQLite all ids are slot 0), for `GET /traces/stream`'s
// tick (trace-stream.service.ts): ids order commits only within one slot, so "anything new?" is
// asked per slot. One statement, the same SQL on both dialects: a loose index scan of trace's
// primary key, from the newest id of all down to the newest below each slot's base, one index probe
// a slot with rows (writer_slot is not read: an api instance or an idle agent claims a slot and writes
// no trace, and a slot without rows costs no probe). And, for a resume by a plain trace id, where
// each other slot reaches that trace's time (resumeFloors).
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

/**
 * For a resume by one trace id (a plain id, not the stream's own position): in every other slot,
 * the id to resume after so that every trace stored with a time from `time` on comes: one below
 * the slot's first such trace (its newest when it has none). Not a search by id: a trace's time is
 * not monotonic in id even within one writer (an ingested event keeps its own time, a clock steps
 * back), and a search that meets such a trace skips newer ones. One statement, one range of the
 * time index (idx_trace_created holds the id): its cost is the traces stored since `time`, which
 * the stream sends anyway (each slot's catch-up is bounded). An older trace above the floor comes
 * too: a duplicate at worst, never a loss.
 */
export async function slotFloorsAt(q: SqlReader, time: string, newest: ReadonlyMap<number, number>): Promise<Map<number, number>> {
  const floors = new Map(newest);
  if (!newest.size) return floors;
  const firsts = await q.all<{ id: number | string }>(`SELECT MIN(id) AS id FROM trace WHERE created_at >= ? GROUP BY id / ${SLOT_SIZE}`, time);
  for (const r of firsts) {
    const id = Number(r.id);
    if (floors.has(slotOf(id))) floors.set(slotOf(id), id - 1);
  }
  return floors;
}

/**
 * Where a resume by the plain trace id `anchor` starts in each other slot of `newest`: from
 * `earlierMs` before that trace's time (clocks of writers differ), or, when neither it nor an
 * older trace of its slot is still stored, from each slot's first trace (the catch-up's bound
 * applies). The anchor's own slot resumes after it, as any position does. `from`: that time (ms),
 * the floors' cover (no trace of theirs not yet sent is older: the stream's anchored id may say so
 * before it walks them), 0 when they start at their first trace.
 */
export async function resumeFloors(q: SqlReader, anchor: number, earlierMs: number, newest: ReadonlyMap<number, number>): Promise<{ floors: Map<number, number>; from: number }> {
  const others = new Map([...newest].filter(([slot]) => slot !== slotOf(anchor)));
  if (!others.size) return { floors: new Map(), from: 0 };
  const r = await q.get<{ created_at: string }>(`SELECT created_at FROM trace WHERE id <= ? AND id > ? ORDER BY id DESC LIMIT 1`, anchor, slotBase(slotOf(anchor)));
  if (!r) return { floors: new Map([...others.keys()].map((slot) => [slot, slotBase(slot)])), from: 0 };
  const from = Date.parse(r.created_at) - earlierMs;
  return { floors: await slotFloorsAt(q, new Date(from).toISOString(), others), from };
}
