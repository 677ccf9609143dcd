// The rows a trace's steps refer to by id, each stored once: the OpenFlow rules (of_rule), the
// logical-flow snapshots (logical_flow_snapshot) and the OVN objects (ovn_object: a step's
// southbound owner that is no logical flow, its northbound hint). Each id is found or inserted in
// the writer's transaction and remembered in memory, so a trace of 30 steps seldom asks SQLite; a
// snapshot's last_seen is bumped once a writer chunk (flushSeen), everything forgotten on rollback
// (clear). Their ids are made here only: PostgreSQL's retention of a dead writer slot relies on it
// (retention/central-dead-slot-store.ts).
import { createHash } from 'node:crypto';
import type { AnnotatedStep, LogicalFlowSnapshot, StepHint, StepOwner } from '../correlation/types';
import type { WriteContext } from '../storage/writer';
import { ObjectIds } from './write-caches';

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

interface RuleRef {
  table: number;
  priority: number | null;
  bridge: string | null;
  id: number;
}

export class StepRefStore {
  /** OpenFlow rule ids: cookie → match → actions → (table, priority, bridge, id). */
  private ruleTree = new Map<string | null, Map<string, Map<string, RuleRef[]>>>();
  private ruleCount = 0;
  /** Logical-flow snapshot ids: uuid → content hash → id. */
  private lflows = new Map<string, Map<string, number>>();
  private lflowCount = 0;
  private readonly objects = new ObjectIds();
  /** Snapshot id → newest created_at citing it since the last flushSeen. */
  private seen = new Map<number, string>();

  /** Forget cached ids (after a rollback or pruning removed rows they point to). */
  clear(): void {
    this.ruleTree.clear();
    this.ruleCount = 0;
    this.lflows.clear();
    this.lflowCount = 0;
    this.objects.clear();
    this.seen.clear();
  }

  /** Writes the pending last_seen bumps; run at the end of each writer chunk (same transaction). */
  flushSeen(tx: WriteContext): void {
    if (!this.seen.size) return;
    const stmt = tx.stmt('UPDATE logical_flow_snapshot SET last_seen = ? WHERE id = ? AND last_seen < ?');
    for (const [id, at] of this.seen) stmt.run(at, id, at);
    this.seen.clear();
  }

  /** The id of a step's southbound owner when it is no logical flow (a port binding, a multicast group…). */
  ownerId(tx: WriteContext, owner: StepOwner): number {
    return this.objectId(tx, 'OVN_Southbound', owner.table, owner.uuid, owner.name ?? null, owner.summary ?? '', ownerDetail(owner));
  }

  ruleId(tx: WriteContext, s: AnnotatedStep): number {
    // Looked up by the step's own strings (V8 caches a string's hash), not by one long
    // concatenated key that would be built and hashed again for every step.
    const candidates = this.ruleCandidates(s.cookie, s.match, s.actions);
    for (const r of candidates) if (r.table === s.table && r.priority === s.priority && r.bridge === s.bridge) return r.id;
    const key = `${s.bridge}\u0000${s.table}\u0000${s.priority}\u0000${s.cookie}\u0000${s.match}\u0000${s.actions}`;
    const hash = sha1(key);
    const id = insertOrFind(
      tx,
      'INSERT OR IGNORE INTO of_rule (hash, bridge, table_id, priority, match, actions, cookie) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [hash, s.bridge, s.table, s.priority, s.match, s.actions, s.cookie],
      'SELECT id FROM of_rule WHERE hash = ?',
      [hash],
    );
    if (++this.ruleCount > 200_000) {
      this.ruleTree.clear();
      this.ruleCount = 0;
      return id;
    }
    candidates.push({ table: s.table, priority: s.priority, bridge: s.bridge, id });
    return id;
  }

  private ruleCandidates(cookie: string | null, match: string, actions: string): RuleRef[] {
    let byMatch = this.ruleTree.get(cookie);
    if (!byMatch) this.ruleTree.set(cookie, (byMatch = new Map()));
    let byActions = byMatch.get(match);
    if (!byActions) byMatch.set(match, (byActions = new Map()));
    let list = byActions.get(actions);
    if (!list) byActions.set(actions, (list = []));
    return list;
  }

  lflowId(tx: WriteContext, lf: LogicalFlowSnapshot, now: string): number {
    let byHash = this.lflows.get(lf.uuid);
    let id = byHash?.get(lf.contentHash);
    if (id === undefined) {
      id = insertOrFind(
        tx,
        `INSERT OR IGNORE INTO logical_flow_snapshot (uuid, content_hash, datapaths, pipeline, table_id, stage, priority, match, actions,
           source, stage_hint, external_ids, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        [lf.uuid, lf.contentHash, JSON.stringify(lf.datapaths), lf.pipeline, lf.tableId, lf.stage, lf.priority, lf.match, lf.actions, lf.source, lf.stageHint, JSON.stringify(lf.externalIds), now, now],
        'SELECT id FROM logical_flow_snapshot WHERE uuid = ? AND content_hash = ?',
        [lf.uuid, lf.contentHash],
      );
      if (++this.lflowCount > 200_000) {
        this.lflows.clear();
        this.lflowCount = 0;
      }
      if (!byHash) this.lflows.set(lf.uuid, (byHash = new Map()));
      byHash.set(lf.contentHash, id);
    }
    // last_seen is bumped once per writer chunk (flushSeen), not with one UPDATE per step: at
    // thousands of traces/s the per-step UPDATE was a fifth of the load time (bench/api).
    const prev = this.seen.get(id);
    if (prev === undefined || prev < now) this.seen.set(id, now);
    return id;
  }

  hintId(tx: WriteContext, h: StepHint): number {
    return this.objectId(tx, 'OVN_Northbound', h.table, h.uuid, h.name, h.summary, '{}');
  }

  /** `d`: the row's detail as stored (JSON). Found by its fields (ObjectIds): no key built and hashed a step. */
  private objectId(tx: WriteContext, db: string, table: string, uuid: string, name: string | null, summary: string, d: string): number {
    const hit = this.objects.get(db, table, uuid, name, summary, d);
    if (hit !== undefined) return hit;
    const hash = sha1(`${db}\u0000${table}\u0000${uuid}\u0000${name}\u0000${summary}\u0000${d}`);
    const id = insertOrFind(
      tx,
      'INSERT OR IGNORE INTO ovn_object (hash, db, tbl, uuid, name, summary, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [hash, db, table, uuid, name, summary, d],
      'SELECT id FROM ovn_object WHERE hash = ?',
      [hash],
    );
    this.objects.set(db, table, uuid, name, summary, d, id);
    return id;
  }
}

/**
 * A stored row's id: a new row's from its INSERT OR IGNORE … RETURNING id (no second statement),
 * one already there (the insert returns none) found by `find`.
 */
function insertOrFind(tx: WriteContext, insert: string, values: unknown[], find: string, key: unknown[]): number {
  const added = tx.stmt(insert).get(...values) as { id: number } | undefined;
  return (added ?? (tx.stmt(find).get(...key) as { id: number })).id;
}

function ownerDetail(o: StepOwner): string {
  return o.datapath ? JSON.stringify({ datapath: o.datapath }) : '{}';
}
