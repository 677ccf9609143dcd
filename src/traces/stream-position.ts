// Where a `GET /traces/stream` stands, as its SSE `id:` says and a `Last-Event-ID` gives it back:
// one trace id per writer slot (trace-slot-store.ts), the highest the stream sent (or started
// after) in that slot, comma-separated by slot. Ids order commits only within a slot (PostgreSQL:
// one slot a writer), so one id cannot say where a stream stands on every chassis. The id of a
// trace is the one-entry form, so on SQLite (one slot) the id is the trace id as it always was, and
// a plain trace id (a client's own start point, the CLI's and the page's first request) is read
// the same way:
// - a listed slot resumes after its id;
// - a slot above the lowest listed one and not listed is sent from its first trace: the stream
//   lists every slot it has passed, so an unlisted one is a writer that had no trace then;
// - a slot below the lowest listed one is followed from its newest trace now. The stream's own id
//   always lists slot 0 (as `0` when it holds nothing), so a resume by it is never live: every
//   slot's traces since come, once;
// - a plain trace id (one entry) says nothing of the other slots: each resumes from that trace's
//   time, a reorder window earlier (trace-slot-store.ts resumeFloors), so none of their traces
//   since is missed (some sent again within that window). The stream's own id of one entry (slot 0
//   alone had traces when it started) reads the same: the stream had sent nothing of another slot.
import { MAX_SLOT } from '../storage/spool';
import { slotBase, slotOf } from './trace-slot-store';

/**
 * Slots a Last-Event-ID may name: the id grows by about 14 bytes a writer slot that holds traces,
 * and Node's header limit (16 KB) ends it near 1,100 in any case.
 */
export const MAX_RESUME_SLOTS = 1024;
const ENTRY = /^\d{1,16}$/;

/** Slot → the id to resume after, or why the header is not a stream position. */
export function parseResumePoint(raw: string): Map<number, number> | string {
  if (raw.length > MAX_RESUME_SLOTS * 17) return `is ${raw.length} characters long: at most ${MAX_RESUME_SLOTS} trace ids (one a writer slot)`;
  const parts = raw.split(',');
  if (parts.length > MAX_RESUME_SLOTS) return `names ${parts.length} trace ids: at most ${MAX_RESUME_SLOTS} (one a writer slot)`;
  const floors = new Map<number, number>();
  for (const p of parts) {
    if (!ENTRY.test(p)) return `must be a trace id, or the stream's own id (trace ids separated by commas); got ${JSON.stringify(raw.slice(0, 64))}`;
    const id = Number(p);
    if (!Number.isSafeInteger(id) || slotOf(id) > MAX_SLOT) return `${p} is past the last writer slot's ids (slot ${MAX_SLOT})`;
    const slot = slotOf(id);
    if (floors.has(slot)) return `names writer slot ${slot} twice (${floors.get(slot)} and ${id})`;
    floors.set(slot, id);
  }
  return floors;
}

/** The id of a stream whose slots stand at `lastIds` (slot → highest id sent or started after). */
export function formatPosition(lastIds: ReadonlyMap<number, number>): string {
  const listed = [...lastIds].filter(([slot, id]) => id > slotBase(slot)).sort((a, b) => a[0] - b[0]);
  if (!listed.length || listed[0][0] !== 0) listed.unshift([0, 0]);
  return listed.map(([, id]) => id).join(',');
}

/**
 * Where each slot starts: after `resume` as the header says (above; `byTime`: the other slots'
 * floors at a plain id's trace time), or, live, after each slot's newest trace now. Slots that
 * appear later start at their first trace.
 */
export function startPoints(newest: ReadonlyMap<number, number>, resume: ReadonlyMap<number, number> | undefined, byTime?: ReadonlyMap<number, number>): Map<number, number> {
  if (!resume) return new Map(newest);
  const lowest = Math.min(...resume.keys());
  const out = new Map(resume);
  for (const [slot, id] of newest) if (!out.has(slot)) out.set(slot, byTime?.get(slot) ?? (slot > lowest ? slotBase(slot) : id));
  return out;
}

/**
 * Lists each oldest first, merged by trace time: per slot the order is the commit order (ids), and
 * between slots time is the only order there is.
 */
export function mergeByTime<T extends { createdAt?: string }>(lists: T[][]): T[] {
  const heads = lists.filter((l) => l.length).map((l) => ({ l, i: 0 }));
  const out: T[] = [];
  while (heads.length) {
    let k = 0;
    for (let j = 1; j < heads.length; j++) if ((heads[j].l[heads[j].i].createdAt ?? '') < (heads[k].l[heads[k].i].createdAt ?? '')) k = j;
    out.push(heads[k].l[heads[k].i++]);
    if (heads[k].i === heads[k].l.length) heads.splice(k, 1);
  }
  return out;
}
