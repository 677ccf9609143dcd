import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from '../../src/storage/pg-index';

/**
 * The SQLite migration LocalnetEnds, on PostgreSQL: datapath_flow.localnet_in / localnet_out (the
 * localnet ports a lifetime's pass came in by and left by) and their indexes, for the api's look
 * across a provider network (src/paths/localnet-hops.ts). The columns are new and NULL (nothing to
 * fill: which port is a localnet one is the southbound's); the indexes are built CONCURRENTLY,
 * outside a transaction, as PgDatapathFlowOpen: the shippers go on upserting lifetimes meanwhile.
 * Spools migrated to the new columns ship them from then on (a spool not yet migrated ships rows
 * without them: NULL, found by no look).
 */
export class PgLocalnetEnds1797800000000 implements MigrationInterface {
  name = 'PgLocalnetEnds1797800000000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN IF NOT EXISTS "localnet_in" text`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN IF NOT EXISTS "localnet_out" text`);
    await createIndexConcurrently(queryRunner, 'idx_dpflow_localnet_in', `ON "datapath_flow" ("localnet_in", "removed_at", "first_seen", "chassis") WHERE localnet_in IS NOT NULL`);
    await createIndexConcurrently(
      queryRunner,
      'idx_dpflow_localnet_out',
      `ON "datapath_flow" ("localnet_out", "removed_at", "first_seen", "chassis", "localnet_in") WHERE localnet_out IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_dpflow_localnet_out"`);
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_dpflow_localnet_in"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "localnet_out"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "localnet_in"`);
  }
}
