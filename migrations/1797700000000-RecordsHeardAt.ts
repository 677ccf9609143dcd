import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * upcall.heard_at and trace.heard_at: when the agent heard the row, on its own clock. Retention by age
 * (LIVETRACE_RETENTION_DAYS) compared upcall.time and trace.created_at, the producer's times (vswitchd's
 * log line, an ingest producer's event), with the agent's now: from a producer whose clock is days
 * behind, what was heard a minute ago went at once; days ahead, it stayed that much longer
 * (test/unit/retention/retention-clock.spec.ts). Every upcall has one (vlog: when its line's event
 * happened on the agent's clock, vlog-log-clock.ts; ingest: the request's receipt); the upcalls of
 * before were heard at some time no row says: their own time, which retention read until now. A trace
 * has one only when its created_at is a producer's (an ingested translation): the tracer's traces are
 * timed by the agent itself, and a NULL costs their hot path nothing (the index is partial).
 */
export class RecordsHeardAt1797700000000 implements MigrationInterface {
  name = 'RecordsHeardAt1797700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "upcall" ADD COLUMN "heard_at" text`);
    await queryRunner.query(`UPDATE "upcall" SET "heard_at" = "time"`);
    await queryRunner.query(`CREATE INDEX "idx_upcall_heard" ON "upcall" ("heard_at")`);
    await queryRunner.query(`ALTER TABLE "trace" ADD COLUMN "heard_at" text`);
    await queryRunner.query(`CREATE INDEX "idx_trace_heard" ON "trace" ("heard_at") WHERE heard_at IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_trace_heard"`);
    await queryRunner.query(`ALTER TABLE "trace" DROP COLUMN "heard_at"`);
    await queryRunner.query(`DROP INDEX "idx_upcall_heard"`);
    await queryRunner.query(`ALTER TABLE "upcall" DROP COLUMN "heard_at"`);
  }
}
