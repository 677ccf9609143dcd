import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Lists of traces newest first by time across writers (issue 19: with PostgreSQL each writer has its
 * own id range, so ids order one writer's traces only). A port's list walks its rows by time: each
 * trace_port row carries its trace's created_at (filled here for the rows there are; a row whose
 * trace is gone gets '', the oldest) under a new index (port_name, created_at, trace_id). The
 * index by id stays (the stream's walk of one writer slot). trace's own walk is idx_trace_created
 * (created_at, and the rowid, the id).
 */
export class TraceOrderByTime1796500000000 implements MigrationInterface {
    name = 'TraceOrderByTime1796500000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "temporary_trace_port" ("trace_id" integer NOT NULL, "port_name" text NOT NULL, "role" text NOT NULL, "scope" text NOT NULL, "port_uuid" text, "binding_uuid" text, "datapath" text, "created_at" text NOT NULL, PRIMARY KEY ("trace_id", "port_name", "role", "scope")) WITHOUT ROWID`);
        await queryRunner.query(`INSERT INTO "temporary_trace_port" ("trace_id", "port_name", "role", "scope", "port_uuid", "binding_uuid", "datapath", "created_at") SELECT p."trace_id", p."port_name", p."role", p."scope", p."port_uuid", p."binding_uuid", p."datapath", COALESCE(t."created_at", '') FROM "trace_port" p LEFT JOIN "trace" t ON t."id" = p."trace_id"`);
        await queryRunner.query(`DROP TABLE "trace_port"`);
        await queryRunner.query(`ALTER TABLE "temporary_trace_port" RENAME TO "trace_port"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_name" ON "trace_port" ("port_name", "trace_id") `);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_time" ON "trace_port" ("port_name", "created_at", "trace_id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_trace_port_time"`);
        await queryRunner.query(`DROP INDEX "idx_trace_port_name"`);
        await queryRunner.query(`CREATE TABLE "temporary_trace_port" ("trace_id" integer NOT NULL, "port_name" text NOT NULL, "role" text NOT NULL, "scope" text NOT NULL, "port_uuid" text, "binding_uuid" text, "datapath" text, PRIMARY KEY ("trace_id", "port_name", "role", "scope")) WITHOUT ROWID`);
        await queryRunner.query(`INSERT INTO "temporary_trace_port" ("trace_id", "port_name", "role", "scope", "port_uuid", "binding_uuid", "datapath") SELECT "trace_id", "port_name", "role", "scope", "port_uuid", "binding_uuid", "datapath" FROM "trace_port"`);
        await queryRunner.query(`DROP TABLE "trace_port"`);
        await queryRunner.query(`ALTER TABLE "temporary_trace_port" RENAME TO "trace_port"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_name" ON "trace_port" ("port_name", "trace_id") `);
    }

}
