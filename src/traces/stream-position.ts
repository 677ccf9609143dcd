// Where a `GET /traces/stream` stands, as its SSE `id:` says and a `Last-Event-ID` gives it back.
// Ids order commits only within a writer slot (trace-slot-store.ts; PostgreSQL: one slot a
// writer), so one id cannot say where a stream stands on every chassis. Two forms:
// - listed: one trace id per slot, the highest the stream sent (or started after) in that slot,
//   comma-separated by slot. The stream's own id has this form while at most MAX_LISTED_SLOTS
//   slots hold traces. The id of a trace is the one-entry form, so on SQLite (one slot) the id is
//   the trace id as it always was, and a plain trace id (a client's own start point, the CLI's and
//   the page's first request) is read the same way:
//   - a listed slot resumes after its id;
//   - a slot above the lowest listed one and not listed is sent from its first trace: the stream
//     lists every slot it has passed, so an unlisted one is a writer that had no trace then;
//   - a slot below the lowest listed one is followed from its newest trace now. The stream's own
//     id always lists slot 0 (as `0` when it holds nothing), so a resume by it is never live:
//     every slot's traces since come, once;
//   - a plain trace id (one entry) says nothing of the other slots: each resumes from that trace's
//     time, a reorder window earlier (trace-slot-store.ts resumeFloors), so none of their traces
//     since is missed (some sent again within that window). The stream's own id of one entry (slot
//     0 alone had traces when it started) reads the same: the stream had sent nothing of another slot.
// - anchored, `t<ms>,<id>,…`: past MAX_LISTED_SLOTS slots the listed form grew ~14 bytes a slot, and
//   past ~1,100 (Node's 16 KB header limit; 400 past MAX_RESUME_SLOTS) a reconnect could not send
//   it back. A trace time (ms since 1970) and at most MAX_LISTED_SLOTS ids: a listed slot resumes
//   after its id, every other slot (a new one too) from its first trace at or after that time
//   (trace-slot-store.ts slotFloorsAt). The time is a reorder window before the stream's last look
//   that found it caught up in those slots (trace-stream.service.ts coveredFrom): their traces it
//   had not sent were committed after that look, so traced no earlier, as a plain id's resume
//   assumes too (writers' clocks and a commit's lag within the window). Listed are the slots the
//   stream is behind in (their cover is older) and then those it sent to last (left out, their
//   traces since the time would come again: a few seconds' worth at most). What it does not cover,
//   as with a plain id: a trace committed after the disconnect but traced well before the time (an
//   agent shipping a backlog after an outage, quiet when the stream stopped); GET /traces has it.
import { MAX_SLOT } from '../storage/spool';
import { slotBase, slotOf } from './trace-slot-store';

/**
 * Slots a Last-Event-ID may name in the listed form: the id grows by about 14 bytes a writer slot
 * that holds traces, and Node's header limit (16 KB) ends it near 1,100 in any case. The stream
 * itself lists at most MAX_LISTED_SLOTS (then the anchored form); longer lists are those clients
 * may hold from before it.
 */
export const MAX_RESUME_SLOTS = 1024;
/**
 * Slots the stream's own id lists one id each; past it the id is anchored (~3.6 KB at most: under
 * the 8 KB a proxy commonly allows a header line, where the listed form of 1,024 slots was ~14 KB).
 * Listed slots resume exactly; the more listed, the fewer left to the anchor's time (header comment).
 */
export const MAX_LISTED_SLOTS = 256;
const ENTRY = /^\d{1,16}$/;
const ANCHOR = /^t(\d{1,15})$/;
const LAST_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A position of the anchored form: the listed slots (the map) resume after their ids, every other
 * slot from the trace time `from` (ms since 1970; trace-slot-store.ts slotFloorsAt).
 */
export class SinceTime extends Map<number, number> {
  constructor(readonly from: number) {
    super();
  }
}

/** Where a stream stands in a slot beyond its id, for the anchored form (trace-stream.service.ts). */
export interface SlotCover {
  /** A trace time (ms) no unsent trace of the slot is older than: the slot may resume from it. */
  from: number;
  /** When the stream last sent one of the slot's traces (ms), 0 never. */
  sentAt: number;
}

/** Slot → the id to resume after (a SinceTime: the other slots from its time), or why the header is not a stream position. */
export function parseResumePoint(raw: string): Map<number, number> | string {
  if (raw.length > MAX_RESUME_SLOTS * 17) return `is ${raw.length} characters long: at most ${MAX_RESUME_SLOTS} trace ids (one a writer slot)`;
  const parts = raw.split(',');
  let floors = new Map<number, number>();
  if (parts[0].startsWith('t')) {
    const m = ANCHOR.exec(parts[0]);
    if (!m) return `its time anchor must be t and the milliseconds since 1970 (as the stream's own id has it, e.g. t${Date.UTC(2026, 0, 1)}); got ${JSON.stringify(parts[0].slice(0, 32))}`;
    if (Number(m[1]) > LAST_TIME) return `its time anchor ${parts[0]} is past year 9999`;
    floors = new SinceTime(Number(m[1]));
    parts.shift();
    if (parts.length > MAX_LISTED_SLOTS) return `names ${parts.length} trace ids: at most ${MAX_LISTED_SLOTS} trace ids after its time anchor`;
  } else if (parts.length > MAX_RESUME_SLOTS) return `names ${parts.length} trace ids: at most ${MAX_RESUME_SLOTS} (one a writer slot)`;
  for (const p of parts) {
    if (p.startsWith('t')) return `the time anchor t… must come first, and once; got ${JSON.stringify(raw.slice(0, 64))}`;
    if (!ENTRY.test(p)) return `must be a trace id, or the stream's own id (trace ids separated by commas, after a time anchor t<ms> past ${MAX_LISTED_SLOTS} slots); got ${JSON.stringify(raw.slice(0, 64))}`;
    const id = Number(p);
    if (!Number.isSafeInteger(id) || slotOf(id) > MAX_SLOT) return `${p} is past the last writer slot's ids (slot ${MAX_SLOT})`;
    const slot = slotOf(id);
    if (floors.has(slot)) return `names writer slot ${slot} twice (${floors.get(slot)} and ${id})`;
    floors.set(slot, id);
  }
  return floors;
}

/**
 * The id of a stream whose slots stand at `lastIds` (slot → highest id sent or started after):
 * every slot that holds traces listed, or, past MAX_LISTED_SLOTS of them and with `cover`, the
 * anchored form. Listed there first are the slots whose cover is oldest (a slot the stream is
 * behind in: left out, it would take the anchor back for all), then those sent to most recently
 * (left out, their traces since the anchor come again); the anchor is the oldest cover left out.
 */
export function formatPosition(lastIds: ReadonlyMap<number, number>, cover?: ReadonlyMap<number, SlotCover>): string {
  if (!cover) return listedForm(lastIds);
  // One choice of the listed slots and the anchor (positionsOf); a slot the stream keeps no cover of
  // is covered from no time at all: from its first trace.
  const slots = new Map<number, SlotPosition>();
  for (const [slot, lastId] of lastIds) {
    const c = cover.get(slot) ?? { from: 0, sentAt: 0 };
    slots.set(slot, { lastId, coveredFrom: c.from, sentAt: c.sentAt });
  }
  return positionsOf(slots, new Set())();
}

/** The listed form: every slot past its base, by slot, slot 0 always first. */
function listedForm(lastIds: ReadonlyMap<number, number>): string {
  const listed = [...lastIds].filter(([slot, id]) => id > slotBase(slot)).sort((a, b) => a[0] - b[0]);
  if (!listed.length || listed[0][0] !== 0) listed.unshift([0, 0]);
  return listed.map(([, id]) => id).join(',');
}

/** Where a stream stands in a slot, as trace-stream.service.ts keeps it. */
export interface SlotPosition {
  lastId: number;
  coveredFrom: number;
  sentAt: number;
}

/** formatPosition of a stream's slots as trace-stream.service.ts keeps them. */
export function positionOf(slots: ReadonlyMap<number, SlotPosition>): string {
  return positionsOf(slots, new Set())();
}

/**
 * The ids of one poll's events, formatPosition's: the form, the slots listed and the anchor chosen
 * once (`sending`: the slots whose lastId the poll may move; every other lastId, every cover and
 * sentAt stay as they are until its events are written), so an event's id reads the listed slots
 * alone. At each event over every slot, a catch-up's 16 × 500 events with thousands of slots held
 * the event loop for seconds. A slot listed whose id is still its slot's base lists it as that:
 * resumed from its first trace, as left out it would be (then its cover would bound the anchor).
 */
export function positionsOf(slots: ReadonlyMap<number, SlotPosition>, sending: ReadonlySet<number>): () => string {
  const moving = [...slots.keys()].filter((slot) => slots.get(slot)!.lastId > slotBase(slot) || sending.has(slot));
  const idOf = (slot: number) => slots.get(slot)!.lastId;
  if (moving.length <= MAX_LISTED_SLOTS) return () => listedForm(new Map(moving.map((slot) => [slot, idOf(slot)])));
  const of = (slot: number) => slots.get(slot)!;
  const kept = moving.sort((a, b) => of(a).coveredFrom - of(b).coveredFrom || of(b).sentAt - of(a).sentAt || a - b).slice(0, MAX_LISTED_SLOTS);
  const keep = new Set(kept);
  let from = Infinity;
  for (const [slot, st] of slots) if (!keep.has(slot)) from = Math.min(from, st.coveredFrom);
  const anchor = `t${Math.max(0, Math.floor(from))}`;
  kept.sort((a, b) => a - b);
  return () => [anchor, ...kept.map(idOf)].join(',');
}

/**
 * Where each slot starts: after `resume` as the header says (above; `byTime`: the other slots'
 * floors at a plain id's trace time, or at an anchored position's time), or, live, after each slot's newest trace now. Slots that
 * appear later start at their first trace.
 */
export function startPoints(newest: ReadonlyMap<number, number>, resume: ReadonlyMap<number, number> | undefined, byTime?: ReadonlyMap<number, number>): Map<number, number> {
  if (!resume) return new Map(newest);
  // Anchored: every slot not listed has its floor at the anchor's time (byTime), else its first trace.
  const lowest = resume instanceof SinceTime ? -1 : Math.min(...resume.keys());
  const out = new Map(resume);
  for (const [slot, id] of newest) if (!out.has(slot)) out.set(slot, byTime?.get(slot) ?? (slot > lowest ? slotBase(slot) : id));
  return out;
}

/** The store's floors a resume reads (TraceStore, trace-slot-store.ts); without them, as in unit tests, none. */
export interface ResumeFloors {
  resumeFloors?(anchor: number, earlierMs: number, newest: ReadonlyMap<number, number>): Promise<{ floors: Map<number, number>; from: number }>;
  floorsAt?(time: string, newest: ReadonlyMap<number, number>): Promise<Map<number, number>>;
}

/**
 * A stream's start after `resume` (or live, without): each slot's start point (startPoints) and
 * `coveredFrom(slot)`, the time no unsent trace of it is traced before (0 unknown), given each
 * slot's `newest` id read at `readAt`.
 */
export async function streamStart(
  newest: ReadonlyMap<number, number>,
  resume: ReadonlyMap<number, number> | undefined,
  readAt: number,
  reorderMs: number,
  store?: ResumeFloors,
): Promise<{ starts: Map<number, number>; coveredFrom: (slot: number) => number }> {
  // A plain trace id says where its slot stood, not the others: they resume from its trace time
  // (a reorder window earlier: writers' clocks differ), so none of their traces since is missed;
  // an anchored position's unlisted slots from its time (without the store, their first trace).
  const byTime =
    resume instanceof SinceTime
      ? { floors: await store?.floorsAt?.(new Date(resume.from).toISOString(), new Map([...newest].filter(([slot]) => !resume.has(slot)))), from: resume.from }
      : resume?.size === 1 && store?.resumeFloors
        ? await store.resumeFloors([...resume.values()][0], reorderMs, newest)
        : undefined;
  // Live, every slot is caught up as of the read; resumed, a slot is once walked, except that the
  // slots resumed from a time (an anchored position's unlisted ones, a plain id's other slots) stay
  // covered from it meanwhile: at 0 the stream's id was t0 until all were walked (n/16 polls), and
  // a reconnect by it sent every slot it left out again from its first trace.
  const coveredFrom = (slot: number) =>
    !resume ? readAt - reorderMs : resume instanceof SinceTime ? (resume.has(slot) ? 0 : resume.from) : byTime?.floors?.has(slot) ? byTime.from : 0;
  return { starts: startPoints(newest, resume, byTime?.floors), coveredFrom };
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
