// The one way into the trace tables (trace, trace_port, logical_port_alias, trace_citation, of_rule,
// logical_flow_snapshot, ovn_object). Writes run inside the StoreWriter's transactions (pure
// synchronous code, prepared statements); the OpenFlow rules, logical-flow snapshots and OVN
// objects a step refers to are stored once and remembered by id in memory (step-ref-store.ts), so a trace of 30 steps
// usually costs one trace row (its steps packed in it: step-pack.ts), ~20 citation rows (what the
// audits walk) and a few port rows. The API's reads go through trace-read-store.ts on
// `storage.query` (SQLite or PostgreSQL, async); the writes' own id lookups stay on the writer.
import { Inject, Injectable } from '@nestjs/common';
import type { Page } from '../common/query';
import type { LocalnetEnds, StepOwner } from '../correlation/types';
import { endingExtra } from '../ovs/trace-ending';
import { SqliteReader, type SqlReader } from '../storage/sql';
import { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import { CitationBatch, CITES_HINT, CITES_LFLOW } from './citation-store';
import { citationsOf, StepPacker } from './step-pack';
import { StepRefStore } from './step-ref-store';
import { deleteExtraSessions, insertExtraSessions, ofSession } from './trace-extra-session-store';
import { COLLISION, packFinalFlow, STALE, TraceListQuery, TraceOfFlow, TraceReadStore, TraceRow } from './trace-read-store';
import { TraceJson, TraceRecordInput, verdictJson } from './trace-record';
import { newestPerSlot, resumeFloors, slotFloorsAt } from './trace-slot-store';
import { PathPortRows } from './write-caches';

export type { TraceRow } from './trace-read-store';


/**
 * The connection reads use and the writer (StoreService, or storeHandles() outside the app); the
 * API's reader when there is one (else the read connection through a SqliteReader).
 */
export interface StoreHandles {
  readonly db: StoreService['db'];
  readonly writer: StoreService['writer'];
  readonly query?: SqlReader;
}

/** What a pruned trace leaves to its owners: its path and its datapath flow lifetime. */
export interface PrunedTrace {
  pathId: number | null;
  datapathFlowId: number | null;
}

/**
 * The traces heard before ? on the agent's clock, oldest first, each through its own index: the agent's
 * own (created_at, heard_at NULL: idx_trace_created) and those a producer timed (heard_at: idx_trace_heard,
 * partial). The first steps over a producer's traces dated before the cut but heard since: as many as
 * its clock is behind holds, once per batch.
 */
const HEARD_BEFORE = [
  { where: 'created_at < ? AND heard_at IS NULL', by: 'created_at' },
  { where: 'heard_at < ?', by: 'heard_at' },
] as const;

@Injectable()
export class TraceStore {
  private readonly reader: TraceReadStore;
  private readonly sql: () => SqlReader;
  /** The OpenFlow rules, logical-flow snapshots and OVN objects the steps refer to, by id. */
  private readonly refs = new StepRefStore();
  private readonly packer = new StepPacker();
  private readonly citationKey = {};
  /** The path-scoped port rows of the traces written here (addPathPorts). */
  private readonly pathPorts = new PathPortRows();
  /** Port UUID → name already in logical_port_alias. */
  private aliases = new Map<string, string>();

  constructor(@Inject(StoreService) storage: StoreHandles) {
    const local = new SqliteReader(storage.db);
    // Read at each call: StoreService.query is the PostgreSQL reader once that is opened.
    this.sql = () => storage.query ?? local;
    this.reader = new TraceReadStore(this.sql);
    storage.writer.onChunkEnd((tx) => this.refs.flushSeen(tx));
    storage.writer.onRollback(() => this.clearCaches());
  }

  // ---- reads (the API's: storage.query) ----------------------------------------------

  /** The trace as the API shows it; steps only when asked (lists carry stepCount). */
  read(id: number, withSteps: boolean): Promise<TraceJson | undefined> {
    return this.reader.read(id, withSteps);
  }

  fromRow(row: TraceRow, withSteps: boolean): Promise<TraceJson> {
    return this.reader.fromRow(row, withSteps);
  }

  fromRows(rows: TraceRow[], withSteps: boolean): Promise<TraceJson[]> {
    return this.reader.fromRows(rows, withSteps);
  }

  list(q: TraceListQuery): Promise<Page<TraceJson>> {
    return this.reader.list(q);
  }

  /** Of these traces, those that belong to the session (trace-extra-session-store.ts). */
  ofSession(ids: readonly number[], sessionId: number): Promise<Set<number>> {
    return ofSession(this.sql(), ids, sessionId);
  }

  portNameOfUuid(uuid: string): Promise<string | undefined> {
    return this.reader.portNameOfUuid(uuid);
  }

  datapathNameOfUuid(uuid: string): Promise<string | undefined> {
    return this.reader.datapathNameOfUuid(uuid);
  }

  hasPort(name: string): Promise<boolean> {
    return this.reader.hasPort(name);
  }

  ofDatapathFlow(flowId: number): Promise<TraceOfFlow[]> {
    return this.reader.ofDatapathFlow(flowId);
  }

  /** Writer slot → its newest trace id (trace-slot-store.ts), for the stream's tick. */
  newestPerSlot(): Promise<Map<number, number>> {
    return newestPerSlot(this.sql());
  }

  /** Where a stream resumed by a plain trace id starts in each other slot (trace-slot-store.ts). */
  resumeFloors(anchor: number, earlierMs: number, newest: ReadonlyMap<number, number>): Promise<{ floors: Map<number, number>; from: number }> {
    return resumeFloors(this.sql(), anchor, earlierMs, newest);
  }

  /** Where a stream resumed by an anchored position starts in the slots it does not list: from `time` on (trace-slot-store.ts). */
  floorsAt(time: string, newest: ReadonlyMap<number, number>): Promise<Map<number, number>> {
    return slotFloorsAt(this.sql(), time, newest);
  }

  /** Forget cached ids (after pruning removed rows they point to). */
  private clearCaches(): void {
    this.refs.clear();
    this.aliases.clear();
    this.pathPorts.clear();
  }

  // ---- retention (inside writer jobs) -------------------------------------------------

  /** The id of the newest trace beyond the `keep` newest (one index walk of `keep` entries). */
  idBeyondNewest(tx: WriteContext, keep: number): number | null {
    const row = tx.stmt('SELECT id FROM trace ORDER BY id DESC LIMIT 1 OFFSET ?').get(keep) as { id: number } | undefined;
    return row ? row.id : null;
  }

  /**
   * When the oldest trace kept was heard, on the agent's clock (null: none is): where the history
   * retention keeps begins, compared with upcalls' heard_at. A store's ids grow with that clock (one
   * writer): the first id's heard_at, or created_at for the agent's own. MIN(created_at) took a
   * producer's clock: two days ahead, every upcall heard since was older and went.
   */
  oldestHeardAt(tx: WriteContext): string | null {
    return (tx.stmt('SELECT COALESCE(heard_at, created_at) AS t FROM trace ORDER BY id LIMIT 1').get() as { t: string } | undefined)?.t ?? null;
  }

  /**
   * At most `batch` of the oldest traces with an id at or below `maxId`, then heard before `before` on
   * the agent's clock: created_at for the agent's own traces, heard_at for those timed by a producer
   * (HEARD_BEFORE; one by its created_at, from a producer's clock days behind, went as soon as heard).
   */
  oldest(tx: WriteContext, limits: { maxId: number | null; before: string | null }, batch: number): number[] {
    const ids = new Set<number>();
    if (limits.maxId !== null) {
      for (const r of tx.stmt('SELECT id FROM trace WHERE id <= ? ORDER BY id LIMIT ?').all(limits.maxId, batch) as Array<{ id: number }>) ids.add(r.id);
    }
    for (const h of HEARD_BEFORE) {
      if (limits.before === null || ids.size >= batch) break;
      for (const r of tx.stmt(`SELECT id FROM trace WHERE ${h.where} ORDER BY ${h.by} LIMIT ?`).all(limits.before, batch - ids.size) as Array<{ id: number }>) ids.add(r.id);
    }
    return [...ids];
  }

  /**
   * The newest trace heard before `before` on the agent's clock (HEARD_BEFORE, newest first), null: none.
   * A store's ids grow with the agent's clock (one writer), so every trace at or below it was heard before too.
   */
  newestHeardBefore(tx: WriteContext, before: string): number | null {
    let cut: number | null = null;
    for (const h of HEARD_BEFORE) {
      const r = tx.stmt(`SELECT id FROM trace WHERE ${h.where} ORDER BY ${h.by} DESC LIMIT 1`).get(before) as { id: number } | undefined;
      if (r && (cut === null || r.id > cut)) cut = r.id;
    }
    return cut;
  }

  /**
   * Deletes these traces with their port rows, extra sessions and citation bits; returns, per trace deleted, the
   * path and datapath flow lifetime it belonged to (their owners decide whether those go too).
   */
  prune(tx: WriteContext, ids: readonly number[]): PrunedTrace[] {
    const out: PrunedTrace[] = [];
    const info = tx.stmt('SELECT path_id, datapath_flow_id, steps FROM trace WHERE id = ?');
    const cites: Array<[number, number, number]> = [];
    const delPorts = tx.stmt('DELETE FROM trace_port WHERE trace_id = ?');
    const delTrace = tx.stmt('DELETE FROM trace WHERE id = ?');
    for (const id of ids) {
      this.pathPorts.forget(id);
      const t = info.get(id) as { path_id: number | null; datapath_flow_id: number | null; steps: Buffer } | undefined;
      if (!t) continue;
      // The trace's own steps say which citation bits are its.
      for (const [kind, ref] of citationsOf(t.steps)) cites.push([kind, ref, id]);
      delPorts.run(id);
      deleteExtraSessions(tx, id);
      if (delTrace.run(id).changes) out.push({ pathId: t.path_id, datapathFlowId: t.datapath_flow_id });
    }
    CitationBatch.clear(tx, cites);
    return out;
  }

  // ---- writes -------------------------------------------------------------------------

  insert(tx: WriteContext, rec: TraceRecordInput): number {
    const t = rec.trace;
    const extra: Record<string, unknown> = {};
    if (t.warnings.length) extra.warnings = t.warnings;
    if (t.errors.length) extra.errors = t.errors;
    Object.assign(extra, endingExtra(t));
    const collisions: Record<number, StepOwner[]> = {};
    for (const s of t.steps) if (s.owners.length > 1) collisions[s.seq] = s.owners.slice(1) as StepOwner[];
    if (Object.keys(collisions).length) extra.collisions = collisions;

    // Steps first: their ids go into the packed blob and the citations.
    const packer = this.packer.reset();
    const lflowIds: number[] = [];
    const hintIds: number[] = [];
    for (const s of t.steps) {
      const owner = s.owners[0];
      let lflowId: number | null = null;
      let ownerId: number | null = null;
      if (owner?.logicalFlow) {
        lflowId = this.refs.lflowId(tx, owner.logicalFlow, rec.createdAt);
        if (!lflowIds.includes(lflowId)) lflowIds.push(lflowId);
      } else if (owner) ownerId = this.refs.ownerId(tx, owner);
      const hintId = s.hint ? this.refs.hintId(tx, s.hint) : null;
      if (hintId !== null && !hintIds.includes(hintId)) hintIds.push(hintId);
      const flags = (owner?.stale ? STALE : 0) | (s.collision ? COLLISION : 0);
      packer.add(s.seq, s.depth, this.refs.ruleId(tx, s), lflowId, ownerId, hintId, flags);
    }

    const verdict = verdictJson(t.verdict);
    const info = tx
      .stmt(
        `INSERT INTO trace (chassis, created_at, heard_at, datapath_flow_id, upcall_id, session_id, ufid, method, method_reason, bridge, recirc_id,
           flow, final_flow, megaflow, datapath_actions, consistent, consistent_reason, verdict_kinds, verdict, path_id, step_count, extra, steps)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        rec.chassis,
        rec.createdAt,
        rec.heardAt ?? null,
        rec.datapathFlowId ?? null,
        rec.upcallId ?? null,
        rec.sessionId ?? null,
        rec.ufid ?? null,
        t.method,
        rec.methodReason ?? null,
        t.bridge,
        t.recircId,
        t.flow,
        packFinalFlow(t.flow, t.finalFlow),
        t.megaflow,
        t.datapathActions,
        rec.consistent == null ? null : rec.consistent ? 1 : 0,
        rec.consistentReason ?? null,
        ',' + verdict.kinds.join(',') + ',',
        JSON.stringify(verdict),
        rec.pathId ?? null,
        t.steps.length,
        Object.keys(extra).length ? JSON.stringify(extra) : null,
        packer.bytes(),
      );
    const traceId = Number(info.lastInsertRowid);
    if (rec.datapathFlowId != null && t.localnet) markLocalnet(tx, rec.datapathFlowId, t.localnet);
    this.insertCitations(tx, traceId, lflowIds, hintIds);
    this.insertPorts(tx, traceId, rec, 'pass');
    insertExtraSessions(tx, traceId, rec.extraSessionIds ?? []);
    return traceId;
  }

  /** Citations are ORed into their bucket rows once per writer transaction (citation-store.ts). */
  private insertCitations(tx: WriteContext, traceId: number, lflowIds: number[], hintIds: number[]): void {
    const batch = tx.shared(this.citationKey, () => new CitationBatch(), (t, b) => b.flush(t));
    for (const id of lflowIds) batch.add(CITES_LFLOW, id, traceId);
    for (const id of hintIds) batch.add(CITES_HINT, id, traceId);
  }

  /** Adds the ports of a whole path to each of its traces (scope 'path'); none to a trace no longer stored. */
  addPathPorts(tx: WriteContext, traceId: number, ports: Array<{ name: string; uuid: string | null; bindingUuid: string | null; datapath: string | null; role: string }>): void {
    // Each pass adds the whole path's ports to every trace of the path: nearly all of those rows
    // are there already (INSERT OR IGNORE, a statement each). The rows this process wrote for a
    // trace are known (PathPortRows), so only the new ones go to SQLite.
    const known = this.pathPorts.of(traceId);
    const fresh = known ? ports.filter((p) => !known.has(p.name, p.role)) : ports;
    if (!fresh.length) {
      for (const p of ports) {
        this.alias(tx, p.uuid, p.name);
        this.alias(tx, p.bindingUuid, p.name);
      }
      return;
    }
    // A port row carries its trace's time: the port's list is walked by it (trace-read-store.ts).
    const trace = tx.stmt('SELECT created_at FROM trace WHERE id = ?').get(traceId) as { created_at: string } | undefined;
    if (!trace) return;
    const stmt = tx.stmt(
      'INSERT OR IGNORE INTO trace_port (port_name, trace_id, created_at, role, scope, port_uuid, binding_uuid, datapath) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const p of fresh) {
      stmt.run(p.name, traceId, trace.created_at, p.role, 'path', p.uuid, p.bindingUuid, p.datapath);
      known?.add(p.name, p.role);
    }
    for (const p of ports) {
      this.alias(tx, p.uuid, p.name);
      this.alias(tx, p.bindingUuid, p.name);
    }
  }

  private insertPorts(tx: WriteContext, traceId: number, rec: TraceRecordInput, scope: 'pass' | 'path'): void {
    const stmt = tx.stmt(
      'INSERT OR IGNORE INTO trace_port (port_name, trace_id, created_at, role, scope, port_uuid, binding_uuid, datapath) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const rows = this.pathPorts.start(traceId);
    for (const p of rec.trace.ports) {
      const uuid = rec.portUuids?.get(p.logicalPort) ?? null;
      stmt.run(p.logicalPort, traceId, rec.createdAt, p.role, p.scope ?? scope, uuid, p.portBindingUuid, p.datapath);
      if ((p.scope ?? scope) === 'path') rows.add(p.logicalPort, p.role);
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
}

/**
 * A pass that crossed the physical network marks its datapath flow lifetime with the localnet ports
 * it came in by and left by (datapath_flow.localnet_in / localnet_out, idx_dpflow_localnet_*): the
 * hop across the network pairs lifetimes, as a tunnel's does, and a lifetime is traced once, maybe
 * long before the other side's (paths/localnet-hops.ts). Written here because a pass is stored only
 * here and only its annotation knows a port is a localnet one; the newest pass of a lifetime wins.
 */
function markLocalnet(tx: WriteContext, flowId: number, ends: LocalnetEnds): void {
  tx.stmt('UPDATE datapath_flow SET localnet_in = ?, localnet_out = ? WHERE id = ?').run(ends.in, ends.out, flowId);
}
