import { MigrationInterface, QueryRunner } from "typeorm";

// The store at a million traces (bench/api/RESULTS.md). trace_port is clustered by trace (a
// trace's ports were a scan of every trace_port row; now one range, and retention deletes a
// range), with (port_name, trace_id) as the index the port query walks (it covers it). The index
// of every port row by UUID gives way to a small alias table (UUID -> port name), backfilled here.
// trace (id, datapath_flow_id) covers the audits' step -> trace -> datapath flow hop without
// reading the kilobyte trace rows.
export class StoreAtScale1795760000000 implements MigrationInterface {
    name = 'StoreAtScale1795760000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "logical_port_alias" ("uuid" text NOT NULL, "port_name" text NOT NULL, PRIMARY KEY ("uuid", "port_name")) WITHOUT ROWID`);
        await queryRunner.query(`INSERT OR IGNORE INTO "logical_port_alias" ("uuid", "port_name") SELECT DISTINCT "port_uuid", "port_name" FROM "trace_port" WHERE "port_uuid" IS NOT NULL`);
        await queryRunner.query(`INSERT OR IGNORE INTO "logical_port_alias" ("uuid", "port_name") SELECT DISTINCT "binding_uuid", "port_name" FROM "trace_port" WHERE "binding_uuid" IS NOT NULL`);
        await queryRunner.query(`DROP INDEX "idx_trace_port_uuid"`);
        await queryRunner.query(`CREATE TABLE "temporary_trace_port" ("trace_id" integer NOT NULL, "port_name" text NOT NULL, "role" text NOT NULL, "scope" text NOT NULL, "port_uuid" text, "binding_uuid" text, "datapath" text, PRIMARY KEY ("trace_id", "port_name", "role", "scope")) WITHOUT ROWID`);
        await queryRunner.query(`INSERT INTO "temporary_trace_port" ("trace_id", "port_name", "role", "scope", "port_uuid", "binding_uuid", "datapath") SELECT "trace_id", "port_name", "role", "scope", "port_uuid", "binding_uuid", "datapath" FROM "trace_port"`);
        await queryRunner.query(`DROP TABLE "trace_port"`);
        await queryRunner.query(`ALTER TABLE "temporary_trace_port" RENAME TO "trace_port"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_name" ON "trace_port" ("port_name", "trace_id") `);
        await queryRunner.query(`CREATE INDEX "idx_trace_dpflow_cover" ON "trace" ("id", "datapath_flow_id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_trace_dpflow_cover"`);
        await queryRunner.query(`DROP INDEX "idx_trace_port_name"`);
        await queryRunner.query(`CREATE TABLE "temporary_trace_port" ("port_name" text NOT NULL, "trace_id" integer NOT NULL, "role" text NOT NULL, "scope" text NOT NULL, "port_uuid" text, "binding_uuid" text, "datapath" text, PRIMARY KEY ("port_name", "trace_id", "role", "scope")) WITHOUT ROWID`);
        await queryRunner.query(`INSERT INTO "temporary_trace_port" SELECT "port_name", "trace_id", "role", "scope", "port_uuid", "binding_uuid", "datapath" FROM "trace_port"`);
        await queryRunner.query(`DROP TABLE "trace_port"`);
        await queryRunner.query(`ALTER TABLE "temporary_trace_port" RENAME TO "trace_port"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_uuid" ON "trace_port" ("port_uuid", "trace_id") `);
        await queryRunner.query(`DROP TABLE "logical_port_alias"`);
    }
}
