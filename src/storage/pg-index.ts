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
 * again. No statement timeout while it runs: the pool's 30 s would cancel a build of a large table,
 * leaving just such an index, at every start.
 */
export async function createIndexConcurrently(qr: QueryRunner, name: string, definition: string): Promise<void> {
  const quoted = `"${name.replace(/"/g, '""')}"`;
  const [index] = (await qr.query(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, [quoted])) as Array<{ valid: boolean }>;
  if (index?.valid) return;
  await qr.query('SET statement_timeout = 0');
  try {
    if (index) await qr.query(`DROP INDEX CONCURRENTLY ${quoted}`);
    await qr.query(`CREATE INDEX CONCURRENTLY ${quoted} ${definition}`);
  } finally {
    // Back to the connection's own (the pool's startup value) before the pool hands it out again.
    await qr.query('RESET statement_timeout');
  }
}
