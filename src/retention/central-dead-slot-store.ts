// PostgreSQL's retention of what a writer slot gone for good leaves: its OpenFlow rules, logical flow
// snapshots and OVN objects. The round keeps them for a live slot (central-retention-store.ts: bounded
// by the OVN databases, not by traffic), but each spool lost (a DaemonSet's emptyDir, a node
// reinstalled) left its own full copy for ever, and its slot was never given back (storage/slot-take.ts
// wants its range empty): a leak growing with the agents' restarts. A slot silent past
// LIVETRACE_SLOT_REUSE_DAYS (slot-take.ts silentFor, the claim's own definition) whose range holds no
// traffic row any more (no trace, port, path, lifetime, edge, upcall, cross-check, ledger entry,
// session: every table holding a writer's ids but these three, slotRanged) has them deleted, a batch a
// transaction, and then a claim takes it. 0 days: never, as for the claim.
//
// Nothing of another slot points at them (checked in test/postgres/central-retention-dead-slot.spec.ts):
// - their ids are made in one place, StepRefStore (traces/step-ref-store.ts ruleId, lflowId, objectId,
//   hintId), each found or inserted in the writer's own SQLite, and go into two columns only: the
//   trace's packed steps (trace.steps: rule, snapshot or southbound owner, northbound hint) and its
//   citation rows (trace_citation.ref: snapshot, kind 0; hint, kind 1). No other column of PostgreSQL
//   holds one (ID_COLUMNS, which the test holds equal to the schema's integer and bytea columns).
// - a spool holds no rule, snapshot or object of another slot: only trace_session rows are copied in
//   (storage/ship-sessions.ts), its sequences start at its slot's base (spool.ts enterSlot, refusing rows
//   below), and a copy of a spool or one whose slot was given back is refused (slot-claim.ts). So a trace
//   cites only rows of its own slot, and a dead slot, holding no trace, is cited by none.
// - a trace written after the deletion by the slot's own spool, back after all: refused. The first batch
//   renames the claim (slot-claim.ts GIVEN_BACK) in its transaction, under the row lock shipping batches
//   take FOR SHARE (stillOurs), after which they are refused, and so is the spool at its start (one of
//   before the claim's names, slot-claim.ts, is not checked: as for a slot a claim took).
// The citation rows whose ref is in the range are deleted with them (their buckets are the slot's own,
// its traces gone; left, they would mark the next spool's traces in those buckets as citing). One of
// another slot's bucket contradicts the above: the slot is left whole and warned of (a check through
// trace_citation's key, kind then ref; the steps' rule and owner ids have no index, hence the proof).
// A store of retention's own (the SQL rule: tests/unit/structure/sql-owners), PostgreSQL-only.
import { Logger } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { inTransaction } from '../storage/pg-client';
import { GIVEN_BACK } from '../storage/slot-claim';
import { heldIn, inSlotRange, silentFor, type SlotRanged } from '../storage/slot-take';
import { SLOT_BITS } from '../storage/spool';
import { BUCKET_SHIFT } from '../traces';

const log = new Logger('Retention');

/** What the round keeps for a live slot, deleted here for a dead one: each keyed by its writer's ids. */
export const LEFTOVERS = ['of_rule', 'logical_flow_snapshot', 'ovn_object'] as const;

/**
 * Every integer and bytea column of PostgreSQL's schema, and whose ids it holds (none: a count, a
 * flag, a number of OVS's). Those that hold ids of LEFTOVERS are the traces' own (see the top).
 */
export const ID_COLUMNS: Record<string, string> = {
  'cross_check.id': 'cross_check', 'cross_check.trace_id': 'trace', 'cross_check.path_id': 'path', 'cross_check.session_id': 'trace_session',
  'datapath_flow.id': 'datapath_flow', 'datapath_flow.packets': 'none', 'datapath_flow.bytes': 'none',
  'ingest_event.id': 'ingest_event', 'ingest_event.ref_id': 'datapath_flow',
  'logical_flow_snapshot.id': 'logical_flow_snapshot', 'logical_flow_snapshot.table_id': 'none', 'logical_flow_snapshot.priority': 'none',
  'of_rule.id': 'of_rule', 'of_rule.table_id': 'none', 'of_rule.priority': 'none',
  'ovn_object.id': 'ovn_object',
  'path.id': 'path',
  'pruned_lifetime.id': 'datapath_flow',
  'recirc_edge.parent_id': 'datapath_flow', 'recirc_edge.child_id': 'datapath_flow',
  'trace.id': 'trace', 'trace.datapath_flow_id': 'datapath_flow', 'trace.upcall_id': 'upcall', 'trace.session_id': 'trace_session', 'trace.path_id': 'path',
  'trace.consistent': 'none', 'trace.step_count': 'none', 'trace.steps': 'of_rule, logical_flow_snapshot, ovn_object (the trace\'s own slot)',
  'trace_citation.kind': 'none', 'trace_citation.ref': 'logical_flow_snapshot, ovn_object (the bucket\'s own slot)', 'trace_citation.bucket': 'trace', 'trace_citation.bits': 'none',
  'trace_extra_session.trace_id': 'trace', 'trace_port.trace_id': 'trace', 'trace_extra_session.session_id': 'trace_session',
  'trace_session.id': 'trace_session', 'trace_session.max_traces': 'none', 'trace_session.duration_seconds': 'none', 'trace_session.include_existing': 'none', 'trace_session.cross_check': 'none',
  'trace_session_counter.session_id': 'trace_session',
  'upcall.id': 'upcall', 'upcall.datapath_flow_id': 'datapath_flow', 'upcall.sampled': 'none',
  'writer_slot.slot': 'none', 'writer_slot.traced_flow_id': 'datapath_flow',
};

export interface DeadSlotResult {
  /** Rules, snapshots and OVN objects deleted (not the citation rows of them that went too). */
  leftovers: number;
  /** Slots left with none (a claim may take them). */
  deadSlots: number;
}

const RANGE = 2 ** SLOT_BITS;
const CITED = '(0, 1)';

/** The statements (their plans are the test's): $1 days, then the slot. */
export function deadSlotSql(ranged: SlotRanged[]) {
  const kept = new Set<string>(LEFTOVERS);
  const left = ranged.filter((t) => kept.has(t.table));
  const traffic = ranged.filter((t) => !kept.has(t.table));
  return {
    /** Silent slots holding leftovers and no traffic, in slot order (the leftovers probed first: an emptied slot costs three probes). */
    dead: `SELECT w.slot FROM writer_slot w WHERE ${silentFor('w', '$1')} AND ${heldIn(left, 'w.slot')} AND NOT ${heldIn(traffic, 'w.slot')} ORDER BY w.slot`,
    /** Still silent, locked against a claim and the shippers' batches (FOR SHARE) for the transaction. */
    lock: `SELECT w.writer FROM writer_slot w WHERE w.slot = $2 AND ${silentFor('w', '$1')} FOR UPDATE`,
    traffic: `SELECT ${heldIn(traffic, '$1')} AS held`,
    /** A citation of the range from another slot's bucket (never seen, see the top). */
    foreign: `SELECT kind, ref, bucket FROM trace_citation WHERE kind IN ${CITED} AND ${inSlotRange('ref', '$1')} AND (bucket < ($1::bigint * ${RANGE}) >> ${BUCKET_SHIFT} OR bucket >= (($1::bigint + 1) * ${RANGE}) >> ${BUCKET_SHIFT}) LIMIT 1`,
    /** By ctid, one index walk and a tid scan: `IN (SELECT … LIMIT)` planned hash joins. */
    citations: `DELETE FROM trace_citation WHERE ctid = ANY (ARRAY (SELECT ctid FROM trace_citation WHERE kind IN ${CITED} AND ${inSlotRange('ref', '$1')} LIMIT $2))`,
    leftovers: LEFTOVERS.map((t) => `DELETE FROM ${t} WHERE ctid = ANY (ARRAY (SELECT ctid FROM ${t} WHERE ${inSlotRange('id', '$1')} ORDER BY id LIMIT $2))`),
    rename: `UPDATE writer_slot SET writer = '${GIVEN_BACK}' || writer WHERE slot = $1 AND writer NOT LIKE '${GIVEN_BACK}%'`,
  };
}

/**
 * Every dead slot's leftovers, `batch` rows a transaction, each checking again under the slot's row
 * lock that it is silent and holds no traffic (a shipper back, a claim, in between: the slot is left).
 */
export async function pruneDeadSlots(
  c: PoolClient,
  o: { days: number; ranged: SlotRanged[]; batch: number; stopped?: () => boolean; onBatch?: (r: DeadSlotResult) => void },
): Promise<DeadSlotResult> {
  const total: DeadSlotResult = { leftovers: 0, deadSlots: 0 };
  if (o.days <= 0) return total;
  const sql = deadSlotSql(o.ranged);
  const slots = (await c.query<{ slot: number }>(sql.dead, [o.days])).rows.map((r) => Number(r.slot));
  for (const slot of slots) {
    for (;;) {
      if (o.stopped?.()) return total;
      const n = await batchOf(c, sql, slot, o.days, o.batch);
      if (n === null) break;
      total.leftovers += n.leftovers;
      o.onBatch?.({ leftovers: n.leftovers, deadSlots: n.emptied ? 1 : 0 });
      if (n.emptied) {
        total.deadSlots++;
        log.log(`writer slot ${slot}: silent for ${o.days} days with no traffic row left, its rules, logical flows and OVN objects deleted; a new spool may claim it`);
        break;
      }
    }
  }
  return total;
}

/** One transaction of one slot: null when the slot is no longer dead (or not safe); `emptied`: nothing of it left. */
async function batchOf(c: PoolClient, sql: ReturnType<typeof deadSlotSql>, slot: number, days: number, batch: number): Promise<{ leftovers: number; emptied: boolean } | null> {
  // Nothing is written before the checks: a slot found no longer dead ends a read-only transaction.
  return inTransaction(c, async () => {
    if (!(await c.query(sql.lock, [days, slot])).rows.length) return null;
    if ((await c.query<{ held: boolean }>(sql.traffic, [slot])).rows[0].held) return null;
    const foreign = (await c.query<{ kind: string | number; ref: string; bucket: string }>(sql.foreign, [slot])).rows[0];
    if (foreign) {
      log.warn(`writer slot ${slot}: silent and without traffic, but a trace of another slot cites its ${Number(foreign.kind) === 0 ? 'logical flow' : 'OVN object'} ${foreign.ref} (bucket ${foreign.bucket}): its rows are kept`);
      return null;
    }
    let deleted = 0;
    const cites = (await c.query(sql.citations, [slot, batch])).rowCount ?? 0;
    for (const del of sql.leftovers) if (cites + deleted < batch) deleted += (await c.query(del, [slot, batch - cites - deleted])).rowCount ?? 0;
    // Renamed with the first rows deleted: from then on its old spool is refused (slot-claim.ts).
    if (deleted + cites) await c.query(sql.rename, [slot]);
    return { leftovers: deleted, emptied: deleted + cites < batch };
  });
}
