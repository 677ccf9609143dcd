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
 * the id to resume after so that each trace stored from `time` on comes, i.e. the slot's newest
 * trace older than `time` (its base when it has none). Ids follow trace time within a slot (one
 * writer, one clock), so this is a binary search on the primary key, every slot in step: one
 * statement a step, at most 41 (a slot's ids span 2^40), each one index probe a slot still
 * searching; a slot whose newest trace is older costs nothing more.
 */
export async function slotFloorsAt(q: SqlReader, time: string, newest: ReadonlyMap<number, number>): Promise<Map<number, number>> {
  const floors = new Map<number, number>();
  if (!newest.size) return floors;
  const tops = await q.all<{ id: number | string; created_at: string }>(
    `SELECT id, created_at FROM trace WHERE id IN (${q.inList('int')})`,
    q.list([...newest.values()]),
  );
  // Per slot searching: every trace with id <= lo is older than `time`, every one with id >= hi is not.
  const open = new Map<number, { lo: number; hi: number }>();
  for (const r of tops) {
    const id = Number(r.id);
    if (r.created_at < time) floors.set(slotOf(id), id);
    else open.set(slotOf(id), { lo: slotBase(slotOf(id)), hi: id });
  }
  while (open.size) {
    for (const [slot, b] of open) {
      if (b.hi - b.lo > 1) continue;
      floors.set(slot, b.lo);
      open.delete(slot);
    }
    if (!open.size) break;
    const mids = new Map([...open].map(([slot, b]) => [b.lo + Math.floor((b.hi - b.lo) / 2), slot]));
    // The first trace at or after each mid (below the slot's hi, a trace: so within the slot).
    const probes = await q.all<{ mid: number | string; id: number | string | null; created_at: string }>(
      `SELECT m.value AS mid, (SELECT MIN(u.id) FROM trace u WHERE u.id >= m.value) AS id,
         (SELECT u.created_at FROM trace u WHERE u.id >= m.value ORDER BY u.id LIMIT 1) AS created_at FROM (${q.inList('int')}) m`,
      q.list([...mids.keys()]),
    );
    const byMid = new Map(probes.map((r) => [Number(r.mid), r]));
    for (const [mid, slot] of mids) {
      const b = open.get(slot)!;
      const p = byMid.get(mid);
      // None from mid up to hi, or the first of them is not older: so is every one from mid on.
      if (!p || p.id === null || Number(p.id) >= b.hi || p.created_at >= time) b.hi = mid;
      else b.lo = Number(p.id);
    }
  }
  return floors;
}

/**
 * Where a resume by the plain trace id `anchor` starts in each other slot of `newest`: from
 * `earlierMs` before that trace's time (clocks of writers differ), or, when neither it nor an
 * older trace of its slot is still stored, from each slot's first trace (the catch-up's bound
 * applies). The anchor's own slot resumes after it, as any position does.
 */
export async function resumeFloors(q: SqlReader, anchor: number, earlierMs: number, newest: ReadonlyMap<number, number>): Promise<Map<number, number>> {
  const others = new Map([...newest].filter(([slot]) => slot !== slotOf(anchor)));
  if (!others.size) return new Map();
  const r = await q.get<{ created_at: string }>(`SELECT created_at FROM trace WHERE id <= ? AND id > ? ORDER BY id DESC LIMIT 1`, anchor, slotBase(slotOf(anchor)));
  if (!r) return new Map([...others.keys()].map((slot) => [slot, slotBase(slot)]));
  return slotFloorsAt(q, new Date(Date.parse(r.created_at) - earlierMs).toISOString(), others);
}
