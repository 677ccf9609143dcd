import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration IngestHeardAt, on PostgreSQL: datapath_flow.heard_at (when the agent last
 * heard an ingested event of the lifetime, its own clock), shipped with the row as the spool's other
 * columns, and idx_dpflow_ingest_open on it, so that both stores hold the same rows and indexes (text
 * COLLATE "C", as every text column: PgInitial). A spool not yet migrated ships rows without it: NULL.
 */
export class PgIngestHeardAt1797600000000 implements MigrationInterface {
  name = 'PgIngestHeardAt1797600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "heard_at" text COLLATE "C"`);
    await queryRunner.query(`UPDATE "datapath_flow" SET "heard_at" = "last_seen" WHERE removed_at IS NULL AND source = 'ingest'`);
    await queryRunner.query(`DROP INDEX "idx_dpflow_ingest_open"`);
    await queryRunner.query(`CREATE INDEX "idx_dpflow_ingest_open" ON "datapath_flow" ("heard_at") WHERE removed_at IS NULL AND source = 'ingest'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_ingest_open"`);
    await queryRunner.query(`CREATE INDEX "idx_dpflow_ingest_open" ON "datapath_flow" ("last_seen") WHERE removed_at IS NULL AND source = 'ingest'`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "heard_at"`);
  }
}
