import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration RecordsHeardAt, on PostgreSQL: upcall.heard_at and trace.heard_at (when the
 * agent heard the row, its own clock; a trace's only when its created_at is a producer's), shipped with
 * the rows as the spool's other columns, and their indexes, which PostgreSQL's own retention walks by
 * age (central-untraced-store.ts, central-retention-store.ts). Text COLLATE "C", as every text column
 * (PgInitial). A spool not yet migrated ships rows without them: NULL, pruned by their own times as before.
 */
export class PgRecordsHeardAt1797700000000 implements MigrationInterface {
  name = 'PgRecordsHeardAt1797700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "upcall" ADD COLUMN "heard_at" text COLLATE "C"`);
    await queryRunner.query(`UPDATE "upcall" SET "heard_at" = "time"`);
    await queryRunner.query(`CREATE INDEX "idx_upcall_heard" ON "upcall" ("heard_at")`);
    await queryRunner.query(`ALTER TABLE "trace" ADD COLUMN "heard_at" text COLLATE "C"`);
    await queryRunner.query(`CREATE INDEX "idx_trace_heard" ON "trace" ("heard_at") WHERE heard_at IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_trace_heard"`);
    await queryRunner.query(`ALTER TABLE "trace" DROP COLUMN "heard_at"`);
    await queryRunner.query(`DROP INDEX "idx_upcall_heard"`);
    await queryRunner.query(`ALTER TABLE "upcall" DROP COLUMN "heard_at"`);
  }
}
