// Retention: the oldest traces go first, by age (LIVETRACE_RETENTION_DAYS) and by count
// (LIVETRACE_RETENTION_ROWS), in small batches, each one writer job: the live sources' writes and
// the API's reads interleave with pruning instead of waiting behind one huge DELETE.
//
// A pruned trace takes its citation rows, port rows, its path when no pass of it is left, and its
// datapath flow lifetime once that lifetime has ended and no other trace cites it. Rows stored
// once (OpenFlow rules, logical-flow snapshots, OVN objects) stay: they are bounded by the size of
// the OVN databases, not by traffic, and the audits read them.
import { CitationBatch } from '../traces/citation-store';
import { citationsOf } from '../traces';
import type { WriteContext } from '../storage/writer';

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
}

/**
 * The newest trace id the row limit makes go: the `keep`-th newest trace's predecessor.
 * One index walk of `keep` entries; run once per pruning round, not per batch.
 */
export function rowLimitCut(tx: Pick<WriteContext, 'stmt'>, keep: number): number | null {
  const row = tx.stmt('SELECT id FROM trace ORDER BY id DESC LIMIT 1 OFFSET ?').get(keep) as { id: number } | undefined;
  return row ? row.id : null;
}

export function cutoffOf(now: number, days: number): string | null {
  return days > 0 ? new Date(now - days * 86_400_000).toISOString() : null;
}

/** The ids of at most `batch` of the oldest traces the limits make go. */
export function victims(tx: WriteContext, limits: RetentionLimits, batch: number): number[] {
  const ids = new Set<number>();
  if (limits.maxPrunedId !== null) {
    for (const r of tx.stmt('SELECT id FROM trace WHERE id <= ? ORDER BY id LIMIT ?').all(limits.maxPrunedId, batch) as Array<{ id: number }>) ids.add(r.id);
  }
  if (limits.before !== null && ids.size < batch) {
    for (const r of tx.stmt('SELECT id FROM trace WHERE created_at < ? ORDER BY created_at LIMIT ?').all(limits.before, batch - ids.size) as Array<{ id: number }>) ids.add(r.id);
  }
  return [...ids];
}

/** Deletes one batch (inside one writer job); returns what went. */
export function pruneBatch(tx: WriteContext, limits: RetentionLimits, batch: number): PruneResult {
  const ids = victims(tx, limits, batch);
  const out: PruneResult = { traces: 0, paths: 0, datapathFlows: 0 };
  if (!ids.length) return out;
  const paths = new Set<number>();
  const flows = new Set<number>();
  const info = tx.stmt('SELECT path_id, datapath_flow_id, steps FROM trace WHERE id = ?');
  const cites: Array<[number, number, number]> = [];
  const delPorts = tx.stmt('DELETE FROM trace_port WHERE trace_id = ?');
  const delTrace = tx.stmt('DELETE FROM trace WHERE id = ?');
  for (const id of ids) {
    const t = info.get(id) as { path_id: number | null; datapath_flow_id: number | null; steps: Buffer } | undefined;
    if (!t) continue;
    if (t.path_id !== null) paths.add(t.path_id);
    if (t.datapath_flow_id !== null) flows.add(t.datapath_flow_id);
    // The trace's own steps say which citation bits are its.
    for (const [kind, ref] of citationsOf(t.steps)) cites.push([kind, ref, id]);
    delPorts.run(id);
    out.traces += delTrace.run(id).changes;
  }
  CitationBatch.clear(tx, cites);
  const delPath = tx.stmt('DELETE FROM path WHERE id = ? AND NOT EXISTS (SELECT 1 FROM trace WHERE path_id = ?)');
  for (const p of paths) out.paths += delPath.run(p, p).changes;
  // Only ended lifetimes: a live one is still followed by the poller under its row id.
  const ended = tx.stmt('SELECT 1 FROM datapath_flow WHERE id = ? AND removed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trace WHERE datapath_flow_id = ?)');
  const delEdges = tx.stmt('DELETE FROM recirc_edge WHERE parent_id = ? OR child_id = ?');
  const delFlow = tx.stmt('DELETE FROM datapath_flow WHERE id = ?');
  for (const f of flows) {
    if (!ended.get(f, f)) continue;
    delEdges.run(f, f);
    out.datapathFlows += delFlow.run(f).changes;
  }
  return out;
}
