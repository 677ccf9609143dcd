import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * PostgreSQL's own retention (LIVETRACE_CENTRAL_RETENTION_*) of the rows no trace takes with it
 * (src/retention/central-untraced-store.ts): ids are grouped per writer slot, so each table is cut
 * by a time column, and each needs that column's index, chosen from the plans of the prune's own
 * statements (test/postgres/central-retention-untraced.spec.ts): the ended lifetimes by removed_at
 * (idx_dpflow_live leads with chassis; with id, the cursor that steps over a cited lifetime is one
 * range), cross-checks by created_at, the ingest ledger by received_at (with id, the cursor that
 * steps over an open lifetime's events). Upcalls have idx_upcall_time. PostgreSQL's alone: a spool
 * prunes by id (one writer, ids grow with time).
 */
export class PgCentralRetentionUntraced1796750000000 implements MigrationInterface {
  name = 'PgCentralRetentionUntraced1796750000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE INDEX "idx_dpflow_removed" ON "datapath_flow" ("removed_at", "id") WHERE removed_at IS NOT NULL`,
      `CREATE INDEX "idx_cross_check_created" ON "cross_check" ("created_at")`,
      `CREATE INDEX "idx_ingest_event_received" ON "ingest_event" ("received_at", "id")`,
    ])
      await queryRunner.query(sql);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const sql of [`DROP INDEX "idx_ingest_event_received"`, `DROP INDEX "idx_cross_check_created"`, `DROP INDEX "idx_dpflow_removed"`]) await queryRunner.query(sql);
  }
}
