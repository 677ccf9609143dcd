// A port's `GET /traces/stream` (role any or inport) sends its packets' far passes too: the passes
// on another chassis of a packet the port sent that a router forwarded there, arriving with the
// router's port as its Geneve ingress, so never in the port's own rows (issue 19). The stream finds
// them from each new tunnel arrival back to its sender; the link itself is the paths feature's
// (PortArrivals.sinceIn, port-arrivals.ts), given to the stream through useFarPasses since paths
// builds on traces. Here: what one stream remembers between looks (arrivals retried, the port's
// recent senders), each look's id ranges (a slot's `farAfter`, bounded by FAR_LOOK) and how a
// retried arrival holds its slot's cover (pins) for trace-stream.service.ts's anchored position.
//
// May import: this folder's trace-record (TraceJson), trace-read-store (the query's type) and
// trace-slot-store (slotOf); nothing of the service (it calls in, not the other way) or of paths.
import type { TraceListQuery } from './trace-read-store';
import type { TraceJson } from './trace-record';
import { slotOf } from './trace-slot-store';

/** A look for a port's far passes in id ranges (PortArrivals.since, in paths/, which owns the link). */
export interface FarSince {
  /** The far passes found, oldest first, each marked `arrivedFrom`. */
  items: TraceJson[];
  /** Per range asked, the highest arrival id looked at (its `after` when none): the next look goes on after it. */
  scannedTo: number[];
  /**
   * Per range asked, whether it was read to its end (`below`): then every arrival of it was looked
   * at. A range read to its bound stops at scannedTo, and what lies above is not looked at yet.
   */
  complete: boolean[];
  /** Arrivals whose sender is not stored (yet), or not traced near one: worth a retry while it may still come. */
  unlinked: number[];
}
/** Arrivals with `after` < id < `below`: one range a writer slot the stream polls. */
export interface IdRange {
  after: number;
  below: number;
}
export type FarPassesSince = (q: TraceListQuery, ranges: readonly IdRange[], retry: readonly number[], limit: number, near: readonly number[]) => Promise<FarSince>;

/**
 * How long a port's pass that tunnelled is remembered as a possible sender (the stream's gate,
 * PortArrivals.since `near`), and at most how many; how many unlinked arrivals are retried.
 */
const SENDER_MEMORY_MS = 30_000;
const MAX_SENDERS = 1000;
const MAX_RETRY = 500;
/** Tunnel arrivals read at most by one look (rows only: the links it follows are bounded in PortArrivals.since). */
const FAR_LOOK = 1000;

/** What a look reads and moves of a stream's slot (trace-stream.service.ts SlotState). */
export interface FarSlot {
  /** Tunnel arrivals of this slot are looked at after this id. */
  farAfter: number;
  /** The slot's cover as its walks alone have it: an arrival found now is traced no earlier. */
  walkedFrom: number;
}

/** One look's inputs: the poll that makes it, and the stream's query and look as of now. */
export interface FarLookAt {
  now: number;
  /** The stream's own traces this poll found: those that tunnelled are senders. */
  own: readonly TraceJson[];
  /** The slots this poll walked, each up to its `newest` id. */
  due: readonly number[];
  newest: ReadonlyMap<number, number>;
  slots: ReadonlyMap<number, FarSlot>;
  reorderMs: number;
  /** The stream's filter as a list query, the port resolved (only when there is something to look at). */
  query: () => Promise<TraceListQuery>;
  /** PortArrivals.sinceIn, once the paths feature gave it. */
  since?: FarPassesSince;
}

/**
 * A port's stream's far passes. Tunnel arrivals are looked at once each, after each slot's
 * `farAfter`; one whose sender is not stored yet is looked at again (`retry`, with when first
 * seen and `pin`: its slot's walkedFrom then, which it is traced no earlier than, holding its
 * slot's cover there) for the reorder window, then given up. `senders`: the port's passes this
 * stream sent that tunnelled (trace time, when seen): only arrivals traced near one of them cost a
 * link, so a port that sends nothing away costs no link at all.
 */
export class FarLook {
  private readonly retry = new Map<number, { at: number; pin: number }>();
  private readonly senders = new Map<number, { at: number; seen: number }>();

  /**
   * Whether the look has not reached `walkedTo` in this slot (a look read to its bound: the rest
   * waits for the next). Its arrivals not looked at were committed before the slot's last walk, so
   * its cover must not pass that walk, and the slot is walked (and looked at) again until it does.
   */
  behind(st: FarSlot, walkedTo: number): boolean {
    return st.farAfter < walkedTo;
  }

  /** Per slot, the oldest cover an arrival still retried holds it at. */
  pins(): Map<number, number> {
    const pins = new Map<number, number>();
    for (const [id, { pin }] of this.retry) pins.set(slotOf(id), Math.min(pin, pins.get(slotOf(id)) ?? Infinity));
    return pins;
  }

  /**
   * The far passes among the arrivals stored since the last look, and those retried. An arrival
   * stored after its sender is sent (once its own commit is seen); one stored before its sender
   * is sent if the sender is stored within the reorder window (then out of id order, like a late
   * commit), else not (GET /traces?logical_port= lists it).
   */
  async look({ now, own, due, newest, slots: state, reorderMs, query, since }: FarLookAt): Promise<TraceJson[]> {
    for (const t of own) if (t.verdict.tunnels?.length) this.senders.set(t.id, { at: Date.parse(t.createdAt), seen: now });
    for (const [id, x] of this.senders) if (now - x.seen >= SENDER_MEMORY_MS || this.senders.size > MAX_SENDERS) this.senders.delete(id);
    for (const [id, { at }] of this.retry) if (now - at >= reorderMs || this.retry.size > MAX_RETRY) this.retry.delete(id);
    const near = [...this.senders.values()].map((x) => x.at);
    if (!since) {
      // No look to make (no paths feature): nothing is left to look at either.
      for (const slot of due) if (state.has(slot)) state.get(slot)!.farAfter = Math.max(state.get(slot)!.farAfter, newest.get(slot) ?? 0);
      return [];
    }
    // The slots walked, each up to its newest id this tick (so a far pass's id is one its slot's walk has passed).
    const slots = due.filter((slot) => (newest.get(slot) ?? 0) > state.get(slot)!.farAfter);
    if (!slots.length && !this.retry.size) return [];
    const ranges = slots.map((slot) => ({ after: state.get(slot)!.farAfter, below: newest.get(slot)! + 1 }));
    const r = await since(await query(), ranges, [...this.retry.keys()], FAR_LOOK, near);
    slots.forEach((slot, k) => {
      const st = state.get(slot)!;
      // Read to its end, the range is looked at up to the slot's walked id, not just to its last arrival.
      st.farAfter = Math.max(st.farAfter, r.complete[k] ? ranges[k].below - 1 : (r.scannedTo[k] ?? st.farAfter));
    });
    const waiting = new Set(r.unlinked);
    for (const id of this.retry.keys()) if (!waiting.has(id)) this.retry.delete(id);
    // Before caughtUp: its slot's walkedFrom is still that of the walks before the one that found it.
    for (const id of r.unlinked) if (!this.retry.has(id)) this.retry.set(id, { at: now, pin: state.get(slotOf(id))?.walkedFrom ?? 0 });
    return r.items;
  }
}
