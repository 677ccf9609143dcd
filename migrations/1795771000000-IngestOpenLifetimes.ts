import { MigrationInterface, QueryRunner } from "typeorm";

// Ingested lifetimes that no event touched for LIVETRACE_INGEST_IDLE_SECONDS are closed as `idle`
// (src/ingest/ingest-lifetimes.ts): the sweep reads only the open ingested ones, oldest first.

export class IngestOpenLifetimes1795771000000 implements MigrationInterface {
    name = 'IngestOpenLifetimes1795771000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE INDEX "idx_dpflow_ingest_open" ON "datapath_flow" ("last_seen") WHERE removed_at IS NULL AND source = 'ingest'`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_dpflow_ingest_open"`);
    }

}
