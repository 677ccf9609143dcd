// Annotated traces into rows and back. Writes run inside the StoreWriter's transactions (pure
// synchronous code, prepared statements); the OpenFlow rules, logical-flow snapshots and OVN
// objects a step refers to are stored once and remembered by id in memory, so a trace of 30
// steps usually costs one trace row, 30 small step rows and a few port rows.
import { createHash } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { AnnotatedStep, LogicalFlowSnapshot, StepHint, StepOwner } from '../correlation/types';
import type { WriteContext } from '../storage/writer';
import { LogicalPortJson, OwnerJson, StepJson, TraceJson, TraceRecordInput, verdictJson } from './trace-record';

const STALE = 1;
const COLLISION = 2;

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

const STEP_BATCH = 16;
const stepSql: string[] = [];
/** `INSERT … VALUES (…), (…)` for n steps; the writer caches the prepared statement by its text. */
function stepInsertSql(n: number): string {
  return (stepSql[n] ??=
    'INSERT INTO trace_step (trace_id, seq, depth, rule_id, lflow_id, owner_id, hint_id, flags) VALUES ' + Array(n).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', '));
}

/** Bounded id cache: stored rows never change, so a hit is always right. */
class IdCache {
  private map = new Map<string, number>();
  constructor(private readonly max = 200_000) {}
  get(k: string): number | undefined {
    return this.map.get(k);
  }
  set(k: string, id: number): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(k, id);
  }
  clear(): void {
    this.map.clear();
  }
}

export class TraceStore {
  /** OpenFlow rule ids: (cookie/table/priority/bridge) → match → actions → id. */
  private ruleTree = new Map<string, Map<string, Map<string, number>>>();
  private ruleCount = 0;
  private lflows = new IdCache();
  private objects = new IdCache();
  /** Port UUID → name already in logical_port_alias. */
  private aliases = new Map<string, string>();
  /** Snapshot id → newest created_at citing it since the last flushSeen. */
  private seen = new Map<number, string>();

  /** Forget cached ids (after pruning removed rows they point to). */
  clearCaches(): void {
    this.ruleTree.clear();
    this.ruleCount = 0;
    this.lflows.clear();
    this.objects.clear();
    this.seen.clear();
    this.aliases.clear();
  }

  // ---- writes -------------------------------------------------------------------------

  /** Writes the pending last_seen bumps; run at the end of each writer chunk (same transaction). */
  flushSeen(tx: WriteContext): void {
    if (!this.seen.size) return;
    const stmt = tx.stmt('UPDATE logical_flow_snapshot SET last_seen = ? WHERE id = ? AND last_seen < ?');
    for (const [id, at] of this.seen) stmt.run(at, id, at);
    this.seen.clear();
  }

  insert(tx: WriteContext, rec: TraceRecordInput): number {
    const t = rec.trace;
    const extra: Record<string, unknown> = {};
    if (t.warnings.length) extra.warnings = t.warnings;
    if (t.errors.length) extra.errors = t.errors;
    if (t.translationFailed) extra.translationFailed = t.translationFailed;
    const collisions: Record<number, StepOwner[]> = {};
    for (const s of t.steps) if (s.owners.length > 1) collisions[s.seq] = s.owners.slice(1) as StepOwner[];
    if (Object.keys(collisions).length) extra.collisions = collisions;

    const info = tx
      .stmt(
        `INSERT INTO trace (chassis, created_at, datapath_flow_id, upcall_id, session_id, ufid, method, bridge, recirc_id,
           flow, final_flow, megaflow, datapath_actions, consistent, consistent_reason, verdict_kinds, verdict, path_id, step_count, extra)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        rec.chassis,
        rec.createdAt,
        rec.datapathFlowId ?? null,
        rec.upcallId ?? null,
        rec.sessionId ?? null,
        rec.ufid ?? null,
        t.method,
        t.bridge,
        t.recircId,
        t.flow,
        packFinalFlow(t.flow, t.finalFlow),
        t.megaflow,
        t.datapathActions,
        rec.consistent == null ? null : rec.consistent ? 1 : 0,
        rec.consistentReason ?? null,
        ',' + verdictJson(t.verdict).kinds.join(',') + ',',
        JSON.stringify(verdictJson(t.verdict)),
        rec.pathId ?? null,
        t.steps.length,
        Object.keys(extra).length ? JSON.stringify(extra) : null,
      );
    const traceId = Number(info.lastInsertRowid);
    // Steps go in as multi-row INSERTs of up to STEP_BATCH rows: one native call instead of 30
    // is most of the load rate (bench/api).
    const values: unknown[] = [];
    const flush = () => {
      if (values.length) tx.stmt(stepInsertSql(values.length / 8)).run(values);
      values.length = 0;
    };
    for (const s of t.steps) {
      const owner = s.owners[0];
      let lflowId: number | null = null;
      let ownerId: number | null = null;
      if (owner?.logicalFlow) lflowId = this.lflowId(tx, owner.logicalFlow, rec.createdAt);
      else if (owner) ownerId = this.objectId(tx, 'OVN_Southbound', owner.table, owner.uuid, owner.name ?? null, owner.summary ?? '', ownerDetail(owner));
      const hintId = s.hint ? this.hintId(tx, s.hint) : null;
      const flags = (owner?.stale ? STALE : 0) | (s.collision ? COLLISION : 0);
      values.push(traceId, s.seq, s.depth, this.ruleId(tx, s), lflowId, ownerId, hintId, flags);
      if (values.length === STEP_BATCH * 8) flush();
    }
    flush();
    this.insertPorts(tx, traceId, rec, 'pass');
    return traceId;
  }

  /** Adds the ports of a whole path to each of its traces (scope 'path'). */
  addPathPorts(tx: WriteContext, traceId: number, ports: Array<{ name: string; uuid: string | null; bindingUuid: string | null; datapath: string | null; role: string }>): void {
    const stmt = tx.stmt(
      'INSERT OR IGNORE INTO trace_port (port_name, trace_id, role, scope, port_uuid, binding_uuid, datapath) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const p of ports) {
      stmt.run(p.name, traceId, p.role, 'path', p.uuid, p.bindingUuid, p.datapath);
      this.alias(tx, p.uuid, p.name);
      this.alias(tx, p.bindingUuid, p.name);
    }
  }

  private insertPorts(tx: WriteContext, traceId: number, rec: TraceRecordInput, scope: 'pass' | 'path'): void {
    const stmt = tx.stmt(
      'INSERT OR IGNORE INTO trace_port (port_name, trace_id, role, scope, port_uuid, binding_uuid, datapath) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const p of rec.trace.ports) {
      const uuid = rec.portUuids?.get(p.logicalPort) ?? null;
      stmt.run(p.logicalPort, traceId, p.role, p.scope ?? scope, uuid, p.portBindingUuid, p.datapath);
      this.alias(tx, uuid, p.logicalPort);
      this.alias(tx, p.portBindingUuid, p.logicalPort);
    }
  }

  /** Remembers which name a port UUID had (GET /traces?logical_port=<uuid>). */
  private alias(tx: WriteContext, uuid: string | null, name: string): void {
    if (!uuid) return;
    if (this.aliases.get(uuid) === name) return;
    tx.stmt('INSERT OR IGNORE INTO logical_port_alias (uuid, port_name) VALUES (?, ?)').run(uuid, name);
    if (this.aliases.size > 100_000) this.aliases.clear();
    this.aliases.set(uuid, name);
  }

  private ruleId(tx: WriteContext, s: AnnotatedStep): number {
    // Looked up by the step's own strings (their hashes are cached by V8), not by one long
    // concatenated key that would be built and hashed again for every step.
    const byActions = this.ruleIndex(s.cookie, s.table, s.priority, s.bridge, s.match);
    const hit = byActions.get(s.actions);
    if (hit !== undefined) return hit;
    const key = `${s.bridge}\u0000${s.table}\u0000${s.priority}\u0000${s.cookie}\u0000${s.match}\u0000${s.actions}`;
    const hash = sha1(key);
    tx.stmt('INSERT OR IGNORE INTO of_rule (hash, bridge, table_id, priority, match, actions, cookie) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      hash,
      s.bridge,
      s.table,
      s.priority,
      s.match,
      s.actions,
      s.cookie,
    );
    const id = (tx.stmt('SELECT id FROM of_rule WHERE hash = ?').get(hash) as { id: number }).id;
    if (++this.ruleCount > 200_000) {
      this.ruleTree.clear();
      this.ruleCount = 0;
    }
    byActions.set(s.actions, id);
    return id;
  }

  private ruleIndex(cookie: string | null, table: number, priority: number | null, bridge: string | null, match: string): Map<string, number> {
    const head = `${cookie}/${table}/${priority}/${bridge}`;
    let byMatch = this.ruleTree.get(head);
    if (!byMatch) this.ruleTree.set(head, (byMatch = new Map()));
    let byActions = byMatch.get(match);
    if (!byActions) byMatch.set(match, (byActions = new Map()));
    return byActions;
  }

  private lflowId(tx: WriteContext, lf: LogicalFlowSnapshot, now: string): number {
    const key = `${lf.uuid}/${lf.contentHash}`;
    let id = this.lflows.get(key);
    if (id === undefined) {
      tx.stmt(
        `INSERT OR IGNORE INTO logical_flow_snapshot (uuid, content_hash, datapaths, pipeline, table_id, stage, priority, match, actions,
           source, stage_hint, external_ids, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        lf.uuid,
        lf.contentHash,
        JSON.stringify(lf.datapaths),
        lf.pipeline,
        lf.tableId,
        lf.stage,
        lf.priority,
        lf.match,
        lf.actions,
        lf.source,
        lf.stageHint,
        JSON.stringify(lf.externalIds),
        now,
        now,
      );
      id = (tx.stmt('SELECT id FROM logical_flow_snapshot WHERE uuid = ? AND content_hash = ?').get(lf.uuid, lf.contentHash) as { id: number }).id;
      this.lflows.set(key, id);
    }
    // last_seen is bumped once per writer chunk (flushSeen), not with one UPDATE per step: at
    // thousands of traces/s the per-step UPDATE was a fifth of the load time (bench/api).
    const prev = this.seen.get(id);
    if (prev === undefined || prev < now) this.seen.set(id, now);
    return id;
  }

  private hintId(tx: WriteContext, h: StepHint): number {
    return this.objectId(tx, 'OVN_Northbound', h.table, h.uuid, h.name, h.summary, {});
  }

  private objectId(tx: WriteContext, db: string, table: string, uuid: string, name: string | null, summary: string, detail: object): number {
    const d = JSON.stringify(detail);
    const key = `${db}\u0000${table}\u0000${uuid}\u0000${name}\u0000${summary}\u0000${d}`;
    const hit = this.objects.get(key);
    if (hit !== undefined) return hit;
    const hash = sha1(key);
    tx.stmt('INSERT OR IGNORE INTO ovn_object (hash, db, tbl, uuid, name, summary, detail) VALUES (?, ?, ?, ?, ?, ?, ?)').run(hash, db, table, uuid, name, summary, d);
    const id = (tx.stmt('SELECT id FROM ovn_object WHERE hash = ?').get(hash) as { id: number }).id;
    this.objects.set(key, id);
    return id;
  }

  // ---- reads --------------------------------------------------------------------------

  private readonly readStmts = new WeakMap<Database, Map<string, Statement>>();

  /** A read statement prepared once per connection (a list of 50 traces runs 50 port queries). */
  stmt(db: Database, sql: string): Statement {
    let m = this.readStmts.get(db);
    if (!m) this.readStmts.set(db, (m = new Map()));
    let st = m.get(sql);
    if (!st) m.set(sql, (st = db.prepare(sql)));
    return st;
  }

  /** The trace as the API shows it; steps only when asked (lists carry stepCount). */
  read(db: Database, id: number, withSteps: boolean): TraceJson | undefined {
    const row = this.stmt(db, 'SELECT * FROM trace WHERE id = ?').get(id) as TraceRow | undefined;
    if (!row) return undefined;
    return this.fromRow(db, row, withSteps);
  }

  fromRow(db: Database, row: TraceRow, withSteps: boolean): TraceJson {
    const extra = row.extra ? (JSON.parse(row.extra) as Record<string, unknown>) : {};
    // One range of the primary key (trace_id, port_name, role, scope); sorted here rather than
    // by a temp b-tree per trace in SQLite (byte order, as SQLite's BINARY collation).
    const ports = (
      this.stmt(db, 'SELECT port_name, role, scope, port_uuid, binding_uuid, datapath FROM trace_port WHERE trace_id = ?').all(row.id) as Array<{
        port_name: string;
        role: string;
        scope: 'pass' | 'path';
        port_uuid: string | null;
        binding_uuid: string | null;
        datapath: string | null;
      }>
    ).sort((a, b) => cmp(b.scope, a.scope) || cmp(a.role, b.role) || cmp(a.port_name, b.port_name));
    const json: TraceJson = {
      id: row.id,
      ufid: row.ufid,
      chassis: row.chassis,
      bridge: row.bridge,
      createdAt: row.created_at,
      method: row.method,
      recircId: row.recirc_id,
      flow: row.flow,
      finalFlow: unpackFinalFlow(row.flow, row.final_flow),
      megaflow: row.megaflow,
      datapathActions: row.datapath_actions,
      consistent: row.consistent == null ? null : row.consistent === 1,
      consistentReason: row.consistent_reason,
      pathId: row.path_id,
      datapathFlowId: row.datapath_flow_id,
      sessionId: row.session_id,
      verdict: JSON.parse(row.verdict),
      logicalPorts: ports.map(
        (p): LogicalPortJson => ({ name: p.port_name, uuid: p.port_uuid, bindingUuid: p.binding_uuid, datapath: p.datapath, role: p.role, scope: p.scope }),
      ),
      stepCount: row.step_count,
    };
    if (withSteps) {
      json.steps = this.readSteps(db, row.id, (extra.collisions ?? {}) as Record<string, StepOwner[]>);
      json.warnings = (extra.warnings as string[]) ?? [];
      json.errors = (extra.errors as string[]) ?? [];
      json.translationFailed = (extra.translationFailed as string) ?? null;
    }
    return json;
  }

  private readSteps(db: Database, traceId: number, collisions: Record<string, StepOwner[]>): StepJson[] {
    const rows = this.stmt(
      db,
      `SELECT s.seq, s.depth, s.flags, r.bridge, r.table_id, r.priority, r.cookie, r.match, r.actions,
                l.uuid AS l_uuid, l.datapaths AS l_datapaths, l.pipeline AS l_pipeline, l.table_id AS l_table_id, l.stage AS l_stage,
                l.priority AS l_priority, l.match AS l_match, l.actions AS l_actions, l.source AS l_source,
                o.tbl AS o_table, o.uuid AS o_uuid, o.name AS o_name, o.summary AS o_summary,
                h.tbl AS h_table, h.uuid AS h_uuid, h.name AS h_name, h.summary AS h_summary
           FROM trace_step s JOIN of_rule r ON r.id = s.rule_id
           LEFT JOIN logical_flow_snapshot l ON l.id = s.lflow_id
           LEFT JOIN ovn_object o ON o.id = s.owner_id
           LEFT JOIN ovn_object h ON h.id = s.hint_id
          WHERE s.trace_id = ? ORDER BY s.seq`,
    ).all(traceId) as StepRow[];
    return rows.map((r) => {
      const stale = (r.flags & STALE) !== 0;
      const owners: OwnerJson[] = [];
      if (r.l_uuid) {
        owners.push({
          table: 'Logical_Flow',
          uuid: r.l_uuid,
          stale,
          datapaths: (JSON.parse(r.l_datapaths!) as Array<{ name: string | null; uuid: string; nbUuid: string | null }>).map((d) => ({
            name: d.name,
            uuid: d.uuid,
            nbUuid: d.nbUuid,
          })),
          pipeline: r.l_pipeline!,
          tableId: r.l_table_id!,
          stage: r.l_stage,
          priority: r.l_priority!,
          match: r.l_match!,
          actions: r.l_actions!,
          source: r.l_source,
        });
      } else if (r.o_uuid) owners.push({ table: r.o_table!, uuid: r.o_uuid, stale, name: r.o_name, summary: r.o_summary! });
      for (const o of collisions[String(r.seq)] ?? []) owners.push(ownerJson(o));
      return {
        seq: r.seq,
        depth: r.depth,
        bridge: r.bridge,
        table: r.table_id,
        priority: r.priority,
        cookie: r.cookie,
        match: r.match,
        actions: r.actions,
        owners,
        collision: (r.flags & COLLISION) !== 0,
        northbound: r.h_uuid ? { table: r.h_table as StepHint['table'], uuid: r.h_uuid, name: r.h_name, summary: r.h_summary! } : null,
      };
    });
  }
}

/**
 * The final flow is the flow plus the registers the pipeline set: stored as what differs from
 * the flow (NUL, shared prefix length, shared suffix length, middle), ~250 bytes less per trace.
 */
export function packFinalFlow(flow: string, final: string): string {
  const max = Math.min(flow.length, final.length);
  let p = 0;
  while (p < max && flow.charCodeAt(p) === final.charCodeAt(p)) p++;
  let q = 0;
  while (q < max - p && flow.charCodeAt(flow.length - 1 - q) === final.charCodeAt(final.length - 1 - q)) q++;
  if (p + q < 32) return final;
  return `\u0000${p},${q},${final.slice(p, final.length - q)}`;
}

export function unpackFinalFlow(flow: string, stored: string): string {
  if (stored.charCodeAt(0) !== 0) return stored;
  const a = stored.indexOf(',');
  const b = stored.indexOf(',', a + 1);
  const p = Number(stored.slice(1, a));
  const q = Number(stored.slice(a + 1, b));
  return flow.slice(0, p) + stored.slice(b + 1) + flow.slice(flow.length - q);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function ownerDetail(o: StepOwner): object {
  return o.datapath ? { datapath: o.datapath } : {};
}

function ownerJson(o: StepOwner): OwnerJson {
  if (o.logicalFlow) {
    const lf = o.logicalFlow;
    return {
      table: o.table,
      uuid: o.uuid,
      stale: o.stale,
      datapaths: lf.datapaths.map((d) => ({ name: d.name, uuid: d.uuid, nbUuid: d.nbUuid })),
      pipeline: lf.pipeline,
      tableId: lf.tableId,
      stage: lf.stage,
      priority: lf.priority,
      match: lf.match,
      actions: lf.actions,
      source: lf.source,
    };
  }
  return { table: o.table, uuid: o.uuid, stale: o.stale, name: o.name ?? null, summary: o.summary ?? '' };
}

export interface TraceRow {
  id: number;
  chassis: string;
  created_at: string;
  datapath_flow_id: number | null;
  upcall_id: number | null;
  session_id: number | null;
  ufid: string | null;
  method: string;
  bridge: string | null;
  recirc_id: string;
  flow: string;
  final_flow: string;
  megaflow: string;
  datapath_actions: string;
  consistent: number | null;
  consistent_reason: string | null;
  verdict_kinds: string;
  verdict: string;
  path_id: number | null;
  step_count: number;
  extra: string | null;
}

interface StepRow {
  seq: number;
  depth: number;
  flags: number;
  bridge: string | null;
  table_id: number;
  priority: number | null;
  cookie: string | null;
  match: string;
  actions: string;
  l_uuid: string | null;
  l_datapaths: string | null;
  l_pipeline: string | null;
  l_table_id: number | null;
  l_stage: string | null;
  l_priority: number | null;
  l_match: string | null;
  l_actions: string | null;
  l_source: string | null;
  o_table: string | null;
  o_uuid: string | null;
  o_name: string | null;
  o_summary: string | null;
  h_table: string | null;
  h_uuid: string | null;
  h_name: string | null;
  h_summary: string | null;
}
