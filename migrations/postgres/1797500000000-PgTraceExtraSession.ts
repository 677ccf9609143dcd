import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration TraceExtraSession, on PostgreSQL: trace_extra_session, the sessions a trace
 * belongs to besides trace.session_id (a pass several active sessions wanted, stored once). Shipped
 * from the spools by the trace's id as trace_port (storage/spool.ts MARKED), keyed the same, and
 * deleted with its trace by the central retention.
 */
export class PgTraceExtraSession1797500000000 implements MigrationInterface {
  name = 'PgTraceExtraSession1797500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "trace_extra_session" ("trace_id" bigint NOT NULL, "session_id" bigint NOT NULL, PRIMARY KEY ("trace_id", "session_id"))`);
    await queryRunner.query(`CREATE INDEX "idx_trace_extra_session" ON "trace_extra_session" ("session_id", "trace_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "trace_extra_session"`);
  }
}
