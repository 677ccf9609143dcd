import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lists of traces newest first by time across writers (the SQLite migration TraceOrderByTime's
 * twin): trace_port rows carry their trace's created_at (filled here; a row whose trace is gone
 * gets '', the oldest) under an index (port_name, created_at, trace_id), and trace's time index
 * becomes (created_at, id), the order of `GET /traces` (SQLite's holds the id as its rowid). The
 * fill rewrites trace_port once.
 */
export class PgTraceOrderByTime1796500000000 implements MigrationInterface {
  name = 'PgTraceOrderByTime1796500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of [
      `ALTER TABLE "trace_port" ADD COLUMN "created_at" text COLLATE "C"`,
      `UPDATE "trace_port" p SET "created_at" = t."created_at" FROM "trace" t WHERE t."id" = p."trace_id"`,
      `UPDATE "trace_port" SET "created_at" = '' WHERE "created_at" IS NULL`,
      `ALTER TABLE "trace_port" ALTER COLUMN "created_at" SET NOT NULL`,
      `CREATE INDEX "idx_trace_port_time" ON "trace_port" ("port_name", "created_at", "trace_id")`,
      `DROP INDEX "idx_trace_created"`,
      `CREATE INDEX "idx_trace_created" ON "trace" ("created_at", "id")`,
    ])
      await queryRunner.query(sql);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of [
      `DROP INDEX "idx_trace_created"`,
      `CREATE INDEX "idx_trace_created" ON "trace" ("created_at")`,
      `DROP INDEX "idx_trace_port_time"`,
      `ALTER TABLE "trace_port" DROP COLUMN "created_at"`,
    ])
      await queryRunner.query(sql);
  }
}
