// Retention by size (LIVETRACE_RETENTION_MAX_MB): on a hypervisor the disk is the limit, and a full
// disk turns writes into 507s and /health "down". What the bound counts is the database's used
// pages, (page_count − freelist_count) × page_size: what the rows take, and what keeps growing with
// traffic. Not the file: a deleted row frees pages inside it that SQLite reuses before it grows the
// file, which never shrinks without VACUUM, so a bound on the file would prune for ever once it had
// been reached. Not the WAL: it holds page copies since the last checkpoint, is rewritten from its
// start after each one and cut back to journal_size_limit (256 MB, storage/data-source.options.ts);
// pruning cannot shrink it (the prune itself writes there), so counting it would prune everything
// when a long read held a checkpoint back. The disk a store takes is then about the bound, plus the
// free pages up to the file's high-water mark, plus the WAL: the log line names all three.
//
// Past the bound, the oldest traces go until the used pages are under LOW_WATER of it: the share of
// traces the excess is of the used pages, cut as the row limit cuts (an id), and the same share of
// the oldest lifetimes no trace cites (SizeCut.flow), through the same
// rounds that take each trace's paths, lifetimes, and the untraced lifetimes, upcalls, cross-checks
// and ingest ledger older than the oldest trace kept. What retention never prunes (rules,
// logical-flow snapshots, OVN objects, live lifetimes; in a spool, what PostgreSQL does not hold yet)
// cannot be pruned by size either: passes stop when one frees nothing.
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import type { WriteContext } from '../storage/writer';
import { addBatch, type PruneResult } from './retention';

export const MB = 1024 * 1024;
/** Pruning stops under this share of the bound, so the next round does not start again at once. */
export const LOW_WATER = 0.9;
/** Passes a round at most (each re-measures, then cuts again); a round a minute carries on. */
const MAX_PASSES = 20;

export interface StoreSize {
  /** The database's pages holding rows: what the bound counts. */
  usedBytes: number;
  /** The main file (used and free pages). */
  fileBytes: number;
  /** The write-ahead log beside it (0: none, or an in-memory store). */
  walBytes: number;
}

/**
 * The store's size now, on the writer's connection or a reader's (the last committed pages under WAL);
 * `file`: its path ('' or ':memory:' for none).
 */
export function storeSize(tx: Pick<WriteContext, 'stmt'>, file: string): StoreSize {
  const page = (tx.stmt('PRAGMA page_size').get() as { page_size: number }).page_size;
  const pages = (tx.stmt('PRAGMA page_count').get() as { page_count: number }).page_count;
  const free = (tx.stmt('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count;
  let walBytes = 0;
  if (file && file !== ':memory:') {
    try {
      walBytes = statSync(`${file}-wal`).size;
    } catch {
      // No WAL yet (or checkpointed away): nothing to add.
    }
  }
  return { usedBytes: (pages - free) * page, fileBytes: pages * page, walBytes };
}

/** The store's size on a read connection (the metric's, measured when scraped). */
export function storeSizeRead(db: Database.Database): StoreSize {
  return storeSize({ stmt: (sql) => db.prepare(sql) }, db.name);
}

/** Where a size pass cuts: the newest trace id, and the newest ended lifetime's id, of the oldest `share` of each (null: none). */
export interface SizeCut {
  trace: number | null;
  /**
   * The lifetimes no trace cites go below it too (never a live one, nor one ended within QUIET_MS):
   * the poller stores one for every flow it dumps (LIVETRACE_POLL_SCOPE=all), traced or not, and on a
   * hypervisor with few sessions they are most of the store, which a cut by traces alone never reached.
   */
  flow: number | null;
}

/** A round by age and count alone: no cut by size. */
export const NO_SIZE_CUT: Readonly<SizeCut> = Object.freeze({ trace: null, flow: null });

/** The cut of the oldest `share` (0–1] of the traces and of the ended datapath flow lifetimes. One count, one walk each. */
export function sizeCut(tx: WriteContext, share: number): SizeCut {
  const cutOf = (from: string): number | null => {
    const n = (tx.stmt(`SELECT count(*) AS n FROM ${from}`).get() as { n: number }).n;
    const k = Math.min(n, Math.ceil(n * share));
    if (k <= 0) return null;
    return (tx.stmt(`SELECT id FROM ${from} ORDER BY id LIMIT 1 OFFSET ?`).get(k - 1) as { id: number }).id;
  };
  // The ended ones: a live lifetime never goes, and the oldest ids are often the longest-lived flows.
  return { trace: cutOf('trace'), flow: cutOf('datapath_flow WHERE removed_at IS NOT NULL') };
}

export interface SizeRound extends PruneResult {
  /** Writer batches, over every pass. */
  batches: number;
  /** Before the first pass and after the last. */
  from: StoreSize;
  to: StoreSize;
}

/**
 * Prunes by size, pass after pass: measure, cut the oldest traces by the share the used pages are
 * over the low-water mark, prune up to that cut (`prune`: the retention's own round, with it as a
 * row limit), measure again. Null when the store is not over `boundBytes`.
 */
export async function sizeRound(o: {
  boundBytes: number;
  measure: () => Promise<StoreSize>;
  cut: (share: number) => Promise<SizeCut>;
  prune: (cut: SizeCut) => Promise<PruneResult & { batches: number }>;
  stopped: () => boolean;
}): Promise<SizeRound | null> {
  const from = await o.measure();
  if (from.usedBytes <= o.boundBytes) return null;
  const low = o.boundBytes * LOW_WATER;
  const out: SizeRound = { traces: 0, paths: 0, datapathFlows: 0, batches: 0, from, to: from };
  for (let pass = 0; pass < MAX_PASSES && !o.stopped() && out.to.usedBytes > low; pass++) {
    const cut = await o.cut((out.to.usedBytes - low) / out.to.usedBytes);
    if (cut.trace === null && cut.flow === null) break;
    const r = await o.prune(cut);
    addBatch(out, r);
    out.batches += r.batches - 1;
    out.to = await o.measure();
    if (!r.traces && !r.datapathFlows && !r.records && !r.ingestEvents) break;
  }
  return out;
}
