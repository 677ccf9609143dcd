// Migration PgRecordsHeardAt on a real PostgreSQL with rows, as an agent's start runs it (openPostgres):
// the central database's upcall and trace tables are the shippers' and the API's, so the migration may
// hold no lock on them for longer than a catalog change. In one transaction, its full-table UPDATE of
// upcall and its plain index builds held upcall ACCESS EXCLUSIVE until the end: a shipper's insert and an
// API read of upcall waited behind it (here: while it waits for trace behind a shipper's open batch).
// Now the columns are added alone, old rows keep heard_at NULL (read as their own time), and the
// indexes are built CONCURRENTLY; retention still walks them and prunes the old rows by their time.
import { Client, Pool } from 'pg';
import { centralRound, TRACE_STATEMENTS } from '../../src/retention/central-retention-store';
import { UNTRACED_STATEMENTS } from '../../src/retention/central-untraced-store';
import { openPostgres } from '../../src/storage/postgres';
import { packSteps } from '../../src/traces/step-pack';
import { connect as client, doneOrBlocked, migratedBefore, until, usePostgres } from '../support/postgres';

jest.setTimeout(180_000);

const MIGRATION = 'PgRecordsHeardAt1797700000000';
const cluster = usePostgres();
const DAY = 86_400_000;
/** A trace's steps as retention reads them (their citations): none. */
const NO_STEPS = packSteps([]);
const NOW = Date.parse('2026-02-01T00:00:00.000Z');
/** Row g of 20,000 over the 30 days before NOW, as text (every time column is RFC 3339 text). */
const at = (g: string) => `to_char(timestamp '2026-01-02' + ${g} * interval '129.6 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** A database migrated up to before PgRecordsHeardAt, with 20,000 upcalls and traces over 30 days. */
async function beforeHeardAt(name: string): Promise<{ url: string; admin: Client }> {
  const url = await migratedBefore(cluster(), name, MIGRATION);
  const admin = await client(url);
  await admin.query(`INSERT INTO upcall (id, chassis, source, time, sampled) SELECT g, 'hv1', 'vlog', ${at('g')}, 1 FROM generate_series(1, 20000) g`);
  await admin.query(
    `INSERT INTO trace (id, chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
     SELECT g, 'hv1', ${at('g')}, 'trace', '0', '', '', '', '', '', '{}', 0, $1 FROM generate_series(1, 20000) g`,
    [NO_STEPS],
  );
  return { url, admin };
}

const plan = async (c: Client, name: string) => {
  const [, sql, params] = [...UNTRACED_STATEMENTS, ...TRACE_STATEMENTS].find(([n]) => n === name)!;
  return (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params)).rows.map((p) => p['QUERY PLAN']).join('\n');
};

describe('PgRecordsHeardAt on a database with rows (real PostgreSQL)', () => {
  it('holds upcall only for its catalog change: a shipper’s insert and a read of upcall go on while it waits for trace', async () => {
    const { url, admin } = await beforeHeardAt('heard_at_locks');
    // A shipper's batch in flight on trace: the migration's change of trace waits for it.
    const batch = await client(url);
    const shipper = await client(url);
    let started: Promise<string> | undefined;
    try {
      await batch.query('BEGIN');
      await batch.query(
        `INSERT INTO trace (id, chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
         VALUES (1000000001, 'hv1', '2026-02-01T00:00:00.000Z', 'trace', '0', '', '', '', '', '', '{}', 0, ''::bytea)`,
      );
      // Settled whatever the test's outcome: a start left running past the test failed the whole run.
      started = openPostgres(url, 2).then(
        (ds) => ds.destroy().then(() => 'started'),
        (e: Error) => e.message,
      );
      await until('the migration waiting for trace', async () => {
        const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE query ILIKE '%ALTER TABLE "trace"%' AND wait_event_type = 'Lock'`);
        return rows.length > 0;
      });
      const shipperPid = (await shipper.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      let done = false;
      const work = (async () => {
        await shipper.query(`INSERT INTO upcall (id, chassis, source, time, sampled) VALUES (1000000001, 'hv1', 'vlog', '2026-02-01T00:00:00.000Z', 1)`);
        await shipper.query('SELECT count(*) FROM upcall');
        done = true;
      })().catch((e: Error) => e);
      // Before: 'blocked' (upcall ACCESS EXCLUSIVE since the migration's UPDATE, until its transaction ended).
      expect(await doneOrBlocked(admin, shipperPid, () => done)).toBe('done');
      await batch.query('COMMIT');
      await work;
      expect(await started).toBe('started');

      // No row was rewritten: the old ones, and the old agent's insert, are read by their own time.
      expect((await admin.query('SELECT count(*)::int AS n FROM upcall WHERE heard_at IS NOT NULL')).rows[0].n).toBe(0);
      const { rows: idx } = await admin.query(
        `SELECT c.relname AS name, i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relname IN ('idx_upcall_heard', 'idx_trace_heard') ORDER BY 1`,
      );
      expect(idx.map((i) => [i.name, i.valid])).toEqual([
        ['idx_trace_heard', true],
        ['idx_upcall_heard', true],
      ]);
      expect(idx[0].def).toMatch(/COALESCE\(heard_at, created_at\)/);
      expect(idx[1].def).toMatch(/COALESCE\(heard_at, "time"\)/);
      expect((await admin.query('SELECT name FROM migrations WHERE name = $1', [MIGRATION])).rows).toHaveLength(1);
    } finally {
      await batch.end().catch(() => undefined);
      await started;
      await shipper.end();
      await admin.end();
    }
  });

  it('retention walks the new indexes and prunes the rows from before by their own time, the new by when they were heard', async () => {
    const { url, admin } = await beforeHeardAt('heard_at_retention');
    const pool = new Pool({ connectionString: url, max: 2 });
    try {
      await (await openPostgres(url, 2)).destroy();
      // Rows from an agent with heard_at: dated 20 days back by a producer behind, heard an hour ago.
      const hourAgo = new Date(NOW - 3_600_000).toISOString();
      const dated = new Date(NOW - 20 * DAY).toISOString();
      await admin.query(`INSERT INTO upcall (id, chassis, source, time, heard_at, sampled) VALUES (30001, 'hv1', 'vlog', $1, $2, 1)`, [dated, hourAgo]);
      await admin.query(
        `INSERT INTO trace (id, chassis, created_at, heard_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
         VALUES (30001, 'hv1', $1, $2, 'trace', '0', '', '', '', '', '', '{}', 0, $3)`,
        [dated, hourAgo, NO_STEPS],
      );
      await admin.query('ANALYZE');
      await admin.query('SET enable_seqscan = off');
      for (const name of ['upcalls', 'upcallCut']) expect({ name, plan: await plan(admin, name) }).toEqual({ name, plan: expect.stringMatching(/Index (Only )?Scan (Backward )?using idx_upcall_heard/) });
      expect(await plan(admin, 'upcalls')).not.toMatch(/Seq Scan/);
      for (const name of ['traceNewest', 'overRows', 'overAge']) expect({ name, plan: await plan(admin, name) }).toEqual({ name, plan: expect.stringMatching(/Index Scan (Backward )?using idx_trace_heard/) });

      const r = await centralRound(pool, { days: 10, keep: 0 }, NOW, { batch: 500 });

      // 10 of the 30 days stay: rows 13,334..20,000, and the ones heard an hour ago.
      const cut = new Date(NOW - 10 * DAY).toISOString();
      const kept = async (table: string, col: string) =>
        (await admin.query(`SELECT count(*)::int AS n, min(id)::int AS first, bool_and(${col} >= $1 OR id = 30001) AS young FROM ${table}`, [cut])).rows[0];
      expect(await kept('upcall', 'time')).toEqual({ n: 6668, first: 13334, young: true });
      expect(await kept('trace', 'created_at')).toEqual({ n: 6668, first: 13334, young: true });
      expect(r).toMatchObject({ ran: true, traces: 13333 });
    } finally {
      await pool.end();
      await admin.end();
    }
  });
});
