// PostgreSQL's own retention (central-retention-store.ts) of the rows no trace takes with it, after
// the traces, by the same limits as SQLite's (retention.ts untracedLimits, the stores' pruneOldest):
// the lifetimes no trace cites, with their recirculation edges (never one live, nor one ended within
// QUIET_MS: an agent's path recorder may still link it; but a slot silent past the bound, its agent
// gone for good, has its open lifetimes go by last_seen: nobody will end them), upcalls, cross-checks and the ingest ledger
// (never a producer's first install or update of a lifetime still open: its restart closes its
// lifetimes through it). PostgreSQL's ids are grouped per writer slot (slot·2^40), so "the oldest by id" means one
// slot's: every cut here is by a time column, each walked through its own index
// (migrations/postgres PgCentralRetentionUntraced; the plans are checked in
// test/postgres/central-retention-untraced.spec.ts). Each batch is one short transaction.
// A store of retention's own (the SQL rule: tests/unit/structure/sql-owners), PostgreSQL-only.
import type { PoolClient } from 'pg';
import { inTransaction } from '../storage/pg-client';
import { QUIET_MS } from './spool-retention-store';

/**
 * A cut in rows ordered by when they were heard, then by id: those heard before `heard` go, and of
 * those heard then, `id` and below (a bigint, as the pool's types give it; -1: none of them).
 */
export interface RowCut {
  heard: string;
  id: string | number;
}

/**
 * The row beyond the `keep` ($1) newest of `table` by `heard` (an expression an index holds), then by id:
 * the row limit's cut. By the time alone, every row sharing the cut's moment stayed, or went: one ingest
 * body's rows all share when it was heard (writeEvents' receivedAt), so a limit falling inside a body
 * kept or dropped all of it. Ids order one moment's rows as SQLite's ids do, those of one body being
 * one writer slot's, in the order written (test/postgres/central-retention-row-clock.spec.ts).
 */
export const beyondNewest = (table: string, heard: string): string => `SELECT ${heard} AS heard, id FROM ${table} ORDER BY ${heard} DESC, id DESC OFFSET $1 LIMIT 1`;

/** Rows at or before a RowCut (`cut`: its heard and id parameters), written so the index on `heard` bounds the walk. */
export const atOrBefore = (heard: string, cut: { heard: string; id: string }, id = 'id'): string => `${heard} <= ${cut.heard} AND (${heard} < ${cut.heard} OR ${id} <= ${cut.id}::bigint)`;

/** What each table keeps: lifetimes removed before `datapathFlow` go (RFC 3339, exclusive), the others' rows at or before their cut (null: none). */
export interface UntracedCuts {
  datapathFlow: string | null;
  upcall: RowCut | null;
  crossCheck: RowCut | null;
  ingestEvent: RowCut | null;
  /** TRACED_IN's bound: slots last heard from before this hold no lifetime back. */
  heardSince: string;
  /**
   * now - QUIET_MS on the agents' clock: a lifetime whose end was heard since (heard_at: an ingested
   * removal a producer dated by a clock behind ours) stays, whatever its removed_at. Absent: no such bound.
   */
  quiet?: string;
}

export interface UntracedResult {
  datapathFlows: number;
  /** Upcalls and cross-checks. */
  records: number;
  ingestEvents: number;
}

/** The events that make or continue a lifetime (IngestStore.lifetimesOf reads them). */
const MAKERS = `('ukey_created', 'ukey_updated')`;

/**
 * A lifetime `f` whose every citing trace is in PostgreSQL, as far as its writer says (writer_slot's
 * traced_through and traced_flow_id, storage/ship-synced.ts): after an outage a lifetime ships
 * batches ahead of the traces citing it, and one pruned as untraced in between was gone for good
 * when they came. A writer that does not say (NULL: an agent before this) is pruned as before, and
 * so is one last heard from before $2 (heardSince): a slot gone for good (its agent decommissioned)
 * says nothing more, and what it shipped after its last word was kept for ever. Heard: heard_at, or
 * traced_through (a shipper caught up moves it every second; an agent before heard_at sets only it).
 */
export const TRACED_IN = `NOT EXISTS (SELECT 1 FROM writer_slot w WHERE w.slot = f.id / ${2 ** 40} AND w.traced_through IS NOT NULL AND GREATEST(w.heard_at, w.traced_through) >= $2 AND (f.removed_at > w.traced_through OR f.id > w.traced_flow_id))`;

/**
 * A lifetime `f` whose writer slot has been silent since before $2 (heardSince, as in TRACED_IN): its
 * agent is taken for gone for good. One never heard (NULL: an api instance's slot, an agent before
 * traced_through) is not: it may be live.
 */
const SILENT = `EXISTS (SELECT 1 FROM writer_slot w WHERE w.slot = f.id / ${2 ** 40} AND GREATEST(w.heard_at, w.traced_through) < $2)`;

/** The heardSince of TRACED_IN: a slot silent for `hours` before `now` holds nothing back ('': no bound, 0 hours). */
export const heardSince = (now: number, hours: number): string => (hours > 0 ? new Date(now - hours * 3_600_000).toISOString() : '');

/**
 * An upcall's age on the agents' clock, as idx_upcall_heard holds it (the same expression, or the
 * planner does not match it): heard_at, NULL on the rows from before it and from a spool not yet
 * migrated, which go by their own time as they did (PgRecordsHeardAt fills in no row).
 */
const UPCALL_HEARD = 'COALESCE(heard_at, time)';

/**
 * A trace's age on the agents' clock, as idx_trace_heard holds it: heard_at for one a producer dated
 * (an ingested translation), created_at for the agent's own (heard_at NULL).
 */
export const TRACE_HEARD = 'COALESCE(heard_at, created_at)';

/** The cut's parameters in the upcall and cross-check deletes ($2: how many). */
const CUT = { heard: '$1', id: '$3' };

/** The statements of a prune and example parameters (their plans are a test's). */
const SQL = {
  /** The time of the keep-th newest row: older ones are beyond the row limit. */
  flowNewest: 'SELECT removed_at AS t FROM datapath_flow WHERE removed_at IS NOT NULL ORDER BY removed_at DESC OFFSET $1 LIMIT 1',
  /** On the agents' clock: heard_at, or for a row from before it (NULL: never filled in, PgRecordsHeardAt) its time (idx_upcall_heard). */
  upcallCut: beyondNewest('upcall', UPCALL_HEARD),
  checkCut: beyondNewest('cross_check', 'created_at'),
  ingestCut: beyondNewest('ingest_event', 'received_at'),
  /** On the agents' clock (TRACE_HEARD, idx_trace_heard), as the row limit keeps traces (central-retention-store.ts). */
  traceNewest: `SELECT ${TRACE_HEARD} AS t FROM trace ORDER BY ${TRACE_HEARD} DESC OFFSET $1 LIMIT 1`,
  /** Ended lifetimes over the cut, after a (removed_at, id) cursor: a cited one is stepped over. */
  flows: `SELECT id, removed_at FROM datapath_flow WHERE removed_at IS NOT NULL AND (removed_at, id) > ($1, $2) AND removed_at < $3 AND (heard_at IS NULL OR heard_at < $5) ORDER BY removed_at, id LIMIT $4`,
  /** Never one whose citing traces may still be in its spool's backlog (TRACED_IN, ship-synced.ts). */
  flowsUncited: `SELECT id FROM datapath_flow f WHERE f.id = ANY($1::bigint[]) AND f.removed_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = f.id) AND ${TRACED_IN} FOR UPDATE OF f`,
  /** Writer slots silent since before $1: their open lifetimes go by last_seen (a decommissioned agent never ends them). */
  silentSlots: 'SELECT w.slot FROM writer_slot w WHERE GREATEST(w.heard_at, w.traced_through) < $1 ORDER BY w.slot',
  /** One slot's open lifetimes last seen before the cut, after an id cursor (its ids are its slot's range). */
  silentOpen: 'SELECT id FROM datapath_flow WHERE id > $1 AND id < $2 AND removed_at IS NULL AND last_seen < $3 ORDER BY id LIMIT $4',
  /**
   * Still open, still silent, still last seen before the cut ($3: an agent back between the walk and this
   * shipped it seen now), cited by no trace: deleted, never closed (an agent writes only its own chassis's rows).
   */
  silentUncited: `SELECT id FROM datapath_flow f WHERE f.id = ANY($1::bigint[]) AND f.removed_at IS NULL AND f.last_seen < $3 AND NOT EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = f.id) AND ${SILENT} FOR UPDATE OF f`,
  /** Two statements, one index each: with OR, a plan at 100k edges was a seq scan. */
  edgesOut: 'DELETE FROM recirc_edge WHERE parent_id = ANY($1::bigint[])',
  edgesIn: 'DELETE FROM recirc_edge WHERE child_id = ANY($1::bigint[])',
  flowDelete: 'DELETE FROM datapath_flow WHERE id = ANY($1::bigint[])',
  /** A silent slot's pruned open lifetimes, for its agent if it comes back (storage/ship-pruned.ts ships them again). */
  prunedNote: 'INSERT INTO pruned_lifetime (id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING',
  /**
   * By when an agent heard them (heard_at: a producer's clock days off made time go at once, or stay); one from before, by its time.
   * $1, $3: the cut; $2 how many.
   */
  upcalls: `DELETE FROM upcall WHERE id IN (SELECT id FROM upcall WHERE ${atOrBefore(UPCALL_HEARD, CUT)} ORDER BY ${UPCALL_HEARD} LIMIT $2)`,
  checks: `DELETE FROM cross_check WHERE id IN (SELECT id FROM cross_check WHERE ${atOrBefore('created_at', CUT)} ORDER BY created_at LIMIT $2)`,
  /**
   * Ledger entries at or before the cut ($3, $5; received_at, the agents' clock, as IngestStore.pruneOldest), after a
   * (received_at, id) cursor, each saying whether it is an open lifetime's install or update.
   */
  ingest: `SELECT e.id, e.received_at, e.source, e.ref_id, f.id IS NOT NULL AS open FROM ingest_event e
             LEFT JOIN datapath_flow f ON f.id = e.ref_id AND f.removed_at IS NULL AND e.type IN ${MAKERS}
            WHERE (e.received_at, e.id) > ($1, $2) AND ${atOrBefore('e.received_at', { heard: '$3', id: '$5' }, 'e.id')} ORDER BY e.received_at, e.id LIMIT $4`,
  ingestDelete: 'DELETE FROM ingest_event WHERE id = ANY($1::bigint[])',
};

const T = '2026-01-11T00:00:00.000Z';
const IDS = Array.from({ length: 500 }, (_, i) => i + 1);
/** Every statement with parameters of its types, for the plans' test. */
export const UNTRACED_STATEMENTS: Array<[string, string, unknown[]]> = [
  ...(['flowNewest', 'upcallCut', 'checkCut', 'ingestCut', 'traceNewest'] as const).map((k): [string, string, unknown[]] => [k, SQL[k], [1000]]),
  ['flows', SQL.flows, ['', 0, T, 500, T]],
  ['flowsUncited', SQL.flowsUncited, [IDS, T]],
  ['silentOpen', SQL.silentOpen, [0, 2 ** 40, T, 500]],
  ['silentUncited', SQL.silentUncited, [IDS, T, T]],
  ['edgesOut', SQL.edgesOut, [IDS]],
  ['edgesIn', SQL.edgesIn, [IDS]],
  ['flowDelete', SQL.flowDelete, [IDS]],
  ['upcalls', SQL.upcalls, [T, 500, '4096']],
  ['checks', SQL.checks, [T, 500, '4096']],
  ['ingest', SQL.ingest, ['', 0, T, 500, '4096']],
  ['ingestDelete', SQL.ingestDelete, [IDS]],
];

const later = (...ts: Array<string | null | undefined>): string | null => ts.reduce<string | null>((a, t) => (t == null ? a : a === null || t > a ? t : a), null);

const before = (t: string | null, bound: string): string | null => (t === null ? null : t < bound ? t : bound);

/** A cut by time alone: whatever was heard then stays (no id is below 0). */
const timeCut = (t: string | null): RowCut | null => (t === null ? null : { heard: t, id: -1 });
/** The order rows are cut in: by when heard, then by id. */
const order = (a: RowCut, b: RowCut): number => (a.heard !== b.heard ? (a.heard < b.heard ? -1 : 1) : Number(BigInt(a.id) - BigInt(b.id)));
const laterCut = (a: RowCut | null, b: RowCut | null): RowCut | null => (a === null ? b : b === null || order(a, b) >= 0 ? a : b);
const earlierCut = (a: RowCut | null, b: RowCut): RowCut | null => (a === null ? null : order(a, b) <= 0 ? a : b);

/**
 * Each table's cut: the age cutoff; with a row limit, when the earliest heard of the traces kept was
 * heard (the history kept begins there) and the newest row of the table itself beyond the limit (as
 * many of each as traces are kept, by heard time then id: beyondNewest); the later of them.
 * Lifetimes and ledger entries never past now - QUIET_MS.
 *
 * Every table here is cut on the agents' clock (upcall heard_at, cross_check created_at,
 * ingest_event received_at), as the row limit keeps traces (TRACE_HEARD): by an ingested
 * translation's created_at, its producer's clock, from a producer two days ahead every upcall heard
 * since the oldest kept trace went. SQLite's ids grow with the agent's clock (TraceStore.oldestHeardAt,
 * the first id); PostgreSQL's are per writer slot, so the keep-th is found by TRACE_HEARD.
 */
export async function untracedCuts(c: PoolClient, o: { before: string | null; keep: number; now: number; heardSince: string }): Promise<UntracedCuts> {
  const newest = async (sql: string) => (o.keep > 0 ? ((await c.query<{ t: string }>(sql, [o.keep - 1])).rows[0]?.t ?? null) : null);
  const beyond = async (sql: string) => (o.keep > 0 ? ((await c.query<RowCut>(sql, [o.keep])).rows[0] ?? null) : null);
  const history = later(o.before, await newest(SQL.traceNewest));
  const quiet = new Date(o.now - QUIET_MS).toISOString();
  return {
    datapathFlow: before(later(history, await newest(SQL.flowNewest)), quiet),
    upcall: laterCut(timeCut(history), await beyond(SQL.upcallCut)),
    crossCheck: laterCut(timeCut(history), await beyond(SQL.checkCut)),
    // What was heard within QUIET_MS stays too: a resent batch is still a duplicate.
    ingestEvent: earlierCut(laterCut(timeCut(history), await beyond(SQL.ingestCut)), { heard: quiet, id: -1 }),
    heardSince: o.heardSince,
    quiet,
  };
}

/**
 * One table at a time, `batch` rows a transaction (a statement alone is one), until nothing is
 * over its cut or `stopped()`; `onBatch` after each.
 */
export async function pruneCentralUntraced(
  c: PoolClient,
  cuts: UntracedCuts,
  o: { batch: number; stopped?: () => boolean; onBatch?: (r: UntracedResult) => void },
): Promise<UntracedResult> {
  const total: UntracedResult = { datapathFlows: 0, records: 0, ingestEvents: 0 };
  const add = (r: Partial<UntracedResult>) => {
    const b = { datapathFlows: 0, records: 0, ingestEvents: 0, ...r };
    total.datapathFlows += b.datapathFlows;
    total.records += b.records;
    total.ingestEvents += b.ingestEvents;
    o.onBatch?.(b);
  };
  const go = () => !o.stopped?.();

  if (cuts.datapathFlow !== null) {
    let cursor: [string, number] = ['', 0];
    while (go()) {
      const rows = (await c.query<{ id: string; removed_at: string }>(SQL.flows, [...cursor, cuts.datapathFlow, o.batch, cuts.quiet ?? '\uffff'])).rows;
      if (!rows.length) break;
      cursor = [rows[rows.length - 1].removed_at, Number(rows[rows.length - 1].id)];
      // Those a trace cites stay (the cursor steps over them).
      const n = await dropFlows(c, SQL.flowsUncited, rows.map((r) => r.id), cuts.heardSince);
      if (n) add({ datapathFlows: n });
    }
    // A slot gone for good never ends its lifetimes: those left open go by their last_seen against the
    // same cut (test/postgres/central-retention-silent-open.spec.ts). No bound, no slot taken for gone.
    const silent = cuts.heardSince ? (await c.query<{ slot: number }>(SQL.silentSlots, [cuts.heardSince])).rows : [];
    for (const { slot } of silent) {
      let cursor = (BigInt(slot) << 40n).toString();
      const end = (BigInt(slot + 1) << 40n).toString();
      while (go()) {
        const ids = (await c.query<{ id: string }>(SQL.silentOpen, [cursor, end, cuts.datapathFlow, o.batch])).rows.map((r) => r.id);
        if (!ids.length) break;
        cursor = ids[ids.length - 1];
        const n = await dropFlows(c, SQL.silentUncited, ids, cuts.heardSince, cuts.datapathFlow, true);
        if (n) add({ datapathFlows: n });
      }
    }
  }
  for (const [sql, cut] of [
    [SQL.upcalls, cuts.upcall],
    [SQL.checks, cuts.crossCheck],
  ] as const) {
    if (cut === null) continue;
    while (go()) {
      const n = (await c.query(sql, [cut.heard, o.batch, cut.id])).rowCount ?? 0;
      if (n) add({ records: n });
      if (n < o.batch) break;
    }
  }
  if (cuts.ingestEvent !== null) {
    const cut = cuts.ingestEvent;
    let cursor: [string, number] = ['', 0];
    // Each open lifetime's first install or update of each producer, in the walk's order, stays (IngestStore.pruneOldest's rule).
    const firsts = new Set<string>();
    const first = (r: { source: string; ref_id: string; open: boolean }): boolean => {
      const pair = `${r.ref_id} ${r.source}`;
      if (!r.open || firsts.has(pair)) return false;
      firsts.add(pair);
      return true;
    };
    while (go()) {
      const rows = (await c.query<{ id: string; received_at: string; source: string; ref_id: string; open: boolean }>(SQL.ingest, [...cursor, cut.heard, o.batch, cut.id])).rows;
      if (!rows.length) break;
      cursor = [rows[rows.length - 1].received_at, Number(rows[rows.length - 1].id)];
      const ids = rows.filter((r) => !first(r)).map((r) => r.id);
      if (ids.length) add({ ingestEvents: (await c.query(SQL.ingestDelete, [ids])).rowCount ?? 0 });
    }
  }
  return total;
}

/**
 * Of `ids`, those `pick` ($1 ids, $2 heardSince, then `cut`) still takes, with their edges: one
 * transaction. `noted`: a silent slot's open ones, whose ids are kept for its agent should it come back
 * (a trace it ships next may cite one; test/postgres/central-retention-silent-open.spec.ts).
 */
function dropFlows(c: PoolClient, pick: string, ids: string[], heard: string, cut?: string | null, noted = false): Promise<number> {
  return inTransaction(c, async () => {
    const gone = (await c.query<{ id: string }>(pick, cut === undefined ? [ids, heard] : [ids, heard, cut])).rows.map((r) => r.id);
    if (!gone.length) return 0;
    await c.query(SQL.edgesOut, [gone]);
    await c.query(SQL.edgesIn, [gone]);
    if (noted) await c.query(SQL.prunedNote, [gone]);
    return (await c.query(SQL.flowDelete, [gone])).rowCount ?? 0;
  });
}
