import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An agent of the version before PgTraceOrderByTime ships its trace_port rows without created_at
 * (its binary COPY and its upserts name the columns its spool has): they were refused (NOT NULL),
 * and as a batch is one transaction that agent shipped nothing until it was upgraded. Such a row
 * now takes the default '' and is then given its trace's created_at, which the same batch or an
 * earlier one brought (a batch copies trace before trace_port, and a port row is written with its
 * trace). A trace already gone leaves '' (the oldest), as the fill of PgTraceOrderByTime did.
 *
 * AFTER rather than BEFORE INSERT: a BEFORE ROW trigger makes every COPY into trace_port insert
 * row by row (PostgreSQL's COPY buffers rows only without one), which would slow every agent's
 * shipping for the sake of the old ones. The WHEN clause keeps the trigger away from rows that
 * carry their time: only an old agent's rows cost the extra update.
 */
export class PgPortTimeOfOldAgents1796600000100 implements MigrationInterface {
  name = 'PgPortTimeOfOldAgents1796600000100';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of [
      `ALTER TABLE "trace_port" ALTER COLUMN "created_at" SET DEFAULT ''`,
      `CREATE FUNCTION "livetrace_trace_port_time"() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE "trace_port" p SET "created_at" = t."created_at" FROM "trace" t
          WHERE t."id" = NEW."trace_id" AND p."trace_id" = NEW."trace_id" AND p."port_name" = NEW."port_name"
            AND p."role" = NEW."role" AND p."scope" = NEW."scope" AND p."created_at" = '';
         RETURN NULL;
       END $$`,
      `CREATE TRIGGER "trace_port_time_of_old_agents" AFTER INSERT ON "trace_port" FOR EACH ROW
         WHEN (NEW."created_at" = '') EXECUTE FUNCTION "livetrace_trace_port_time"()`,
    ])
      await queryRunner.query(sql);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of [
      `DROP TRIGGER "trace_port_time_of_old_agents" ON "trace_port"`,
      `DROP FUNCTION "livetrace_trace_port_time"()`,
      `ALTER TABLE "trace_port" ALTER COLUMN "created_at" DROP DEFAULT`,
    ])
      await queryRunner.query(sql);
  }
}
