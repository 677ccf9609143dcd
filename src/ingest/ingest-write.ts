// Writing accepted events, inside one writer job each chunk. The ledger entry goes first
// (ingest-store.ts): when (source, id) was already stored the event is skipped, so a producer can
// resend a batch after a timeout without doubling it. Datapath-flow events become lifetimes with
// source 'ingest' (chassis + UFID + first seen).
import type { DatapathFlowStore, OpenOf } from '../datapath-flows/datapath-flow-store';
import { recircIdHex } from '../ovs/ids';
import { inPort, parseKey, recircId } from '../ovs/odp-key';
import type { WriteContext } from '../storage/writer';
import type { TraceStore } from '../traces/trace-store';
import type { AnnotatedTrace } from '../correlation/types';
import type { UpcallStore } from '../upcalls/upcall-store';
import type { EventV1, UkeyCreatedV1 } from './event-schema';
import type { IngestStore } from './ingest-store';

export interface Prepared {
  readonly line: number;
  readonly event: EventV1;
  readonly source: string;
  readonly chassis: string;
  /** Translations only: annotated before the job (pure CPU, no reason to hold the writer). */
  readonly trace?: AnnotatedTrace;
}

export interface WriteOutcome {
  stored: number;
  duplicates: number;
}

/** The stores an event writes to. */
export interface IngestStores {
  ledger: IngestStore;
  flows: DatapathFlowStore;
  upcalls: UpcallStore;
  traces: TraceStore;
}

export function writeEvents(tx: WriteContext, events: readonly Prepared[], receivedAt: string, deps: IngestStores): WriteOutcome {
  const out: WriteOutcome = { stored: 0, duplicates: 0 };
  for (const p of events) {
    const e = p.event;
    const time = new Date(e.time).toISOString();
    const ufid = 'ufid' in e && e.ufid !== undefined ? e.ufid : null;
    const entry = deps.ledger.record(tx, { source: p.source, eventId: e.id, type: e.type, time, receivedAt, chassis: p.chassis, ufid, body: JSON.stringify(e) });
    if (entry === null) {
      out.duplicates++;
      continue;
    }
    out.stored++;
    const ref = apply(tx, p, time, receivedAt, deps);
    if (ref === null) continue;
    deps.ledger.setRef(tx, entry, ref);
    // The idle sweep counts from when an event was heard, on the agent's clock (heard).
    if (e.type !== 'upcall' && e.type !== 'translation') deps.flows.heard(tx, ref, receivedAt);
  }
  return out;
}

function apply(tx: WriteContext, p: Prepared, time: string, heardAt: string, deps: IngestStores): number | null {
  const e = p.event;
  const flows = deps.flows;
  switch (e.type) {
    case 'upcall': {
      const k = keyFields(e.key);
      return deps.upcalls.insert(tx, {
        chassis: p.chassis,
        source: p.source,
        eventId: e.id,
        time,
        heardAt,
        upcallType: e.upcallType ?? null,
        dpif: e.dpif ?? null,
        thread: e.thread ?? null,
        key: e.key ?? null,
        packet: e.packet ?? null,
        inPort: k.inPort,
        recircId: k.recircId,
        ufid: e.ufid ?? null,
        sampled: false,
        extra: compact({ queueId: e.queueId, installed: e.installed, datapathActions: e.datapathActions }),
      });
    }
    case 'ukey_created': {
      const open = flows.openOf(tx, 'ingest', p.chassis, e.ufid);
      // Late news of an earlier install (events out of order): a lifetime of this UFID, open or
      // already ended (or none open at all), began after it. A UFID holds one flow at a time, so
      // this install ended by then: the same actions as that next lifetime are that one, seen
      // earlier; other actions are an earlier lifetime of its own, ended when the next began.
      const next = !open || time < open.firstSeen ? flows.begunAfter(tx, 'ingest', p.chassis, e.ufid, time) : undefined;
      const before = !open || time < open.firstSeen ? flows.begunBy(tx, 'ingest', p.chassis, e.ufid, time) : undefined;
      if (next) {
        // And the lifetime in force before it, if any, ended by this install.
        if (before && before.id !== next.id && (before.removedAt === null || before.removedAt > time)) flows.close(tx, before.id, time, 'actions_changed');
        // A removal heard between this install and the next makes it a lifetime of its own, whatever its actions.
        const removal = heardRemoval(tx, deps, p.chassis, e.ufid, time, next.firstSeen, before);
        if (next.actions === e.actions && !removal) {
          flows.seenEarlier(tx, next.id, time);
          return next.id;
        }
        const earlier = createLifetime(flows, tx, p.chassis, time, e, heardAt);
        if (removal) endByHeard(tx, deps, earlier, time, removal, before);
        else flows.close(tx, earlier, next.firstSeen, 'actions_changed');
        return earlier;
      }
      if (open && open.actions === e.actions && !fell(open, time, e)) {
        flows.touch(tx, open.id, time, e);
        return open.id;
      }
      if (open && open.actions === e.actions) {
        flows.close(tx, open.id, time, 'counters_reset');
        return createEndedByHeard(tx, deps, p.chassis, time, e, heardAt);
      }
      // None open: the lifetime begun before it, if it outlived this install, is the same flow heard again.
      if (!open && before && before.removedAt !== null && before.removedAt > time && before.actions === e.actions) {
        flows.touch(tx, before.id, time, e);
        return before.id;
      }
      if (open) flows.close(tx, open.id, time, 'actions_changed');
      return createEndedByHeard(tx, deps, p.chassis, time, e, heardAt, open ? undefined : before);
    }
    case 'ukey_updated': {
      const open = flows.openOf(tx, 'ingest', p.chassis, e.ufid);
      if (!open || time < open.firstSeen) return earlierLifetime(flows, tx, p.chassis, e.ufid, time, null);
      const changed = e.actions !== undefined && e.actions !== open.actions;
      if (changed || fell(open, time, e)) {
        flows.close(tx, open.id, time, changed ? 'actions_changed' : 'counters_reset');
        return createEndedByHeard(tx, deps, p.chassis, time, { ...e, key: open.key, actions: e.actions ?? open.actions }, heardAt);
      }
      flows.touch(tx, open.id, time, e);
      return open.id;
    }
    case 'ukey_revalidated': {
      const open = flows.openOf(tx, 'ingest', p.chassis, e.ufid);
      const removal = removalOf(e);
      if (!open || time < open.firstSeen) return earlierLifetime(flows, tx, p.chassis, e.ufid, time, removal);
      if (removal) flows.close(tx, open.id, time, removal);
      else flows.touch(tx, open.id, time, {});
      return open.id;
    }
    case 'ukey_removed': {
      const open = flows.openOf(tx, 'ingest', p.chassis, e.ufid);
      const removal = removalOf(e)!;
      if (!open || time < open.firstSeen) return earlierLifetime(flows, tx, p.chassis, e.ufid, time, removal);
      flows.close(tx, open.id, time, removal);
      return open.id;
    }
    case 'translation': {
      if (!p.trace) return null;
      return deps.traces.insert(tx, {
        trace: p.trace,
        chassis: p.chassis,
        createdAt: time,
        heardAt,
        ufid: e.ufid ?? null,
        datapathFlowId: e.ufid ? flows.inForceAt(tx, p.chassis, e.ufid, time) : null,
        upcallId: e.upcallId ? deps.ledger.upcallRef(tx, p.source, e.upcallId) : null,
        consistent: null,
      });
    }
  }
}

/**
 * Counters below those of the newest event heard of the open lifetime: a flow's only grow, so it was
 * deleted and installed again under the same UFID, its removal never heard (the poller's
 * counters_reset). An event older than that newest one is late news of the same flow (touch).
 */
function fell(open: OpenOf, time: string, e: { packets?: number; bytes?: number }): boolean {
  if (time < open.lastSeen) return false;
  return (e.packets !== undefined && e.packets < open.packets) || (e.bytes !== undefined && e.bytes < open.bytes);
}

/**
 * An event dated before the open lifetime of its UFID began, or when none is open: it is about the
 * lifetime that had begun by then (events can arrive out of order: a removal sent late must not
 * end the flow installed after it). A removal inside that lifetime ends it then (it may have been
 * closed later, when the next install was heard of first); anything else only marks it seen.
 * Nothing when no lifetime had begun, or it had already ended by then.
 */
function earlierLifetime(flows: DatapathFlowStore, tx: WriteContext, chassis: string, ufid: string, time: string, removal: string | null): number | null {
  const l = flows.begunBy(tx, 'ingest', chassis, ufid, time);
  if (!l || (l.removedAt !== null && l.removedAt <= time)) return null;
  if (removal !== null) flows.close(tx, l.id, time, removal);
  else flows.touch(tx, l.id, time, {});
  return l.id;
}

/** The reason a removal event ends a lifetime with; null for an event that removes nothing. */
function removalOf(e: EventV1): string | null {
  if (e.type === 'ukey_removed') return (e.reason ?? 'removed').toLowerCase();
  if (e.type === 'ukey_revalidated' && e.result === 'DELETE') return (e.reason ?? 'revalidator_delete').toLowerCase();
  return null;
}

interface HeardRemoval {
  entry: number;
  time: string;
  reason: string;
  /** It had ended `before` (the lifetime begun before the install), which this install shows was gone by then. */
  moved: boolean;
}

/**
 * The first removal of this UFID the ledger holds dated in [time, until) that a lifetime installed
 * at `time` takes: one heard before that install (events out of order, or another producer's) was
 * applied to no lifetime, or to `before`, the one begun before it, which the UFID no longer held
 * once this was installed. A removal that ended some other lifetime, or a revalidator's KEEP, is no
 * end of it.
 */
function heardRemoval(
  tx: WriteContext,
  deps: IngestStores,
  chassis: string,
  ufid: string,
  time: string,
  until: string | null,
  before: { id: number; removedAt: string | null } | undefined,
): HeardRemoval | undefined {
  for (const r of deps.ledger.removalsIn(tx, chassis, ufid, time, until)) {
    const reason = removalOf(JSON.parse(r.body) as EventV1);
    if (reason === null) continue;
    const moved = r.refId !== null && r.refId === before?.id && before.removedAt === r.time;
    if (r.refId !== null && !moved) return undefined;
    return { entry: r.id, time: r.time, reason, moved };
  }
  return undefined;
}

/** Ends lifetime `id`, installed at `time`, by a removal heard before it (see heardRemoval). */
function endByHeard(tx: WriteContext, deps: IngestStores, id: number, time: string, r: HeardRemoval, before: { id: number } | undefined): void {
  if (r.moved) deps.flows.close(tx, before!.id, time, 'actions_changed');
  deps.flows.close(tx, id, r.time, r.reason);
  deps.ledger.setRef(tx, r.entry, id);
}

/** A new lifetime from `time`, ended at once when a removal of it was heard before it (with no later lifetime of its UFID). */
function createEndedByHeard(
  tx: WriteContext,
  deps: IngestStores,
  chassis: string,
  time: string,
  e: Pick<UkeyCreatedV1, 'ufid' | 'key' | 'actions' | 'packets' | 'bytes' | 'used'>,
  heardAt: string,
  before?: { id: number; removedAt: string | null },
): number {
  const removal = heardRemoval(tx, deps, chassis, e.ufid, time, null, before);
  const id = createLifetime(deps.flows, tx, chassis, time, e, heardAt);
  if (removal) endByHeard(tx, deps, id, time, removal, before);
  return id;
}

function keyFields(key: string | undefined): { inPort: string | null; recircId: string | null } {
  if (!key) return { inPort: null, recircId: null };
  try {
    const k = parseKey(key);
    return { inPort: inPort(k) ?? null, recircId: recircIdHex(recircId(k)) };
  } catch {
    return { inPort: null, recircId: null };
  }
}

function createLifetime(
  flows: DatapathFlowStore,
  tx: WriteContext,
  chassis: string,
  time: string,
  e: Pick<UkeyCreatedV1, 'ufid' | 'key' | 'actions' | 'packets' | 'bytes' | 'used'>,
  heardAt: string,
): number {
  const k = keyFields(e.key);
  return flows.create(tx, {
    chassis,
    ufid: e.ufid,
    firstSeen: time,
    lastSeen: time,
    inPort: k.inPort,
    recircId: k.recircId ?? '0x0',
    key: e.key,
    actions: e.actions,
    packets: e.packets ?? 0,
    bytes: e.bytes ?? 0,
    used: e.used ?? null,
    source: 'ingest',
    heardAt,
  });
}

function compact(o: Record<string, unknown>): Record<string, unknown> | null {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return Object.keys(out).length ? out : null;
}
