// The spool's own retention when PostgreSQL keeps a longer history (LIVETRACE_CENTRAL_RETENTION_*):
// the spool's oldest traces beyond LIVETRACE_RETENTION_* are deleted locally with the triggers
// muted, so PostgreSQL keeps them, but only a trace that
// - PostgreSQL already holds as the spool does (storage/spool-state.ts: at or below the shipped
//   marks of every row the prune touches, no change of them waiting in ship_log): a spool whose
//   shipper is behind, or whose PostgreSQL is away, keeps everything, up to its bound, as before;
// - the agent can no longer change. A trace row is written once, but while its packet's path is
//   in the path recorder's memory (paths/path-recorder.ts: as long as one of its flows is live, and
//   FORGET_AFTER_MS after it ended) a later pass may merge the path (trace.path_id moves), add the
//   path's ports to every trace of it (trace_port) and rewrite its verdict (path). So a trace goes
//   only when every pass of its path has a lifetime that ended more than QUIET_MS ago (or none: an
//   on-demand trace). Its citation bucket is shipped whole once the next one has begun, and it only
//   changes again when pruned; an ended lifetime is never updated again.
// Deleted with a trace, through the SQLite retention's own pruneTraces (retention.ts): its ports, extra sessions and
// citation bits, its path once empty, its ended lifetime (and its recirculation edges) once no trace
// cites it; a trace goes only if those rows too are in PostgreSQL as they are. A trace skipped now is looked at again next round.
// The lifetimes no trace cites and the ingest ledger go the same way: muted, only as PostgreSQL holds them.
// A store of retention's own (the SQL rule: tests/unit/structure/sql-owners): its reads join the
// owners' tables to decide; every delete goes through the owners' stores (RetentionStores).
import type { WriteContext } from '../storage/writer';
import { BUCKET_SHIFT } from '../traces';
import { muted, pendingKeys, shippedMarks, waitingValues } from '../storage/spool-state';
import { LATE_TRACE_MS } from '../storage/ship-synced';
import type { IngestStore } from '../ingest/ingest-store';
import type { UntracedCursor } from '../datapath-flows/datapath-flow-store';
import { pruneTraces, type PruneResult, type RetentionStores } from './retention';

/**
 * An ended lifetime's passes stay this long before the spool may forget them (the recorder's 60 s, with
 * a margin); the same bound tells PostgreSQL's retention how long its traces may still come (ship-synced.ts).
 */
export const QUIET_MS = LATE_TRACE_MS;
/** Changes waiting in ship_log beyond which the spool is not pruned this round (PostgreSQL behind or away). */
const MAX_PENDING = 100_000;
const TABLES = ['trace', 'trace_port', 'trace_extra_session', 'trace_citation', 'path', 'datapath_flow', 'recirc_edge'] as const;

export interface SpoolBatch extends PruneResult {
  /** Traces looked at (pruned or not): 0 ends the round. */
  scanned: number;
  /** The highest trace id looked at: the next batch starts above it. */
  cursor: number;
  /** Why nothing could be pruned, when nothing could. */
  blocked?: 'no marks' | 'backlog';
}

/** The highest trace id the spool's limits allow to go (null: none). One index walk each. */
export function spoolCut(tx: WriteContext, stores: RetentionStores, limits: { keep: number; before: string | null }): number | null {
  let cut: number | null = null;
  if (limits.keep > 0) cut = stores.traces.idBeyondNewest(tx, limits.keep);
  if (limits.before !== null) {
    // A spool's ids grow with the agent's clock (one writer): the newest trace heard before the cutoff
    // bounds them (by created_at, an ingested translation a producer dated days back took every trace since).
    const r = stores.traces.newestHeardBefore(tx, limits.before);
    if (r !== null && (cut === null || r > cut)) cut = r;
  }
  return cut;
}

/** One batch (inside one writer job): looks at up to `batch` traces above `after`, prunes the safe ones. */
export function pruneSpoolBatch(tx: WriteContext, stores: RetentionStores, o: { after: number; maxId: number; quietBefore: string; batch: number; ship?: boolean }): SpoolBatch {
  const out: SpoolBatch = { traces: 0, paths: 0, datapathFlows: 0, scanned: 0, cursor: o.after };
  const marks = shippedMarks(tx, TABLES);
  if (TABLES.some((t) => !marks.has(t))) return { ...out, blocked: 'no marks' };
  const pending = pendingKeys(tx, TABLES, MAX_PENDING);
  if (!pending) return { ...out, blocked: 'backlog' };
  const waiting = (t: string, col: string) => waitingValues(tx, pending, t, col);
  const traceWaits = waiting('trace', 'id');
  const portWaits = waiting('trace_port', 'trace_id');
  const bucketWaits = waiting('trace_citation', 'bucket');
  const pathWaits = waiting('path', 'id');
  const flowWaits = new Set([...waiting('datapath_flow', 'id'), ...waiting('recirc_edge', 'parent_id'), ...waiting('recirc_edge', 'child_id')]);
  const top = Math.min(o.maxId, marks.get('trace')!, marks.get('trace_port')!);
  const rows = tx.stmt('SELECT id, path_id, datapath_flow_id FROM trace WHERE id > ? AND id <= ? ORDER BY id LIMIT ?').all(o.after, top, o.batch) as Array<{
    id: number;
    path_id: number | null;
    datapath_flow_id: number | null;
  }>;
  out.scanned = rows.length;
  if (!rows.length) return out;
  out.cursor = rows[rows.length - 1].id;
  // A trace's extra sessions (rare: its mark stays behind while none is written, so it does not bound
  // `top`): those above their mark or waiting are not in PostgreSQL yet.
  const extraMark = marks.get('trace_extra_session')!;
  const extraWaits = new Set([
    ...waiting('trace_extra_session', 'trace_id'),
    ...(tx.stmt('SELECT DISTINCT trace_id FROM trace_extra_session WHERE trace_id > ? AND trace_id <= ?').all(Math.max(o.after, extraMark), top) as Array<{ trace_id: number }>).map((r) => r.trace_id),
  ]);

  // A pass whose lifetime is live, or ended within QUIET_MS: its path may still change. Ended as
  // the agent heard it too (heard_at: an ingested removal a producer dated by a clock behind ours).
  const loud = tx.stmt('SELECT 1 FROM datapath_flow WHERE id = ? AND (removed_at IS NULL OR removed_at >= ? OR heard_at >= ?)');
  const loudPath = tx.stmt(
    'SELECT 1 FROM trace t JOIN datapath_flow f ON f.id = t.datapath_flow_id WHERE t.path_id = ? AND (f.removed_at IS NULL OR f.removed_at >= ? OR f.heard_at >= ?) LIMIT 1',
  );
  const quietPaths = new Map<number, boolean>();
  const quiet = (r: (typeof rows)[number]): boolean => {
    if (r.path_id === null) return r.datapath_flow_id === null || !loud.get(r.datapath_flow_id, o.quietBefore, o.quietBefore);
    let q = quietPaths.get(r.path_id);
    if (q === undefined) quietPaths.set(r.path_id, (q = !pathWaits.has(r.path_id) && !loudPath.get(r.path_id, o.quietBefore, o.quietBefore)));
    return q;
  };
  const bucketMark = marks.get('trace_citation')!;
  // The path and lifetime the trace may take with it: in PostgreSQL as they are too, or the trace
  // waits (else they would stay in the spool for good: retention reaches them only through traces).
  const flowShipped = shippedLifetime(tx, marks, flowWaits);
  const shippedFlow = (f: number | null): boolean => f === null || flowShipped(f);
  const safe = rows.filter((r) => {
    const bucket = Math.floor(r.id / 2 ** BUCKET_SHIFT);
    return (
      bucket <= bucketMark &&
      !bucketWaits.has(bucket) &&
      !traceWaits.has(r.id) &&
      !portWaits.has(r.id) &&
      !extraWaits.has(r.id) &&
      (r.path_id === null || r.path_id <= marks.get('path')!) &&
      shippedFlow(r.datapath_flow_id) &&
      quiet(r)
    );
  });
  if (!safe.length) return out;

  return unshipped(tx, o.ship, () => Object.assign(out, pruneTraces(tx, stores, safe.map((r) => r.id))));
}

/**
 * The lifetimes no trace cites, which the prune by traces never reaches (the poller stores one for
 * every flow it dumps): one batch of DatapathFlowStore.pruneEndedUntraced, muted, taking only those
 * PostgreSQL holds as the spool does (at or below the shipped marks, their edges too, no change of
 * them waiting). A spool whose shipper is behind or away keeps them this round.
 */
export function pruneSpoolUntraced(
  tx: WriteContext,
  stores: RetentionStores,
  o: { after: UntracedCursor; before: string | null; maxId: number | null; quietBefore: string; batch: number; ship?: boolean },
): { cursor: UntracedCursor | null; deleted: number } {
  const tables = ['datapath_flow', 'recirc_edge'];
  const marks = shippedMarks(tx, tables);
  const pending = pendingKeys(tx, tables, MAX_PENDING);
  if (tables.some((t) => !marks.has(t)) || !pending) return { cursor: null, deleted: 0 };
  const waits = new Set([...waitingValues(tx, pending, 'datapath_flow', 'id'), ...waitingValues(tx, pending, 'recirc_edge', 'parent_id'), ...waitingValues(tx, pending, 'recirc_edge', 'child_id')]);
  const { ship, ...limits } = o;
  return unshipped(tx, ship, () => stores.flows.pruneEndedUntraced(tx, { ...limits, may: shippedLifetime(tx, marks, waits) }));
}

/** Whether PostgreSQL holds a lifetime as the spool does: at or below the marks, its edges too, no change of them waiting. */
function shippedLifetime(tx: WriteContext, marks: Map<string, number>, waits: Set<number>): (f: number) => boolean {
  const newestEdge = tx.stmt('SELECT MAX(child_id) AS m FROM recirc_edge WHERE parent_id = ? OR child_id = ?');
  return (f) => {
    if (f > marks.get('datapath_flow')! || waits.has(f)) return false;
    const m = (newestEdge.get(f, f) as { m: number | null }).m;
    return m === null || m <= marks.get('recirc_edge')!;
  };
}


/** The ingest ledger's old entries (IngestStore.pruneOldest), muted, once PostgreSQL holds them as the spool does. */
export function pruneSpoolLedger(
  tx: WriteContext,
  ledger: Pick<IngestStore, 'pruneOldest'>,
  o: { after: number; before: string | null; maxId: number | null; quietBefore: string; batch: number; firsts?: Set<string>; ship?: boolean },
): { cursor: number | null; deleted: number } {
  const marks = shippedMarks(tx, ['ingest_event']);
  const pending = pendingKeys(tx, ['ingest_event'], MAX_PENDING);
  if (!marks.has('ingest_event') || !pending) return { cursor: null, deleted: 0 };
  const mark = marks.get('ingest_event')!;
  const waits = waitingValues(tx, pending, 'ingest_event', 'id');
  const { ship, ...limits } = o;
  return unshipped(tx, ship, () => ledger.pruneOldest(tx, { ...limits, may: (id) => id <= mark && !waits.has(id) }));
}

/**
 * Upcalls or cross-checks (UpcallStore / CrossCheckStore.pruneOldest), muted, none PostgreSQL does not
 * hold as the spool does: above the table's shipped mark or from a change waiting in ship_log on. Both
 * are written once, so a row at or below the mark is PostgreSQL's as it is. Returns how many went.
 */
export function pruneSpoolRecords(
  tx: WriteContext,
  records: NonNullable<RetentionStores['records']>[number],
  o: { before: string | null; maxId: number | null; batch: number; ship?: boolean },
): number {
  const t = records.table;
  const marks = shippedMarks(tx, [t]);
  const pending = pendingKeys(tx, [t], MAX_PENDING);
  if (!marks.has(t) || !pending) return 0;
  let upTo = marks.get(t)!;
  for (const id of waitingValues(tx, pending, t, 'id')) if (id <= upTo) upTo = id - 1;
  const { ship, ...limits } = o;
  return unshipped(tx, ship, () => records.pruneOldest(tx, { ...limits, upTo }));
}

/**
 * Muted (PostgreSQL keeps its copy: its own retention prunes it), unless `ship`: the spool's size
 * bound when PostgreSQL follows the spool, whose deletes PostgreSQL then makes too.
 */
function unshipped<T>(tx: WriteContext, ship: boolean | undefined, fn: () => T): T {
  return ship ? fn() : muted(tx, fn);
}
