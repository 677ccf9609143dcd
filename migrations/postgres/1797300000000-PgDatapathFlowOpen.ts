import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from '../../src/storage/pg-index';

/**
 * The open lifetimes by id (src/retention/central-untraced-store.ts silentOpen): PostgreSQL's retention
 * walks each writer slot silent past LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS for the lifetimes it
 * left open, every round (a minute), for as long as the slot stays silent. Through datapath_flow_pkey
 * that walk read every row of the slot's id range, ended ones included: a decommissioned busy chassis
 * leaves millions for days (4M rows: a 1.7 GB scan, ~1 s, each minute; at tens of millions past the
 * 30 s statement_timeout, failing the round before the upcalls, cross-checks and ingest ledger were
 * pruned). Open lifetimes are few (the flows installed now): this index holds only them
 * (test/postgres/central-retention-untraced.spec.ts, the plans). Built CONCURRENTLY, outside a
 * transaction, as PgTracePortRoleIndexes: the shippers go on upserting lifetimes meanwhile.
 */
export class PgDatapathFlowOpen1797300000000 implements MigrationInterface {
  name = 'PgDatapathFlowOpen1797300000000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await createIndexConcurrently(queryRunner, 'idx_dpflow_open', `ON "datapath_flow" ("id") WHERE removed_at IS NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_open"`);
  }
}
