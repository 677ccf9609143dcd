// Retention: the oldest traces go first, by age (LIVETRACE_RETENTION_DAYS) and by count
// (LIVETRACE_RETENTION_ROWS), in small batches, each one writer job: the live sources' writes and
// the API's reads interleave with pruning instead of waiting behind one huge DELETE.
//
// A pruned trace takes its citation rows, port rows, its path when no pass of it is left, and its
// datapath flow lifetime once that lifetime has ended and no other trace cites it. The lifetimes no
// trace ever cited (most of the poller's), upcalls and cross-checks go by the same limits
// (untracedLimits: older than the history kept, or beyond as many as traces are kept). Rows stored
// once (OpenFlow rules, logical-flow snapshots, OVN objects) stay: they are bounded by the size of
// the OVN databases, not by traffic, and the audits read them. (PostgreSQL's own round deletes those of
// a writer slot gone for good: central-dead-slot-store.ts.)
import type { CrossCheckStore } from '../cross-checks/cross-check-store';
import type { DatapathFlowStore } from '../datapath-flows/datapath-flow-store';
import type { UpcallStore } from '../upcalls/upcall-store';
import type { PathStore } from '../paths/path-store';
import type { WriteContext } from '../storage/writer';
import type { TraceStore } from '../traces/trace-store';

export interface RetentionLimits {
  /** Traces created before this time go (RFC 3339); null: no age limit. */
  before: string | null;
  /** Traces with an id at or below this go (computed from the row limit); null: no row limit. */
  maxPrunedId: number | null;
}

export interface PruneResult {
  traces: number;
  paths: number;
  datapathFlows: number;
  /** Upcalls and cross-checks (RetentionStores.records). */
  records?: number;
  /** Entries of the ingest ledger (ingest_event). */
  ingestEvents?: number;
  /** Rules, snapshots and OVN objects of writer slots gone for good (PostgreSQL's round: central-dead-slot-store.ts). */
  leftovers?: number;
}

/** Adds one batch's counts to a round's total (SQLite's, the spool's and PostgreSQL's rounds alike). */
export function addBatch(total: PruneResult & { batches: number }, r: PruneResult): void {
  total.batches++;
  total.traces += r.traces;
  total.paths += r.paths;
  total.datapathFlows += r.datapathFlows;
  if (r.records) total.records = (total.records ?? 0) + r.records;
  if (r.ingestEvents) total.ingestEvents = (total.ingestEvents ?? 0) + r.ingestEvents;
  if (r.leftovers) total.leftovers = (total.leftovers ?? 0) + r.leftovers;
}

/** The owners of what a pruned trace takes with it. */
export interface RetentionStores {
  traces: Pick<TraceStore, 'idBeyondNewest' | 'oldest' | 'prune' | 'oldestHeardAt' | 'newestHeardBefore'>;
  paths: Pick<PathStore, 'deleteIfEmpty'>;
  flows: Pick<DatapathFlowStore, 'deleteIfEndedAndUntraced' | 'idBeyondNewest' | 'pruneEndedUntraced'>;
  /** Rows traffic adds that no trace takes with it: upcalls (vswitchd's log, ingest) and cross-checks. */
  records?: Array<Pick<UpcallStore | CrossCheckStore, 'pruneOldest' | 'idBeyondNewest' | 'table'>>;
}

/** What the lifetimes no trace cites are kept by (DatapathFlowStore.pruneEndedUntraced). */
export interface UntracedLimits {
  /** Those ended before this go (RFC 3339; null: no time limit). */
  before: string | null;
  /** Those with an id at or below this go (beyond the row limit's newest; null: none). */
  maxId: number | null;
}

/**
 * The limits of the lifetimes no trace cites, once the traces are pruned: the age limit; with a row
 * limit that pruned traces, when the oldest trace kept was heard (the history kept begins there);
 * and as many of them as traces are kept (ids beyond the row limit's newest), or up to `sizeCut`
 * (LIVETRACE_RETENTION_MAX_MB's cut of these lifetimes, SizeCut.flow) when it reaches further.
 */
export function untracedLimits(tx: WriteContext, stores: RetentionStores, o: { before: string | null; rowLimited: boolean; keep: number; sizeCut: number | null }): UntracedLimits {
  let before = o.before;
  const oldestKept = o.rowLimited ? stores.traces.oldestHeardAt(tx) : null;
  if (oldestKept !== null && (before === null || oldestKept > before)) before = oldestKept;
  return { before, maxId: higher(o.keep > 0 ? stores.flows.idBeyondNewest(tx, o.keep) : null, o.sizeCut) };
}

/** The higher of two cuts (null: no cut). */
export function higher(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/**
 * The newest trace id the row limit makes go: the `keep`-th newest trace's predecessor.
 * One index walk of `keep` entries; run once per pruning round, not per batch.
 */
export function rowLimitCut(tx: WriteContext, stores: RetentionStores, keep: number): number | null {
  return stores.traces.idBeyondNewest(tx, keep);
}

export function cutoffOf(now: number, days: number): string | null {
  return days > 0 ? new Date(now - days * 86_400_000).toISOString() : null;
}

/** Deletes one batch (inside one writer job); returns what went. */
export function pruneBatch(tx: WriteContext, stores: RetentionStores, limits: RetentionLimits, batch: number): PruneResult {
  const ids = stores.traces.oldest(tx, { maxId: limits.maxPrunedId, before: limits.before }, batch);
  if (!ids.length) return { traces: 0, paths: 0, datapathFlows: 0 };
  return pruneTraces(tx, stores, ids);
}

/**
 * Deletes these traces and what goes with them: their path once no pass of it is left, their
 * lifetime once ended and cited by no other trace. Both retentions (this one, and the spool's,
 * spool-retention-store.ts) delete through here, so they take the same rows with a trace.
 */
export function pruneTraces(tx: WriteContext, stores: RetentionStores, ids: readonly number[]): PruneResult {
  const pruned = stores.traces.prune(tx, ids);
  const out: PruneResult = { traces: pruned.length, paths: 0, datapathFlows: 0 };
  const paths = new Set<number>();
  const flows = new Set<number>();
  for (const t of pruned) {
    if (t.pathId !== null) paths.add(t.pathId);
    if (t.datapathFlowId !== null) flows.add(t.datapathFlowId);
  }
  for (const p of paths) if (stores.paths.deleteIfEmpty(tx, p)) out.paths++;
  // Only ended lifetimes: a live one is still followed by the poller under its row id.
  for (const f of flows) if (stores.flows.deleteIfEndedAndUntraced(tx, f)) out.datapathFlows++;
  return out;
}
