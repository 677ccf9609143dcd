import { MigrationInterface, QueryRunner } from "typeorm";

export class TraceModel1795757048336 implements MigrationInterface {
    name = 'TraceModel1795757048336'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "datapath_flow" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "chassis" text NOT NULL, "ufid" text NOT NULL, "first_seen" text NOT NULL, "last_seen" text NOT NULL, "removed_at" text, "removal_reason" text, "in_port" text, "recirc_id" text NOT NULL, "key" text NOT NULL, "actions" text NOT NULL, "packets" integer NOT NULL, "bytes" integer NOT NULL, "used" text, "source" text NOT NULL)`);
        await queryRunner.query(`CREATE INDEX "idx_dpflow_live" ON "datapath_flow" ("chassis", "removed_at") `);
        await queryRunner.query(`CREATE INDEX "idx_dpflow_ufid" ON "datapath_flow" ("ufid", "first_seen") `);
        await queryRunner.query(`CREATE TABLE "recirc_edge" ("parent_id" integer NOT NULL, "child_id" integer NOT NULL, "recirc_id" text NOT NULL, PRIMARY KEY ("parent_id", "child_id")) WITHOUT ROWID`);
        await queryRunner.query(`CREATE INDEX "idx_recirc_child" ON "recirc_edge" ("child_id") `);
        await queryRunner.query(`CREATE TABLE "of_rule" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "hash" text NOT NULL, "bridge" text, "table_id" integer NOT NULL, "priority" integer, "match" text NOT NULL, "actions" text NOT NULL, "cookie" text)`);
        await queryRunner.query(`CREATE UNIQUE INDEX "idx_of_rule_hash" ON "of_rule" ("hash") `);
        await queryRunner.query(`CREATE TABLE "logical_flow_snapshot" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "uuid" text NOT NULL, "content_hash" text NOT NULL, "datapaths" text NOT NULL, "pipeline" text NOT NULL, "table_id" integer NOT NULL, "stage" text, "priority" integer NOT NULL, "match" text NOT NULL, "actions" text NOT NULL, "source" text, "stage_hint" text, "external_ids" text NOT NULL, "first_seen" text NOT NULL, "last_seen" text NOT NULL, "deleted_at" text)`);
        await queryRunner.query(`CREATE UNIQUE INDEX "idx_lflow_uuid_hash" ON "logical_flow_snapshot" ("uuid", "content_hash") `);
        await queryRunner.query(`CREATE TABLE "ovn_object" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "hash" text NOT NULL, "db" text NOT NULL, "tbl" text NOT NULL, "uuid" text NOT NULL, "name" text, "summary" text NOT NULL, "detail" text NOT NULL)`);
        await queryRunner.query(`CREATE UNIQUE INDEX "idx_ovn_object_hash" ON "ovn_object" ("hash") `);
        await queryRunner.query(`CREATE INDEX "idx_ovn_object_uuid" ON "ovn_object" ("uuid") `);
        await queryRunner.query(`CREATE TABLE "path" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "chassis" text NOT NULL, "created_at" text NOT NULL, "updated_at" text NOT NULL, "verdict" text NOT NULL)`);
        await queryRunner.query(`CREATE TABLE "trace" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "chassis" text NOT NULL, "created_at" text NOT NULL, "datapath_flow_id" integer, "upcall_id" integer, "session_id" integer, "ufid" text, "method" text NOT NULL, "bridge" text, "recirc_id" text NOT NULL, "flow" text NOT NULL, "final_flow" text NOT NULL, "megaflow" text NOT NULL, "datapath_actions" text NOT NULL, "consistent" integer, "consistent_reason" text, "verdict_kinds" text NOT NULL, "verdict" text NOT NULL, "path_id" integer, "step_count" integer NOT NULL, "extra" text)`);
        await queryRunner.query(`CREATE INDEX "idx_trace_path" ON "trace" ("path_id") `);
        await queryRunner.query(`CREATE INDEX "idx_trace_dpflow" ON "trace" ("datapath_flow_id") `);
        await queryRunner.query(`CREATE INDEX "idx_trace_ufid" ON "trace" ("ufid") `);
        await queryRunner.query(`CREATE INDEX "idx_trace_created" ON "trace" ("created_at") `);
        await queryRunner.query(`CREATE TABLE "trace_step" ("trace_id" integer NOT NULL, "seq" integer NOT NULL, "depth" integer NOT NULL, "rule_id" integer NOT NULL, "lflow_id" integer, "owner_id" integer, "hint_id" integer, "flags" integer NOT NULL, PRIMARY KEY ("trace_id", "seq")) WITHOUT ROWID`);
        await queryRunner.query(`CREATE INDEX "idx_step_hint" ON "trace_step" ("hint_id", "trace_id") WHERE hint_id IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "idx_step_lflow" ON "trace_step" ("lflow_id", "trace_id") WHERE lflow_id IS NOT NULL`);
        await queryRunner.query(`CREATE TABLE "trace_port" ("port_name" text NOT NULL, "trace_id" integer NOT NULL, "role" text NOT NULL, "scope" text NOT NULL, "port_uuid" text, "binding_uuid" text, "datapath" text, PRIMARY KEY ("port_name", "trace_id", "role", "scope")) WITHOUT ROWID`);
        await queryRunner.query(`CREATE INDEX "idx_trace_port_uuid" ON "trace_port" ("port_uuid", "trace_id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_trace_port_uuid"`);
        await queryRunner.query(`DROP TABLE "trace_port"`);
        await queryRunner.query(`DROP INDEX "idx_step_lflow"`);
        await queryRunner.query(`DROP INDEX "idx_step_hint"`);
        await queryRunner.query(`DROP TABLE "trace_step"`);
        await queryRunner.query(`DROP INDEX "idx_trace_created"`);
        await queryRunner.query(`DROP INDEX "idx_trace_ufid"`);
        await queryRunner.query(`DROP INDEX "idx_trace_dpflow"`);
        await queryRunner.query(`DROP INDEX "idx_trace_path"`);
        await queryRunner.query(`DROP TABLE "trace"`);
        await queryRunner.query(`DROP TABLE "path"`);
        await queryRunner.query(`DROP INDEX "idx_ovn_object_uuid"`);
        await queryRunner.query(`DROP INDEX "idx_ovn_object_hash"`);
        await queryRunner.query(`DROP TABLE "ovn_object"`);
        await queryRunner.query(`DROP INDEX "idx_lflow_uuid_hash"`);
        await queryRunner.query(`DROP TABLE "logical_flow_snapshot"`);
        await queryRunner.query(`DROP INDEX "idx_of_rule_hash"`);
        await queryRunner.query(`DROP TABLE "of_rule"`);
        await queryRunner.query(`DROP INDEX "idx_recirc_child"`);
        await queryRunner.query(`DROP TABLE "recirc_edge"`);
        await queryRunner.query(`DROP INDEX "idx_dpflow_ufid"`);
        await queryRunner.query(`DROP INDEX "idx_dpflow_live"`);
        await queryRunner.query(`DROP TABLE "datapath_flow"`);
    }

}
