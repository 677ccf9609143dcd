// The audits: which datapath flows did this logical flow (or northbound object: an ACL, a NAT
// rule…) take part in, with what outcome. Answered from the snapshots the traces cited, so they
// still answer after northd changes or deletes the row.
import { Injectable } from '@nestjs/common';
import type { Statement } from 'better-sqlite3';
import { notFound } from '../common/api-error';
import { Page, page } from '../common/query';
import { toJson } from '../datapath-flows/datapath-flows.service';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import { citedTraceIds, citesSql, CITES_HINT, CITES_LFLOW } from '../traces/citation-store';

interface SnapshotRow {
  id: number;
  uuid: string;
  content_hash: string;
  datapaths: string;
  pipeline: string;
  table_id: number;
  stage: string | null;
  priority: number;
  match: string;
  actions: string;
  source: string | null;
  stage_hint: string | null;
  external_ids: string;
  first_seen: string;
  last_seen: string;
}

interface AuditTrace {
  id: number;
  pathId: number | null;
  consistent: boolean | null;
  verdict: unknown;
  pathVerdict: unknown;
}

/** Citations above which an audit walks datapath flows newest first instead of collecting them all. */
const WALK_ABOVE = 10_000;

export const NB_TABLES = [
  'ACL', 'Logical_Switch_Port', 'Logical_Router_Port', 'NAT', 'Load_Balancer', 'Logical_Router_Policy',
  'Logical_Router_Static_Route', 'QoS', 'DHCP_Options', 'Forwarding_Group', 'Logical_Switch', 'Logical_Router',
] as const;

@Injectable()
export class LogicalFlowsService {
  constructor(
    private readonly storage: StoreService,
    private readonly replicas: ReplicasService,
  ) {}

  get(uuid: string) {
    const rows = this.prepare('SELECT * FROM logical_flow_snapshot WHERE uuid = ? ORDER BY first_seen').all(uuid) as SnapshotRow[];
    const live = this.replicas.sb.get('Logical_Flow', uuid);
    const tomb = live ? undefined : this.replicas.sb.tombstone('Logical_Flow', uuid);
    if (!rows.length && !live && !tomb) throw notFound(`no logical flow ${uuid} (neither in the southbound database nor in any trace)`);
    return {
      uuid,
      state: live ? 'live' : tomb ? 'deleted' : 'unknown',
      current: live ? this.replicas.model.snapshot(live) : tomb ? this.replicas.model.snapshot(tomb.row) : null,
      snapshots: rows.map((r) => ({
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
      })),
    };
  }

  /** Datapath flow lifetimes whose traces cite this logical flow, newest first. */
  datapathFlows(uuid: string, cursor: number | undefined, limit: number): Page<ReturnType<typeof toJson> & { traces: unknown[] }> {
    const ids = (this.prepare('SELECT id FROM logical_flow_snapshot WHERE uuid = ?').all(uuid) as Array<{ id: number }>).map((r) => r.id);
    if (!ids.length && !this.replicas.sb.get('Logical_Flow', uuid)) throw notFound(`no logical flow ${uuid} in any trace or in the southbound database`);
    return this.flowsCiting(CITES_LFLOW, ids, cursor, limit);
  }

  /** The same for a northbound object (the stage-hint of the logical flows a trace cited). */
  northboundFlows(table: string, uuid: string, cursor: number | undefined, limit: number) {
    const ids = (this.prepare(`SELECT id FROM ovn_object WHERE db = 'OVN_Northbound' AND tbl = ? AND uuid = ?`).all(table, uuid) as Array<{ id: number }>).map((r) => r.id);
    if (!ids.length && !this.replicas.nb.get(table, uuid)) throw notFound(`no ${table} ${uuid} in any trace or in the northbound database`);
    return this.flowsCiting(CITES_HINT, ids, cursor, limit);
  }

  private readonly statements = new Map<string, Statement>();

  /** Statements prepared once (the audits run a handful per request, for every request). */
  private prepare(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) this.statements.set(sql, (st = this.storage.db.prepare(sql)));
    return st;
  }

  private flowsCiting(kind: number, refs: number[], cursor: number | undefined, limit: number) {
    const db = { prepare: (sql: string) => this.prepare(sql) };
    const refsJson = JSON.stringify(refs);
    // Two plans (bench/api/RESULTS.md). A flow cited by few traces: their ids from the citation
    // bitmaps, then their datapath flows (cost ~ citations). A flow cited by many (a DP-group
    // flow is in nearly every trace): walk datapath_flow newest first and keep those with a citing
    // trace (cost ~ limit x traces/citations); collecting a million citations took seconds.
    // The few-plan reads each trace's flow from the (id, datapath_flow_id) index, half the pages of
    // the table rows (~1 KB each); SQLite's planner picks the table otherwise.
    const ids = citedTraceIds((sql) => this.prepare(sql), kind, refs, WALK_ABOVE);
    const rows = (
      ids === 'many'
        ? db
            .prepare(
              `SELECT d.* FROM datapath_flow d WHERE ${cursor ? 'd.id < ? AND ' : ''}EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = d.id
                 AND ${citesSql(kind, 't.id')}) ORDER BY d.id DESC LIMIT ?`,
            )
            .all(...(cursor ? [cursor] : []), refsJson, limit + 1)
        : db
            .prepare(
              `SELECT d.* FROM datapath_flow d WHERE d.id IN (
                 SELECT t.datapath_flow_id FROM trace t INDEXED BY idx_trace_dpflow_cover WHERE t.id IN (SELECT value FROM json_each(?)))
               ${cursor ? 'AND d.id < ?' : ''} ORDER BY d.id DESC LIMIT ?`,
            )
            .all(JSON.stringify(ids), ...(cursor ? [cursor] : []), limit + 1)
    ) as Parameters<typeof toJson>[0][];
    // The citing traces of the whole page in one statement, and each path's verdict once (one
    // statement per flow and one per trace were most of an audit's cost at 1M, bench/api/RESULTS.md).
    // (The row past the limit only says there is a next page: page() drops it, its traces are not read.)
    const shown = rows.slice(0, limit);
    const byFlow = new Map<number, AuditTrace[]>();
    for (const r of shown) byFlow.set(r.id, []);
    const traceRows = db
      .prepare(
        `SELECT id, datapath_flow_id, verdict, consistent, path_id FROM trace WHERE datapath_flow_id IN (SELECT value FROM json_each(?))
           AND ${citesSql(kind, 'trace.id')} ORDER BY id DESC`,
      )
      .all(JSON.stringify(shown.map((r) => r.id)), refsJson) as Array<{ id: number; datapath_flow_id: number; verdict: string; consistent: number | null; path_id: number | null }>;
    const pathIds = [...new Set(traceRows.map((t) => t.path_id).filter((p): p is number => p !== null))];
    const pathVerdicts = new Map<number, string>();
    if (pathIds.length)
      for (const p of db.prepare('SELECT id, verdict FROM path WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify(pathIds)) as Array<{ id: number; verdict: string }>)
        pathVerdicts.set(p.id, p.verdict);
    for (const t of traceRows) {
      const pathVerdict = t.path_id ? pathVerdicts.get(t.path_id) : undefined;
      byFlow.get(t.datapath_flow_id)?.push({
        id: t.id,
        pathId: t.path_id,
        consistent: t.consistent == null ? null : t.consistent === 1,
        verdict: JSON.parse(t.verdict),
        pathVerdict: t.path_id ? JSON.parse(pathVerdict as string) : null,
      });
    }
    return page(
      rows.map((r) => ({ ...toJson(r), traces: byFlow.get(r.id) ?? [] })),
      limit,
    );
  }
}
