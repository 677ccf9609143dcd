// The sessions a spool copies in from PostgreSQL (shipper.ts, each PULL_EVERY_MS): sessions are made
// by api instances and ended by whoever comes first; each process ends one with an UPDATE … WHERE
// state = 'active' on its spool, so the spool must hold the session's row.
import type { ShippedTable } from './spool';
import { highestGiven, ownSequence, quoteIdent } from './spool';
import type { Statements, StoreWriter } from './writer';

const q = quoteIdent;

/**
 * The active ones (and those the spool still holds as active) are copied in, silenced (ship_mute),
 * except a row whose own change is still waiting to be shipped.
 */
export async function pullSessions(d: {
  t: ShippedTable;
  statements: Statements;
  writer: StoreWriter;
  query: (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>;
  /** This writer's slot: pulled rows must not move its id sequences into another's range. */
  slot?: number;
}): Promise<void> {
  const localActive = (d.statements.get(`SELECT id FROM trace_session WHERE state = 'active'`).all() as Array<{ id: number }>).map((r) => r.id);
  const { rows } = await d.query(`SELECT * FROM trace_session WHERE state = 'active' OR id = ANY($1::bigint[])`, [localActive]);
  if (!rows.length) return;
  const cols = d.t.columns;
  await d.writer.submit((tx) => {
    tx.stmt('INSERT OR IGNORE INTO ship_mute ("on") VALUES (1)').run();
    try {
      // The slot's highest id given, before a pulled row of a higher slot moves the sequence past the
      // range: its own rows' highest alone is not it once one was deleted (a create whose outcome was
      // unknown forgets its copy, PostgreSQL may hold it), and that id given again was refused by
      // PostgreSQL for every create after (test/postgres/session-create-id-reuse.spec.ts).
      const given = d.slot === undefined ? 0 : highestGiven((sql) => tx.stmt(sql), 'trace_session', 'id', d.slot);
      // The key as the trigger wrote it, json_array of the INTEGER column ('[5]'): a JS number binds as
      // a REAL ('[5.0]'), and an end waiting to ship was overwritten by the stale copy
      // (test/postgres/session-end-pull.spec.ts).
      const pending = tx.stmt(`SELECT 1 FROM ship_log WHERE tbl = 'trace_session' AND pk = json_array(CAST(? AS INTEGER))`);
      const put = tx.stmt(`REPLACE INTO trace_session (${cols.map(q).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
      for (const r of rows as Record<string, unknown>[]) if (!pending.get(r.id)) put.run(...cols.map((c) => r[c]));
      // An explicit id above the sequence moves it: back to this writer's own range.
      if (d.slot !== undefined) ownSequence((sql) => tx.stmt(sql), 'trace_session', 'id', d.slot, given);
    } finally {
      tx.stmt('DELETE FROM ship_mute').run();
    }
  });
}
