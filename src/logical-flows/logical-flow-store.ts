// The audits' reads: the logical-flow snapshots and northbound objects the traces cited, and the
// datapath flow lifetimes whose traces cite them, with those traces and their paths' verdicts. Read
// only (the snapshots and objects are written by the trace store as traces cite them); joins the
// lifetime, trace, citation and path tables in one statement where the plan needs it. Every read
// answers an HTTP request: all go through `query` (SQLite or PostgreSQL).
import { Inject, Injectable } from '@nestjs/common';
import type { LflowRow } from '../traces/trace-read-store';
import { Page, page } from '../common/query';
import { DatapathFlowJson, datapathFlowJson, DatapathFlowRow } from '../datapath-flows';
import { SqliteReader, type SqlReader } from '../storage/sql';
import { StoreService } from '../storage/store.service';
import { citesSql, CITES_HINT, CITES_LFLOW, refsAndTracesCiting } from '../traces/citation-store';

export type AuditPage = Page<DatapathFlowJson & { traces: AuditTrace[] }>;

/** Which audit: of a southbound logical flow, or of a northbound row (ACL, NAT, …), and the page. */
export type AuditQuery = ({ of: 'logical-flow'; uuid: string } | { of: 'northbound'; table: string; uuid: string }) & { cursor?: number; limit: number };

/** The page as JSON (a string here, UTF-8 bytes from a reader thread), and whether any version of the row was cited. */
export interface AuditAnswer<B = string> {
  body: B;
  cited: boolean;
}

export interface SnapshotJson {
  contentHash: string;
  datapaths: unknown;
  pipeline: string;
  tableId: number;
  stage: string | null;
  priority: number;
  match: string;
  actions: string;
  source: string | null;
  stageHint: string | null;
  externalIds: unknown;
  firstSeen: string;
  lastSeen: string;
}

export interface AuditTrace {
  id: number;
  pathId: number | null;
  consistent: boolean | null;
  verdict: unknown;
  pathVerdict: unknown;
}

interface SnapshotRow extends LflowRow {
  content_hash: string;
  stage_hint: string | null;
  external_ids: string;
  first_seen: string;
  last_seen: string;
}

/** Citations above which an audit walks datapath flows newest first instead of collecting them all. */
const WALK_ABOVE = 10_000;

@Injectable()
export class LogicalFlowStore {
  /** StoreService.query, read at each call (the PostgreSQL one once opened); else the read connection. */
  private readonly query: () => SqlReader;

  constructor(@Inject(StoreService) storage: Pick<StoreService, 'db'> & Partial<Pick<StoreService, 'query'>>) {
    const local = new SqliteReader(storage.db);
    this.query = () => storage.query ?? local;
  }

  /** Every stored version of a logical flow, oldest first. */
  async snapshots(uuid: string): Promise<SnapshotJson[]> {
    const rows = await this.query().all<SnapshotRow>('SELECT * FROM logical_flow_snapshot WHERE uuid = ? ORDER BY first_seen, id', uuid);
    return rows.map((r) => ({
      contentHash: r.content_hash,
      datapaths: JSON.parse(r.datapaths),
      pipeline: r.pipeline,
      tableId: r.table_id,
      stage: r.stage,
      priority: r.priority,
      match: r.match,
      actions: r.actions,
      source: r.source,
      stageHint: r.stage_hint,
      externalIds: JSON.parse(r.external_ids),
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
    }));
  }

  /** An audit's page as JSON, on the main thread's connection (no reader threads: see readAudit). */
  audit(a: AuditQuery): Promise<AuditAnswer> {
    return readAudit(this.query(), a);
  }
}

/** The ids of a row's stored versions (what citations refer to), as a subquery with its parameters. */
function versionsOf(a: AuditQuery): [sql: string, args: unknown[]] {
  return a.of === 'logical-flow'
    ? ['SELECT id FROM logical_flow_snapshot WHERE uuid = ?', [a.uuid]]
    : [`SELECT id FROM ovn_object WHERE db = 'OVN_Northbound' AND tbl = ? AND uuid = ?`, [a.table, a.uuid]];
}

/**
 * An audit: the datapath flow lifetimes with a trace citing a stored version of the logical flow
 * (or of the northbound row, by the stage hints), newest first, with those traces: the AuditPage
 * as JSON. Plain reads on `q`, so a reader thread runs it on its own connection
 * (src/read-workers/) as the main thread does. Whether a version was ever cited goes along: the
 * 404 for a row neither cited nor in OVN is the caller's, which has the replicas.
 */
export async function readAudit(q: SqlReader, a: AuditQuery): Promise<AuditAnswer> {
  const kind = a.of === 'logical-flow' ? CITES_LFLOW : CITES_HINT;
  const [sql, args] = versionsOf(a);
  const { refs, ids } = await refsAndTracesCiting(q, kind, sql, args, WALK_ABOVE);
  return { body: await flowsCiting(q, kind, refs, ids, a.cursor, a.limit), cited: refs.length > 0 };
}

/** The page's datapath flows among these traces' (the few-citations plan), newest first. */
function citedFlows(q: SqlReader, ids: number[], cursor: number | undefined, max: number, cover = ''): Promise<DatapathFlowRow[]> {
  // SQLite walks the subquery's ids in order and reads only the page's rows (an ephemeral index).
  return q.all<DatapathFlowRow>(
    `SELECT d.* FROM datapath_flow d WHERE d.id IN (
       SELECT t.datapath_flow_id FROM trace t ${cover}WHERE t.id IN (${q.inList('int')}))
     ${cursor ? 'AND d.id < ?' : ''} ORDER BY d.id DESC LIMIT ?`,
    q.list(ids),
    ...(cursor ? [cursor] : []),
    max,
  );
}

/**
 * citedFlows for PostgreSQL, which reads every cited flow's row (~1 KB) to sort them: an ACL cited
 * by 449 traces spent 5 ms of the server in it at 1M. The newest distinct flow ids first, from the
 * (id, datapath_flow_id) index alone, then only those rows (bench/api/RESULTS-postgres.md, stop 23:
 * the ACL audit 0.59x the server's CPU a request; on SQLite this form was 1.11x, so it keeps its
 * own). Each row carries its traces' JSON (`traces`, tracesJsonSql's column). A trace whose flow
 * row is gone (none should be; there is no foreign key) would leave the page short, so citedFlows
 * answers then, without the traces' column.
 */
async function newestFlowsOf(q: SqlReader, ids: number[], cursor: number | undefined, max: number, traces: string, refs: unknown[]): Promise<AuditFlowRow[]> {
  const rows = await q.all<AuditFlowRow & { wanted: number }>(
    `SELECT f.wanted, d.*${traces} FROM (SELECT DISTINCT t.datapath_flow_id AS wanted FROM trace t WHERE t.id IN (${q.inList('int')})
       AND t.datapath_flow_id IS NOT NULL ${cursor ? 'AND t.datapath_flow_id < ?' : ''} ORDER BY wanted DESC LIMIT ?) f
     LEFT JOIN datapath_flow d ON d.id = f.wanted ORDER BY f.wanted DESC`,
    ...refs,
    q.list(ids),
    ...(cursor ? [cursor] : []),
    max,
  );
  // (`wanted` rides along: the page reads its columns by name.)
  if (rows.every((r) => r.id != null)) return rows;
  return citedFlows(q, ids, cursor, max);
}

/** A page's flow row; on PostgreSQL with its citing traces' JSON (tracesJsonSql). */
type AuditFlowRow = DatapathFlowRow & { audit_traces?: string | null };

/**
 * PostgreSQL: the citing traces of flow `flowId` as the AuditTrace JSON the page writes for them
 * (auditTraceJson below: the same text, the same order, newest first), joined by commas: a column
 * of the flow's row, so the page's flows and their traces are one statement, where they were two
 * round trips of an audit's four (bench/api/RESULTS-postgres.md, stop 27). One list parameter (the
 * refs) before the statement's own. SQLite keeps the trace statement (a call, not a round trip).
 */
const tracesJsonSql = (kind: number, flowId: string, ints: string): string =>
  `, (SELECT string_agg('{"id":' || t.id || ',"pathId":' || COALESCE(t.path_id::text, 'null') || ',"consistent":' ||
       CASE WHEN t.consistent IS NULL THEN 'null' WHEN t.consistent = 1 THEN 'true' ELSE 'false' END || ',"verdict":' || t.verdict ||
       ',"pathVerdict":' || CASE WHEN t.path_id IS NULL OR t.path_id = 0 THEN 'null' ELSE COALESCE(p.verdict, 'null') END || '}', ',' ORDER BY t.id DESC)
     FROM trace t LEFT JOIN path p ON p.id = t.path_id WHERE t.datapath_flow_id = ${flowId} AND ${citesSql(kind, 't.id', ints, 'postgres')}) AS audit_traces`;

/**
 * An AuditTrace as JSON, its verdicts' stored text as it is: both columns hold JSON.stringify's
 * own output (trace-store.ts, path-store.ts), so parsing them to serialise them again gave the
 * same bytes for ~0.2 ms of a 51-trace page (bench/api/RESULTS-postgres.md, stop 20). The numbers
 * are integers, written as JSON writes them; a missing path row (LEFT JOIN) is null, as
 * JSON.parse(null) was. tracesJsonSql writes the same on PostgreSQL.
 */
const auditTraceJson = (id: number, pathId: number | null, consistent: number | null, verdict: string, pathVerdict: string | null): string =>
  `{"id":${id},"pathId":${pathId},"consistent":${consistent == null ? null : consistent === 1},"verdict":${verdict},"pathVerdict":${pathId ? pathVerdict : null}}`;

async function flowsCiting(q: SqlReader, kind: number, refs: number[], ids: number[] | 'many', cursor: number | undefined, limit: number): Promise<string> {
  // No citing trace: the empty page, without a statement.
  if (ids !== 'many' && !ids.length) return `{"items":[],"next":${JSON.stringify(page([], limit).next)}}`;
  const ints = q.inList('int');
  // Two plans (bench/api/RESULTS.md). A flow cited by few traces: their ids from the citation
  // bitmaps, then their datapath flows (cost ~ citations). A flow cited by many (a DP-group
  // flow is in nearly every trace): walk datapath_flow newest first and keep those with a citing
  // trace (cost ~ limit x traces/citations); collecting a million citations took seconds.
  // The few-plan reads each trace's flow from the (id, datapath_flow_id) index, half the pages of
  // the table rows (~1 KB each); SQLite's planner picks the table otherwise (INDEXED BY is
  // SQLite's alone: PostgreSQL plans for itself).
  const cover = q.dialect === 'sqlite' ? 'INDEXED BY idx_trace_dpflow_cover ' : '';
  // PostgreSQL would turn the walk's EXISTS into a semi-join that collects every citing trace
  // first (its estimate of the bit test is blind): 90 ms at 90k traces, growing with the history.
  // OFFSET 0 keeps it a per-flow probe, as SQLite runs it (1.4 ms; bench/api/RESULTS-postgres.md);
  // citesSql fences its own EXISTS the same way.
  const pg = q.dialect === 'postgres';
  const perFlow = pg ? ' OFFSET 0' : '';
  const [traces, traceRefs] = pg ? [tracesJsonSql(kind, 'd.id', ints), [q.list(refs)]] : ['', []];
  const rows: AuditFlowRow[] =
    ids === 'many'
      ? await q.all<AuditFlowRow>(
          `SELECT d.*${traces} FROM datapath_flow d WHERE ${cursor ? 'd.id < ? AND ' : ''}EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = d.id
             AND ${citesSql(kind, 't.id', ints, q.dialect)}${perFlow}) ORDER BY d.id DESC LIMIT ?`,
          ...traceRefs,
          ...(cursor ? [cursor] : []),
          q.list(refs),
          limit + 1,
        )
      : pg
        ? await newestFlowsOf(q, ids, cursor, limit + 1, traces, traceRefs)
        : await citedFlows(q, ids, cursor, limit + 1, cover);
  // (The row past the limit only says there is a next page: page() drops it, its traces are not shown.)
  const shown = rows.slice(0, limit);
  const byFlow = new Map<number, string>();
  if (shown.every((r) => r.audit_traces !== undefined)) for (const r of shown) byFlow.set(r.id, r.audit_traces ?? '');
  else {
    // The citing traces of the whole page in one statement, with their paths' verdicts (one
    // statement per flow and one per trace were most of an audit's cost at 1M, bench/api/RESULTS.md;
    // the verdicts joined rather than read by a statement of their own).
    const traceRows = await q.rows<[id: number, datapathFlowId: number, verdict: string, consistent: number | null, pathId: number | null, pathVerdict: string | null]>(
      `SELECT t.id, t.datapath_flow_id, t.verdict, t.consistent, t.path_id, p.verdict FROM trace t LEFT JOIN path p ON p.id = t.path_id
         WHERE t.datapath_flow_id IN (${ints}) AND ${citesSql(kind, 't.id', ints, q.dialect)} ORDER BY t.id DESC`,
      q.list(shown.map((r) => r.id)),
      q.list(refs),
    );
    const lists = new Map<number, string[]>(shown.map((r) => [r.id, []]));
    for (const [id, flowId, verdict, consistent, pathId, pathVerdict] of traceRows) lists.get(flowId)?.push(auditTraceJson(id, pathId, consistent, verdict, pathVerdict));
    for (const [id, list] of lists) byFlow.set(id, list.join(','));
  }
  const items = shown.map((r) => `${JSON.stringify(datapathFlowJson(r)).slice(0, -1)},"traces":[${byFlow.get(r.id)}]}`);
  return `{"items":[${items.join(',')}],"next":${JSON.stringify(page(rows, limit).next)}}`;
}
