import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from '../../src/storage/pg-index';

/**
 * The SQLite migration RecordsHeardAt, on PostgreSQL: upcall.heard_at and trace.heard_at (when the
 * agent heard the row, its own clock; a trace's only when its created_at is a producer's), shipped with
 * the rows as the spool's other columns. Text COLLATE "C", as every text column (PgInitial).
 *
 * upcall and trace are the shippers' and the API's busiest tables, and a central database holds
 * millions of rows: in one transaction, a full-table UPDATE of upcall (heard_at = time) and plain index
 * builds held upcall ACCESS EXCLUSIVE until the migration's end, every insert and read of it waiting
 * (test/postgres/records-heard-at-migration.spec.ts). So, outside a transaction: the nullable columns
 * alone (a catalog change, PG 11+; each under pg-migrate's short lock timeout, tried again), no UPDATE
 * (a row without heard_at, from before or from a spool not yet migrated, is read by its own time:
 * retention goes by COALESCE(heard_at, time) and COALESCE(heard_at, created_at),
 * src/retention/central-*-store.ts), and the indexes of those expressions built CONCURRENTLY
 * (storage/pg-index.ts, as PgTracePortRoleIndexes). Each step can be run again: a start cut short
 * after a column was added takes up where it was.
 */
export class PgRecordsHeardAt1797700000000 implements MigrationInterface {
  name = 'PgRecordsHeardAt1797700000000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['upcall', 'trace']) await addHeardAt(queryRunner, table);
    await createIndexConcurrently(queryRunner, 'idx_upcall_heard', `ON "upcall" ((COALESCE("heard_at", "time")))`);
    await createIndexConcurrently(queryRunner, 'idx_trace_heard', `ON "trace" ((COALESCE("heard_at", "created_at")))`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_trace_heard"`);
    await queryRunner.query(`ALTER TABLE "trace" DROP COLUMN IF EXISTS "heard_at"`);
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_upcall_heard"`);
    await queryRunner.query(`ALTER TABLE "upcall" DROP COLUMN IF EXISTS "heard_at"`);
  }
}

/**
 * Only when missing: ADD COLUMN IF NOT EXISTS still takes the table's ACCESS EXCLUSIVE lock, and a retry
 * after a lock timeout on trace would queue before upcall's shippers again for nothing.
 */
async function addHeardAt(qr: QueryRunner, table: string): Promise<void> {
  const has = (await qr.query(`SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'heard_at' AND NOT attisdropped`, [table])) as unknown[];
  if (!has.length) await qr.query(`ALTER TABLE "${table}" ADD COLUMN "heard_at" text COLLATE "C"`);
}
