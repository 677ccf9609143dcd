// `GET /traces/stream?logical_port=`'s look for far passes (trace-stream.service.ts): the passes on
// another chassis of a packet the port sent that a router forwarded there. Tunnel arrivals are
// looked at once each, after each writer slot's `farAfter`, through PortArrivals.since (paths/,
// which owns the cross-chassis link); one whose sender is not stored yet is looked at again
// (`retry`, with when first seen) for the reorder window, then given up. `senders`: the port's
// passes this stream sent that tunnelled (trace time, when seen): only arrivals traced near one of
// them cost a link, so a port that sends nothing away costs no link at all.
import type { TraceListQuery } from './trace-read-store';
import type { TraceJson } from './trace-record';

/** A look for a port's far passes in id ranges (PortArrivals.since, in paths/, which owns the link). */
export interface FarSince {
  /** The far passes found, oldest first, each marked `arrivedFrom`. */
  items: TraceJson[];
  /** Per range asked, the highest arrival id looked at (its `after` when none): the next look goes on after it. */
  scannedTo: number[];
  /** Arrivals whose sender is not stored (yet), or not traced near one: worth a retry while it may still come. */
  unlinked: number[];
}
/** Arrivals with `after` < id < `below`: one range a writer slot the stream polls. */
export interface IdRange {
  after: number;
  below: number;
}
export type FarPassesSince = (q: TraceListQuery, ranges: readonly IdRange[], retry: readonly number[], limit: number, near: readonly number[]) => Promise<FarSince>;

/** One port stream's look: arrivals to retry (id → first seen), and its recent senders (id → trace time, when seen). */
export interface FarLook {
  retry: Map<number, number>;
  senders: Map<number, { at: number; seen: number }>;
}

export const newFarLook = (): FarLook => ({ retry: new Map(), senders: new Map() });

/**
 * How long a port's pass that tunnelled is remembered as a possible sender (the stream's gate,
 * PortArrivals.since `near`), and at most how many; how many unlinked arrivals are retried.
 */
const SENDER_MEMORY_MS = 30_000;
const MAX_SENDERS = 1000;
const MAX_RETRY = 500;
/** Tunnel arrivals read at most by one look (rows only: the links it follows are bounded in PortArrivals.since). */
const FAR_LOOK = 1000;

export interface LookAt {
  /** The stream's slots: where each slot's arrivals were looked at up to (moved here). */
  slots: ReadonlyMap<number, { farAfter: number }>;
  now: number;
  reorderMs: number;
  /** The port's own traces this poll sends (the senders among them are remembered). */
  own: readonly TraceJson[];
  /** The slots this poll walked, and each slot's newest id this tick. */
  due: readonly number[];
  newest: ReadonlyMap<number, number>;
}

/**
 * The far passes among the arrivals stored since the last look, and those retried. An arrival
 * stored after its sender is sent (once its own commit is seen); one stored before its sender
 * is sent if the sender is stored within the reorder window (then out of id order, like a late
 * commit), else not (GET /traces?logical_port= lists it).
 */
export async function lookFarPasses(far: FarLook, since: FarPassesSince | undefined, query: () => Promise<TraceListQuery>, at: LookAt): Promise<TraceJson[]> {
  const { slots: states, now, reorderMs, own, due, newest } = at;
  for (const t of own) if (t.verdict.tunnels?.length) far.senders.set(t.id, { at: Date.parse(t.createdAt), seen: now });
  for (const [id, x] of far.senders) if (now - x.seen >= SENDER_MEMORY_MS || far.senders.size > MAX_SENDERS) far.senders.delete(id);
  for (const [id, first] of far.retry) if (now - first >= reorderMs || far.retry.size > MAX_RETRY) far.retry.delete(id);
  const near = [...far.senders.values()].map((x) => x.at);
  if (!since) return [];
  // The slots walked, each up to its newest id this tick (so a far pass's id is one its slot's walk has passed).
  const slots = due.filter((slot) => (newest.get(slot) ?? 0) > states.get(slot)!.farAfter);
  if (!slots.length && !far.retry.size) return [];
  const ranges = slots.map((slot) => ({ after: states.get(slot)!.farAfter, below: newest.get(slot)! + 1 }));
  const r = await since(await query(), ranges, [...far.retry.keys()], FAR_LOOK, near);
  slots.forEach((slot, k) => {
    const st = states.get(slot)! as { farAfter: number };
    st.farAfter = Math.max(st.farAfter, r.scannedTo[k] ?? st.farAfter);
  });
  const waiting = new Set(r.unlinked);
  for (const id of far.retry.keys()) if (!waiting.has(id)) far.retry.delete(id);
  for (const id of r.unlinked) if (!far.retry.has(id)) far.retry.set(id, now);
  return r.items;
}
