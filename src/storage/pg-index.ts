// Index builds on the central PostgreSQL that do not stop the shippers (bench/api/RESULTS-postgres.md
// "stop 27"): a plain CREATE INDEX holds a SHARE lock on the table for the whole build (~15 s an
// index on trace_port at 1M traces), and every agent's insert into it waits that long.
import type { QueryRunner } from 'typeorm';

/**
 * CREATE INDEX CONCURRENTLY `name` `definition` (the part after the name: `ON "t" (…) WHERE …`):
 * writes to the table go on while it builds. It cannot run inside a transaction: only from a
 * migration with `transaction = false` (openPostgres runs them in mode 'each', which allows that).
 *
 * A concurrent build that failed or was cut short (connection lost, the process killed, a cancel)
 * leaves the index behind INVALID: never read, still kept up by every write. IF NOT EXISTS would
 * keep it for good, so one of that name that is not valid is dropped (concurrently too) and built
 * again.
 */
export async function createIndexConcurrently(qr: QueryRunner, name: string, definition: string): Promise<void> {
  const quoted = `"${name.replace(/"/g, '""')}"`;
  const state = async () =>
    ((await qr.query(
      `SELECT i.indisvalid AS valid, EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid AND p.pid <> pg_backend_pid()) AS building
       FROM pg_index i WHERE i.indexrelid = to_regclass($1)`,
      [quoted],
    )) as Array<{ valid: boolean; building: boolean }>)[0];
  let index = await state();
  // Not valid while another backend still builds it: an agent killed during its build, whose backend
  // goes on (PostgreSQL notices a dead client only when it next reads from it). Its outcome is awaited
  // with short statements: a DROP waiting for the build's table lock held a snapshot that the build's
  // last phase waits for, and PostgreSQL ended the restarted agent's start with "deadlock detected"
  // (test/postgres/role-index-build.spec.ts). Built meanwhile: kept; failed: dropped and built below.
  while (index && !index.valid && index.building) {
    await new Promise((r) => setTimeout(r, 250));
    index = await state();
  }
  if (index?.valid) return;
  // No statement timeout while it runs: the pool's 30 s would cancel a build of a large table,
  // leaving just such an index, at every start. No lock timeout either: the build's waits are for
  // older transactions to end (their virtual xid locks), not a place in a table's lock queue (its
  // SHARE UPDATE EXCLUSIVE lets the shippers' reads and writes by), so they block no one; the
  // migration session's short lock timeout (storage/pg-migrate.ts) would cut the build short and
  // leave it INVALID whenever a batch stayed open that long. Both are put back as they were after.
  const was = (await qr.query(`SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt`)) as Array<{ st: string; lt: string }>;
  await qr.query('SET statement_timeout = 0');
  await qr.query('SET lock_timeout = 0');
  try {
    if (index) await qr.query(`DROP INDEX CONCURRENTLY ${quoted}`);
    await qr.query(`CREATE INDEX CONCURRENTLY ${quoted} ${definition}`);
  } finally {
    // Back to the session's own (the migration's, or the pool's startup value).
    await qr.query(`SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)`, [was[0].st, was[0].lt]);
  }
}
