import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * trace_extra_session: the sessions a trace belongs to besides trace.session_id. A pass two active
 * sessions want (two engineers on one port, overlapping filters) is traced and stored once, and
 * both count it; it named the first only, so `GET /traces?session=` of the other never listed it.
 * Most traces belong to no session or one: they write no row here, and the trace row stays as it
 * was. Keyed by trace (retention deletes a trace's rows as one range, the spool ships them by the
 * trace's id), with (session_id, trace_id) for `?session=` (src/traces/trace-extra-session-store.ts).
 */
export class TraceExtraSession1797500000000 implements MigrationInterface {
  name = 'TraceExtraSession1797500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "trace_extra_session" ("trace_id" integer NOT NULL, "session_id" integer NOT NULL, PRIMARY KEY ("trace_id", "session_id")) WITHOUT ROWID`,
    );
    await queryRunner.query(`CREATE INDEX "idx_trace_extra_session" ON "trace_extra_session" ("session_id", "trace_id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_trace_extra_session"`);
    await queryRunner.query(`DROP TABLE "trace_extra_session"`);
  }
}
