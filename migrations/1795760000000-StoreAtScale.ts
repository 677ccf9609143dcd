import { MigrationInterface, QueryRunner } from "typeorm";

// The store at a million traces (bench/api/RESULTS.md): trace_port gets an index by trace (a
// trace's ports were a scan of every trace_port row; retention deletes by trace), and the index of
// every row by port UUID gives way to a small alias table (UUID -> port name), backfilled here.
export class StoreAtScale1795760000000 implements MigrationInterface {
    name = 'StoreAtScale1795760000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "logical_port_alias" ("uuid" text NOT NULL, "port_name" text NOT NULL, PRIMARY KEY ("uuid", "port_name")) WITHOUT ROWID`);
        await queryRunner.query(`INSERT OR IGNORE INTO "logical_port_alias" ("uuid", "port_name") SELECT DISTINCT "port_uuid", "port_name" FROM "trace_port" WHERE "port_uuid" IS NOT NULL`);
        await queryRunner.query(`INSERT OR IGNORE INTO "logical_port_alias" ("uuid", "port_name") SELECT DISTINCT "binding_uuid", "port_name" FROM "trace_port" WHERE "binding_uuid" IS NOT NULL`);
        await queryRunner.query(`DROP INDEX "idx_trace_port_uuid"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_trace" ON "trace_port" ("trace_id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_trace_port_trace"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_uuid" ON "trace_port" ("port_uuid", "trace_id") `);
        await queryRunner.query(`DROP TABLE "logical_port_alias"`);
    }
}
