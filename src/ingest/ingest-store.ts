// Writing accepted events, inside one writer job each chunk. The ledger row goes first with
// INSERT OR IGNORE on the unique (source, event_id): when it changes nothing the event was already
// stored and is skipped, so a producer can resend a batch after a timeout without doubling it.
// Datapath-flow events become lifetimes with source 'ingest' (chassis + UFID + first seen).
import { inPort, parseKey, recircId } from '../ovs/odp-key';
import type { WriteContext } from '../storage/writer';
import type { TraceStore } from '../traces/trace-store';
import type { AnnotatedTrace } from '../correlation/types';
import type { UpcallsService } from '../upcalls/upcalls.service';
import type { EventV1, UkeyCreatedV1 } from './event-schema';

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

export function writeEvents(tx: WriteContext, events: readonly Prepared[], receivedAt: string, deps: { upcalls: UpcallsService; traces: TraceStore }): WriteOutcome {
  const out: WriteOutcome = { stored: 0, duplicates: 0 };
  const ledger = tx.stmt(
    'INSERT OR IGNORE INTO ingest_event (source, event_id, type, time, received_at, chassis, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const setRef = tx.stmt('UPDATE ingest_event SET ref_id = ? WHERE id = ?');
  for (const p of events) {
    const e = p.event;
    const time = new Date(e.time).toISOString();
    const r = ledger.run(p.source, e.id, e.type, time, receivedAt, p.chassis, JSON.stringify(e));
    if (r.changes === 0) {
      out.duplicates++;
      continue;
    }
    out.stored++;
    const ref = apply(tx, p, time, deps);
    if (ref !== null) setRef.run(ref, r.lastInsertRowid);
  }
  return out;
}

function apply(tx: WriteContext, p: Prepared, time: string, deps: { upcalls: UpcallsService; traces: TraceStore }): number | null {
  const e = p.event;
  switch (e.type) {
    case 'upcall': {
      const k = keyFields(e.key);
      return deps.upcalls.insert(tx, {
        chassis: p.chassis,
        source: p.source,
        eventId: e.id,
        time,
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
      const open = openLifetime(tx, p.chassis, e.ufid);
      if (open && open.actions === e.actions) {
        touch(tx, open.id, time, e);
        return open.id;
      }
      if (open) close(tx, open.id, time, 'actions_changed');
      return createLifetime(tx, p.chassis, time, e);
    }
    case 'ukey_updated': {
      const open = openLifetime(tx, p.chassis, e.ufid);
      if (!open) return null;
      if (e.actions !== undefined && e.actions !== open.actions) {
        close(tx, open.id, time, 'actions_changed');
        return createLifetime(tx, p.chassis, time, { ...e, key: open.key, actions: e.actions });
      }
      touch(tx, open.id, time, e);
      return open.id;
    }
    case 'ukey_revalidated': {
      const open = openLifetime(tx, p.chassis, e.ufid);
      if (!open) return null;
      if (e.result === 'DELETE') close(tx, open.id, time, (e.reason ?? 'revalidator_delete').toLowerCase());
      else touch(tx, open.id, time, {});
      return open.id;
    }
    case 'ukey_removed': {
      const open = openLifetime(tx, p.chassis, e.ufid);
      if (!open) return null;
      close(tx, open.id, time, (e.reason ?? 'removed').toLowerCase());
      return open.id;
    }
    case 'translation': {
      if (!p.trace) return null;
      const dp = e.ufid ? anyLifetimeAt(tx, p.chassis, e.ufid, time) : null;
      const upcall = e.upcallId
        ? (tx.stmt(`SELECT ref_id FROM ingest_event WHERE source = ? AND event_id = ? AND type = 'upcall'`).get(p.source, e.upcallId) as { ref_id: number | null } | undefined)
        : undefined;
      return deps.traces.insert(tx, {
        trace: p.trace,
        chassis: p.chassis,
        createdAt: time,
        ufid: e.ufid ?? null,
        datapathFlowId: dp,
        upcallId: upcall?.ref_id ?? null,
        consistent: null,
      });
    }
  }
}

function keyFields(key: string | undefined): { inPort: string | null; recircId: string | null } {
  if (!key) return { inPort: null, recircId: null };
  try {
    const k = parseKey(key);
    return { inPort: inPort(k) ?? null, recircId: '0x' + recircId(k).toString(16) };
  } catch {
    return { inPort: null, recircId: null };
  }
}

interface Lifetime {
  id: number;
  key: string;
  actions: string;
}

function openLifetime(tx: WriteContext, chassis: string, ufid: string): Lifetime | undefined {
  return tx
    .stmt(`SELECT id, key, actions FROM datapath_flow WHERE chassis = ? AND ufid = ? AND source = 'ingest' AND removed_at IS NULL ORDER BY id DESC LIMIT 1`)
    .get(chassis, ufid) as Lifetime | undefined;
}

/** The lifetime (any source: poller, vlog, ingest) of that UFID in force at `time`. */
function anyLifetimeAt(tx: WriteContext, chassis: string, ufid: string, time: string): number | null {
  const r = tx
    .stmt(`SELECT id FROM datapath_flow WHERE chassis = ? AND ufid = ? AND (removed_at IS NULL OR removed_at >= ?) ORDER BY first_seen, id LIMIT 1`)
    .get(chassis, ufid, time) as { id: number } | undefined;
  return r?.id ?? null;
}

function createLifetime(tx: WriteContext, chassis: string, time: string, e: Pick<UkeyCreatedV1, 'ufid' | 'key' | 'actions' | 'packets' | 'bytes' | 'used'>): number {
  const k = keyFields(e.key);
  return Number(
    tx
      .stmt(
        `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, in_port, recirc_id, key, actions, packets, bytes, used, source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ingest')`,
      )
      .run(chassis, e.ufid, time, time, k.inPort, k.recircId ?? '0x0', e.key, e.actions, e.packets ?? 0, e.bytes ?? 0, e.used ?? null).lastInsertRowid,
  );
}

function touch(tx: WriteContext, id: number, time: string, e: { packets?: number; bytes?: number; used?: string }): void {
  tx.stmt(
    'UPDATE datapath_flow SET last_seen = MAX(last_seen, ?), packets = COALESCE(?, packets), bytes = COALESCE(?, bytes), used = COALESCE(?, used) WHERE id = ?',
  ).run(time, e.packets ?? null, e.bytes ?? null, e.used ?? null, id);
}

function close(tx: WriteContext, id: number, time: string, reason: string): void {
  tx.stmt('UPDATE datapath_flow SET removed_at = ?, removal_reason = ? WHERE id = ?').run(time, reason, id);
}

function compact(o: Record<string, unknown>): Record<string, unknown> | null {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return Object.keys(out).length ? out : null;
}
