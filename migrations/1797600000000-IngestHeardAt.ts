import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * datapath_flow.heard_at: when the agent last heard an ingested event of the lifetime, on its own
 * clock (the request's receipt). The idle sweep (src/ingest/ingest-lifetimes.ts) compared last_seen,
 * the producer's time, with the agent's clock: a producer whose clock was behind had its lifetimes
 * closed as idle at once, one ahead kept them open that much longer. It now reads heard_at, and
 * idx_dpflow_ingest_open moves to it. The open ingested lifetimes of before were heard at some time
 * no row says: their last_seen, which the sweep read until now. NULL for every other source.
 */
export class IngestHeardAt1797600000000 implements MigrationInterface {
  name = 'IngestHeardAt1797600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "heard_at" text`);
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
