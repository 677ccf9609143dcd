// The lifetimes PostgreSQL's retention took from this spool's writer slot while it was silent
// (retention/central-untraced-store.ts: a slot not heard from for LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS
// has its open lifetimes pruned, their ids noted in pruned_lifetime). The agent was only cut off: what it
// ships next may cite one (a trace; `GET /traces?ufid=` and the audits join on the lifetime), and a
// lifetime it did not change is not shipped again, nor any edge (written once, by its child's range).
// Told so by its writer_slot update (ship-synced.ts), the shipper ships them again whole from the spool,
// with their edges, and forgets the ids (test/postgres/central-retention-silent-open.spec.ts).
import type { Logger } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { quoteIdent, slotBounds, type ShippedTable } from './spool';
import { inTransaction, isAbandoned } from './pg-client';
import { arrayLiteral, upsert } from './ship-sql';
import type { Statements } from './writer';

const q = quoteIdent;

export interface PrunedTables {
  flows: ShippedTable;
  /** recirc_edge, with how far its range is shipped (an edge above it ships with its range). */
  edges?: { t: ShippedTable; shipped: number };
  /** PostgreSQL's column types of a table (shipper.ts keeps them). */
  types(t: ShippedTable): Promise<string[]>;
  /**
   * Throws when the slot is no longer this spool's (slot-claim.ts stillOurs, inside the transaction, as
   * a batch does): a copy started since holds it, and this spool's rows would overwrite the copy's.
   */
  ours(client: PoolClient): Promise<void>;
}

/** What the shipper's state (/health, /metrics: central.health.ts) holds of the re-ship. */
export interface ReshipState {
  /** Re-ships that failed (each is tried again at the slot's next update, about once a second). */
  reshipFailures: number;
  /** Why the last one failed; null once one succeeded. */
  reshipError: string | null;
}

/**
 * `reship`, its failures counted in `state` and said on a change only: the first of a run, naming the
 * slot and the error, and the success that ends it. Tried again about once a second while PostgreSQL
 * still notes pruned lifetimes of the slot, a failure said each time flooded the log; said never, a
 * re-ship that always failed (a statement PostgreSQL refuses) left traces pointing at lifetimes gone, unseen.
 */
export async function reported(state: ReshipState, log: Logger, slot: number, reship: () => Promise<number>): Promise<void> {
  let n: number;
  try {
    n = await reship();
  } catch (err) {
    // Given up by the stop: not a failure of the re-ship (tried again at the next start).
    if (isAbandoned(err)) throw err;
    if (state.reshipError === null)
      log.warn(`the lifetimes PostgreSQL's retention took from writer slot ${slot} while it was silent could not be shipped again (tried again at each update of the slot, said again once it succeeds): ${(err as Error).message}`);
    state.reshipFailures++;
    state.reshipError = (err as Error).message;
    throw err;
  }
  if (state.reshipError !== null) log.log(`the lifetimes PostgreSQL's retention took from writer slot ${slot} are shipped again, after ${state.reshipFailures} failed attempts in all`);
  state.reshipError = null;
  if (n) log.log(`shipped again ${n} lifetimes and edges PostgreSQL's retention took while this agent was silent`);
}

/** Ships the slot's pruned lifetimes again, `batch` ids a transaction; returns how many rows went. */
export async function reshipPruned(client: PoolClient, statements: Statements, slot: number, d: PrunedTables, batch: number): Promise<number> {
  const { base, top } = slotBounds(slot);
  const flowTypes = await d.types(d.flows);
  const edgeTypes = d.edges ? await d.types(d.edges.t) : [];
  let n = 0;
  for (;;) {
    const taken = await inTransaction(client, async () => {
      await d.ours(client);
      const ids = (await client.query<{ id: string }>('SELECT id FROM pruned_lifetime WHERE id >= $1 AND id < $2 ORDER BY id LIMIT $3 FOR UPDATE', [base, top, batch])).rows.map((r) => Number(r.id));
      if (!ids.length) return 0;
      const json = JSON.stringify(ids);
      // What the spool holds of them now (one gone from it too is only forgotten).
      const flows = statements.get(`SELECT * FROM ${q(d.flows.name)} WHERE id IN (SELECT value FROM json_each(?))`).raw(true).all(json) as unknown[][];
      n += await upsert(client, d.flows, flowTypes, flows);
      if (d.edges) n += await edgesOf(client, statements, d.flows.name, d.edges, edgeTypes, json);
      await client.query('DELETE FROM pruned_lifetime WHERE id = ANY($1::bigint[])', [ids]);
      return ids.length;
    });
    if (taken < batch) return n;
  }
}

/**
 * The spool's edges from or to these lifetimes that PostgreSQL had (their child's range shipped), each
 * only where both its lifetimes are in PostgreSQL now: the other end may be one its retention took for
 * good (ended and uncited), whose edges went with it.
 */
async function edgesOf(client: PoolClient, statements: Statements, flows: string, e: { t: ShippedTable; shipped: number }, types: string[], json: string): Promise<number> {
  const t = e.t;
  const rows = statements
    .get(
      `SELECT * FROM ${q(t.name)} WHERE parent_id IN (SELECT value FROM json_each(?)) AND child_id <= ? ` +
        `UNION SELECT * FROM ${q(t.name)} WHERE child_id IN (SELECT value FROM json_each(?)) AND child_id <= ?`,
    )
    .raw(true)
    .all(json, e.shipped, json, e.shipped) as unknown[][];
  if (!rows.length) return 0;
  const cols = t.columns.map(q).join(', ');
  const has = (c: string) => `EXISTS (SELECT 1 FROM ${q(flows)} f WHERE f.id = e.${q(c)})`;
  const text =
    `INSERT INTO ${q(t.name)} (${cols}) SELECT ${cols} FROM unnest(${types.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')}) AS e(${cols}) ` +
    `WHERE ${has('parent_id')} AND ${has('child_id')} ON CONFLICT (${t.key.map(q).join(', ')}) DO NOTHING`;
  return (await client.query(text, t.columns.map((_, c) => arrayLiteral(rows, c)))).rowCount ?? 0;
}
