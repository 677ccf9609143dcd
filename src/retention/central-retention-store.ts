// PostgreSQL's own retention (LIVETRACE_CENTRAL_RETENTION_DAYS / _ROWS), once the spools prune
// locally (spool-retention-store.ts) and ship no deletes: the oldest traces of every chassis go, by
// when their agent heard them (TRACE_HEARD: ids are per writer slot, so they order time only within
// one chassis; created_at is an ingest producer's clock for a translation), with what the
// SQLite retention takes with a trace, in its order: port rows and citation bits with the trace,
// then its path once no trace is left under it, then its datapath flow lifetime once ended and
// cited by no trace (with its recirculation edges). Rules, snapshots and OVN objects stay, as in
// SQLite: they are bounded by the OVN databases, not by traffic. Then, by the same limits, the rows
// no trace takes with it (central-untraced-store.ts): untraced lifetimes, upcalls, cross-checks, the
// ingest ledger. Last, the rules, snapshots and OVN objects of each writer slot gone for good (silent
// past LIVETRACE_SLOT_REUSE_DAYS, no traffic row left: central-dead-slot-store.ts): per live slot they
// are bounded by the OVN databases, but every spool lost left its own copy, and its slot, once they
// are gone, is given back to the next claim (storage/slot-take.ts).
//
// Every process with the keys set tries each round; a PostgreSQL advisory lock (session-level, on
// one pooled connection held for the round) lets one run and the others skip. Each batch is its
// own short transaction on that connection, so shippers' upserts and the API's reads wait at most
// one batch for a row, never a whole round.
// A store of retention's own (the SQL rule: tests/unit/structure/sql-owners): PostgreSQL-only,
// set-based deletes across the owners' tables, which their SQLite stores do row by row.
import type { Pool, PoolClient } from 'pg';
import { inTransaction, olderServer, SILENT_MS, withClient } from '../storage/pg-client';
import { BUCKET_SHIFT, citationsOf } from '../traces';
import type { SlotRanged } from '../storage/slot-take';
import { pruneDeadSlots } from './central-dead-slot-store';
import { atOrBefore, beyondNewest, heardSince, pruneCentralUntraced, type RowCut, TRACE_HEARD, TRACED_IN, untracedCuts } from './central-untraced-store';
import { addBatch, type PruneResult } from './retention';

/** pg_advisory_lock key of the central retention (the migrations hold 7946710). */
export const CENTRAL_RETENTION_LOCK = 7946711;
/** Traces per PostgreSQL transaction (bench/api/RESULTS-postgres.md: each ~tens of ms). */
export const CENTRAL_BATCH = 500;

export interface CentralLimits {
  /** Traces heard before this go (RFC 3339, the agents' clock; null: no age limit). */
  before: string | null;
  /** The row limit's cut (centralRowCut; null: no row limit): traces heard before `heard` go, and of those heard then, `id` and below. */
  rowCut: RowCut | null;
  /** Writer slots last heard from before this hold none of their lifetimes back (TRACED_IN; '': no bound). */
  heardSince: string;
}

export interface CentralRound extends PruneResult {
  /** false: another process held the lock; this one did nothing. */
  ran: boolean;
  batches: number;
  seconds: number;
  /** Writer slots gone for good left with none of their rows this round (a claim may take them). */
  deadSlots?: number;
}

export interface CentralConfig {
  days: number;
  keep: number;
  silentSlotHours?: number;
  /**
   * The slots gone for good: silent this many days (LIVETRACE_SLOT_REUSE_DAYS; 0: none), their traffic
   * judged by these tables (storage/slot-take.ts slotRanged of the spool). Unset: none.
   */
  deadSlots?: { days: number; ranged: SlotRanged[] };
}

/**
 * The newest trace beyond the `keep` newest, across every chassis, by when it was heard and then by
 * id (one walk of idx_trace_heard; beyondNewest says why the id). By created_at, from an ingest
 * producer days behind, a translation heard a minute ago was cut first, and one from a producer ahead
 * outlived what was heard after it; SQLite keeps its newest ids, in the order its agent heard them
 * (test/postgres/central-retention-row-clock.spec.ts).
 */
export async function centralRowCut(c: PoolClient, keep: number): Promise<RowCut | null> {
  return (await c.query<RowCut>(ROW_CUT, [keep])).rows[0] ?? null;
}

const ROW_CUT = beyondNewest('trace', TRACE_HEARD);
/** The oldest traces over the row limit's cut ($1 heard, $3 id) or the age limit ($1), on the agents' clock (idx_trace_heard); $2 how many. */
const OVER = (where: string) => `SELECT id, path_id, datapath_flow_id, steps FROM trace WHERE ${where} ORDER BY ${TRACE_HEARD} LIMIT $2`;
const OVER_ROWS = OVER(atOrBefore(TRACE_HEARD, { heard: '$1', id: '$3' }));
const OVER_AGE = OVER(`${TRACE_HEARD} < $1`);

/** The statements picking traces and example parameters (their plans are a test's, with UNTRACED_STATEMENTS). */
export const TRACE_STATEMENTS: Array<[string, string, unknown[]]> = [
  ['rowCut', ROW_CUT, [1000]],
  ['overRows', OVER_ROWS, ['2026-01-11T00:00:00.000Z', 500, '4096']],
  ['overAge', OVER_AGE, ['2026-01-11T00:00:00.000Z', 500]],
];

/** The bits each (kind, ref, bucket) loses with these traces, as four columns for unnest(). */
export function citationMasks(traces: Array<{ id: number; steps: Buffer }>): [number[], number[], number[], number[]] {
  const masks = new Map<string, number>();
  for (const t of traces)
    for (const [kind, ref] of citationsOf(t.steps)) {
      const key = `${kind}:${ref}:${Math.floor(t.id / 2 ** BUCKET_SHIFT)}`;
      masks.set(key, ((masks.get(key) ?? 0) | (1 << (t.id % 2 ** BUCKET_SHIFT))) >>> 0);
    }
  const cols: [number[], number[], number[], number[]] = [[], [], [], []];
  for (const [key, mask] of masks) {
    const [kind, ref, bucket] = key.split(':').map(Number);
    cols[0].push(kind);
    cols[1].push(ref);
    cols[2].push(bucket);
    cols[3].push(mask);
  }
  return cols;
}

/** One batch, one transaction: at most `batch` of the oldest traces over the limits, with what goes with them. */
export async function pruneCentralBatch(c: PoolClient, limits: CentralLimits, batch: number): Promise<PruneResult> {
  const out: PruneResult = { traces: 0, paths: 0, datapathFlows: 0 };
  type Row = { id: number; path_id: number | null; datapath_flow_id: number | null; steps: Buffer };
  const rows = new Map<number, Row>();
  // On the agents' clocks: an agent's own trace by its created_at, one a producer dated (an ingested
  // translation) by when its agent heard it (TRACE_HEARD).
  if (limits.rowCut !== null) for (const r of (await c.query<Row>(OVER_ROWS, [limits.rowCut.heard, batch, limits.rowCut.id])).rows) rows.set(r.id, r);
  if (limits.before !== null && rows.size < batch) for (const r of (await c.query<Row>(OVER_AGE, [limits.before, batch - rows.size])).rows) rows.set(r.id, r);
  if (!rows.size) return out;
  const ids = [...rows.keys()];
  const paths = [...new Set([...rows.values()].map((r) => r.path_id).filter((p): p is number => p !== null))];
  const flows = [...new Set([...rows.values()].map((r) => r.datapath_flow_id).filter((f): f is number => f !== null))];
  const [kinds, refs, buckets, masks] = citationMasks([...rows.values()]);
  await inTransaction(c, async () => {
    await c.query('DELETE FROM trace_port WHERE trace_id = ANY($1::bigint[])', [ids]);
    await c.query('DELETE FROM trace_extra_session WHERE trace_id = ANY($1::bigint[])', [ids]);
    out.traces = (await c.query('DELETE FROM trace WHERE id = ANY($1::bigint[])', [ids])).rowCount ?? 0;
    if (kinds.length) {
      const m = 'unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) AS m (kind, ref, bucket, mask)';
      const at = 'c.kind = m.kind AND c.ref = m.ref AND c.bucket = m.bucket';
      await c.query(`UPDATE trace_citation c SET bits = c.bits & ~m.mask FROM ${m} WHERE ${at}`, [kinds, refs, buckets, masks]);
      await c.query(`DELETE FROM trace_citation c USING ${m} WHERE ${at} AND c.bits = 0`, [kinds, refs, buckets, masks]);
    }
    if (paths.length)
      out.paths = (await c.query('DELETE FROM path p WHERE p.id = ANY($1::bigint[]) AND NOT EXISTS (SELECT 1 FROM trace t WHERE t.path_id = p.id)', [paths])).rowCount ?? 0;
    if (flows.length) {
      const gone = (
        await c.query<{ id: number }>(
          `SELECT id FROM datapath_flow f WHERE f.id = ANY($1::bigint[]) AND f.removed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = f.id) AND ${TRACED_IN} FOR UPDATE OF f`,
          [flows, limits.heardSince],
        )
      ).rows.map((r) => r.id);
      if (gone.length) {
        await c.query('DELETE FROM recirc_edge WHERE parent_id = ANY($1::bigint[]) OR child_id = ANY($1::bigint[])', [gone]);
        out.datapathFlows = (await c.query('DELETE FROM datapath_flow WHERE id = ANY($1::bigint[])', [gone])).rowCount ?? 0;
      }
    }
  });
  return out;
}

/**
 * One round, if this process gets the lock: batches until nothing is over the limits, `stopped()`
 * says stop, or a batch fails (the lock is released either way), or its connection falls silent
 * for `silentMs` (default SILENT_MS: twice PostgreSQL's statement_timeout), or `abandon` is aborted
 * (a stop: the round is given up at once, its connection destroyed, ESHUTDOWN; what it had not
 * committed is redone by a later round, each batch its own transaction).
 */
export async function centralRound(
  pool: Pool,
  cfg: CentralConfig,
  now: number,
  o: { batch?: number; stopped?: () => boolean; onBatch?: (r: PruneResult) => void; silentMs?: number; abandon?: AbortSignal } = {},
): Promise<CentralRound> {
  const t0 = performance.now();
  const total: CentralRound = { ran: false, traces: 0, paths: 0, datapathFlows: 0, batches: 0, seconds: 0 };
  // The shipper's guarded client: 'error' heard (a restart of PostgreSQL ends the session), a
  // connection silent for silentMs with a statement on it given up (a partition, a frozen host:
  // the round, and every later one, waited for good), a failed client dropped.
  try {
    const silentMs = o.silentMs ?? SILENT_MS;
    return await withClient(pool, silentMs, async (c, drop) => {
      // Reset however the round ends: a round failed by a statement PostgreSQL refused (one canceled,
      // its statement_timeout) leaves a healthy session that withClient hands back to the pool, and the
      // round's timeouts would end its next users' sessions (test/postgres/central-retention-session.spec.ts).
      try {
        return await lockedRound(c, drop, silentMs, cfg, now, o, total);
      } finally {
        await reset(c, drop);
      }
    }, o.abandon);
  } finally {
    total.seconds = (performance.now() - t0) / 1000;
  }
}

/** The round on its session: the lock taken (or the round skipped), the batches, the lock released. */
async function lockedRound(
  c: PoolClient,
  drop: (err: Error) => void,
  silentMs: number,
  cfg: CentralConfig,
  now: number,
  o: { batch?: number; stopped?: () => boolean; onBatch?: (r: PruneResult) => void },
  total: CentralRound,
): Promise<CentralRound> {
  // The lock is the session's: across a partition the server never hears this connection given
  // up (dropWhenSilent) and would keep the session, and the lock, until its TCP keepalive noticed
  // (hours by default), every process's round skipping meanwhile. So the server itself ends this
  // session once idle, in or out of a transaction, for longer than this side waits (PostgreSQL
  // 14+; an older one keeps its keepalive). A round's statements follow each other with no wait.
  await c.query(`SELECT set_config('idle_session_timeout', $1, false), set_config('idle_in_transaction_session_timeout', $1, false)`, [`${2 * silentMs}ms`]).catch(olderServer);
  const got = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [CENTRAL_RETENTION_LOCK])).rows[0].ok;
  if (!got) return total;
  total.ran = true;
  try {
    const limits: CentralLimits = {
      before: cfg.days > 0 ? new Date(now - cfg.days * 86_400_000).toISOString() : null,
      rowCut: cfg.keep > 0 ? await centralRowCut(c, cfg.keep) : null,
      heardSince: heardSince(now + (await pgAhead(c, cfg.silentSlotHours ?? 0)), cfg.silentSlotHours ?? 0),
    };
    // No trace over the limits still leaves the rows no trace takes with it to cut (as many of each
    // as traces are kept, whatever the traces' own count): only the traces' loop is skipped.
    const tracesOver = limits.before !== null || limits.rowCut !== null;
    const count = (r: PruneResult) => {
      addBatch(total, r);
      o.onBatch?.(r);
    };
    while (tracesOver && !o.stopped?.()) {
      const r = await pruneCentralBatch(c, limits, o.batch ?? CENTRAL_BATCH);
      if (!r.traces) break;
      count(r);
    }
    // Then the rows no trace takes with it, by the same limits (central-untraced-store.ts).
    const cuts = await untracedCuts(c, { before: limits.before, keep: cfg.keep, now, heardSince: limits.heardSince });
    await pruneCentralUntraced(c, cuts, { batch: o.batch ?? CENTRAL_BATCH, stopped: o.stopped, onBatch: (r) => count({ traces: 0, paths: 0, ...r }) });
    // Then what the slots gone for good left, once their traffic is gone (central-dead-slot-store.ts).
    if (cfg.deadSlots) {
      const dead = await pruneDeadSlots(c, { ...cfg.deadSlots, batch: o.batch ?? CENTRAL_BATCH, stopped: o.stopped, onBatch: (r) => count({ traces: 0, paths: 0, datapathFlows: 0, leftovers: r.leftovers }) });
      total.deadSlots = dead.deadSlots;
    }
  } finally {
    // A connection whose unlock failed may still hold the lock: dropped (which releases it), the round's result kept.
    await c.query('SELECT pg_advisory_unlock($1)', [CENTRAL_RETENTION_LOCK]).catch(drop);
  }
  return total;
}

/**
 * How far PostgreSQL's clock runs ahead of this process's (ms; 0 without a silence bound): heard_at is
 * PostgreSQL's clock (ship-synced.ts), so the bound it is compared with is moved onto it. Every process
 * with PostgreSQL may win the round's lock, an agent among them: by its own clock, one running a day
 * ahead took every live slot for silent and pruned the live agents' open lifetimes
 * (test/postgres/central-retention-silent-open.spec.ts 'clock runs ahead').
 */
async function pgAhead(c: PoolClient, hours: number): Promise<number> {
  if (hours <= 0) return 0;
  const local = Date.now();
  const { ms } = (await c.query<{ ms: string }>('SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms')).rows[0];
  return Number(ms) - local;
}

/** The session's own timeouts back to the pool's (its other users idle as long as they like); a connection that fails it is dropped. */
async function reset(c: PoolClient, drop: (err: Error) => void): Promise<void> {
  await c.query('RESET idle_session_timeout').catch(olderServer).catch(drop);
  await c.query('RESET idle_in_transaction_session_timeout').catch(drop);
}
