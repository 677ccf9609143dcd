import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The PostgreSQL store's schema (issue 19): the SQLite schema as the SQLite migrations leave it,
 * table for table and index for index, generated from a fresh SQLite database's `.schema` and
 * written here once. Columns keep SQLite's storage types (integer → bigint, text, blob → bytea)
 * and text compares byte-wise (COLLATE "C", SQLite's BINARY), so a query gives the same answer,
 * in the same order, on both. Differences, each for a reason:
 * - ids have no default: every row is written by a spool shipper (src/storage/shipping) with the
 *   id its writer's own SQLite gave it, from the id range the writer claimed (`writer_slot`);
 * - the content-hash indexes of of_rule, logical_flow_snapshot and ovn_object are not UNIQUE: two
 *   chassis that meet the same OpenFlow rule or logical flow each keep their own row (their ids
 *   differ), which the unique index would refuse. ingest_event likewise (one per agent).
 */
export class PgInitial1795790000000 implements MigrationInterface {
  name = 'PgInitial1795790000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of [
      `CREATE TABLE "datapath_flow" ("id" bigint PRIMARY KEY NOT NULL, "chassis" text COLLATE "C" NOT NULL, "ufid" text COLLATE "C" NOT NULL, "first_seen" text COLLATE "C" NOT NULL, "last_seen" text COLLATE "C" NOT NULL, "removed_at" text COLLATE "C", "removal_reason" text COLLATE "C", "in_port" text COLLATE "C", "recirc_id" text COLLATE "C" NOT NULL, "key" text COLLATE "C" NOT NULL, "actions" text COLLATE "C" NOT NULL, "packets" bigint NOT NULL, "bytes" bigint NOT NULL, "used" text COLLATE "C", "source" text COLLATE "C" NOT NULL)`,
      `CREATE INDEX "idx_dpflow_live" ON "datapath_flow" ("chassis", "removed_at")`,
      `CREATE INDEX "idx_dpflow_ufid" ON "datapath_flow" ("ufid", "first_seen")`,
      `CREATE TABLE "recirc_edge" ("parent_id" bigint NOT NULL, "child_id" bigint NOT NULL, "recirc_id" text COLLATE "C" NOT NULL, PRIMARY KEY ("parent_id", "child_id"))`,
      `CREATE INDEX "idx_recirc_child" ON "recirc_edge" ("child_id")`,
      `CREATE TABLE "of_rule" ("id" bigint PRIMARY KEY NOT NULL, "hash" text COLLATE "C" NOT NULL, "bridge" text COLLATE "C", "table_id" bigint NOT NULL, "priority" bigint, "match" text COLLATE "C" NOT NULL, "actions" text COLLATE "C" NOT NULL, "cookie" text COLLATE "C")`,
      `CREATE INDEX "idx_of_rule_hash" ON "of_rule" ("hash")`,
      `CREATE TABLE "logical_flow_snapshot" ("id" bigint PRIMARY KEY NOT NULL, "uuid" text COLLATE "C" NOT NULL, "content_hash" text COLLATE "C" NOT NULL, "datapaths" text COLLATE "C" NOT NULL, "pipeline" text COLLATE "C" NOT NULL, "table_id" bigint NOT NULL, "stage" text COLLATE "C", "priority" bigint NOT NULL, "match" text COLLATE "C" NOT NULL, "actions" text COLLATE "C" NOT NULL, "source" text COLLATE "C", "stage_hint" text COLLATE "C", "external_ids" text COLLATE "C" NOT NULL, "first_seen" text COLLATE "C" NOT NULL, "last_seen" text COLLATE "C" NOT NULL, "deleted_at" text COLLATE "C")`,
      `CREATE INDEX "idx_lflow_uuid_hash" ON "logical_flow_snapshot" ("uuid", "content_hash")`,
      `CREATE TABLE "ovn_object" ("id" bigint PRIMARY KEY NOT NULL, "hash" text COLLATE "C" NOT NULL, "db" text COLLATE "C" NOT NULL, "tbl" text COLLATE "C" NOT NULL, "uuid" text COLLATE "C" NOT NULL, "name" text COLLATE "C", "summary" text COLLATE "C" NOT NULL, "detail" text COLLATE "C" NOT NULL)`,
      `CREATE INDEX "idx_ovn_object_hash" ON "ovn_object" ("hash")`,
      `CREATE INDEX "idx_ovn_object_uuid" ON "ovn_object" ("uuid")`,
      `CREATE TABLE "path" ("id" bigint PRIMARY KEY NOT NULL, "chassis" text COLLATE "C" NOT NULL, "created_at" text COLLATE "C" NOT NULL, "updated_at" text COLLATE "C" NOT NULL, "verdict" text COLLATE "C" NOT NULL)`,
      `CREATE TABLE "trace_session" ("id" bigint PRIMARY KEY NOT NULL, "chassis" text COLLATE "C" NOT NULL, "created_at" text COLLATE "C" NOT NULL, "bridge" text COLLATE "C" NOT NULL, "filter" text COLLATE "C", "logical_port" text COLLATE "C", "max_traces" bigint, "duration_seconds" bigint, "include_existing" bigint NOT NULL, "cross_check" bigint NOT NULL, "expires_at" text COLLATE "C", "state" text COLLATE "C" NOT NULL, "ended_at" text COLLATE "C", "stats" text COLLATE "C" NOT NULL, "on_chassis" text COLLATE "C")`,
      `CREATE TABLE "cross_check" ("id" bigint PRIMARY KEY NOT NULL, "created_at" text COLLATE "C" NOT NULL, "trace_id" bigint NOT NULL, "path_id" bigint, "session_id" bigint, "result" text COLLATE "C" NOT NULL, "command" text COLLATE "C" NOT NULL, "detail" text COLLATE "C" NOT NULL)`,
      `CREATE INDEX "idx_cross_check_path" ON "cross_check" ("path_id")`,
      `CREATE INDEX "idx_cross_check_trace" ON "cross_check" ("trace_id")`,
      `CREATE TABLE "upcall" ("id" bigint PRIMARY KEY NOT NULL, "chassis" text COLLATE "C" NOT NULL, "source" text COLLATE "C" NOT NULL, "event_id" text COLLATE "C", "time" text COLLATE "C" NOT NULL, "upcall_type" text COLLATE "C", "dpif" text COLLATE "C", "thread" text COLLATE "C", "key" text COLLATE "C", "packet" text COLLATE "C", "in_port" text COLLATE "C", "recirc_id" text COLLATE "C", "ufid" text COLLATE "C", "mega_ufid" text COLLATE "C", "flow_key" text COLLATE "C", "flow_actions" text COLLATE "C", "datapath_flow_id" bigint, "sampled" bigint NOT NULL, "extra" text COLLATE "C")`,
      `CREATE INDEX "idx_upcall_chassis" ON "upcall" ("chassis", "time")`,
      `CREATE INDEX "idx_upcall_ufid" ON "upcall" ("ufid")`,
      `CREATE INDEX "idx_upcall_time" ON "upcall" ("time")`,
      `CREATE TABLE "ingest_event" ("id" bigint PRIMARY KEY NOT NULL, "source" text COLLATE "C" NOT NULL, "event_id" text COLLATE "C" NOT NULL, "type" text COLLATE "C" NOT NULL, "time" text COLLATE "C" NOT NULL, "received_at" text COLLATE "C" NOT NULL, "chassis" text COLLATE "C" NOT NULL, "ref_id" bigint, "body" text COLLATE "C" NOT NULL)`,
      `CREATE INDEX "idx_ingest_event_id" ON "ingest_event" ("source", "event_id")`,
      `CREATE TABLE "logical_port_alias" ("uuid" text COLLATE "C" NOT NULL, "port_name" text COLLATE "C" NOT NULL, PRIMARY KEY ("uuid", "port_name"))`,
      `CREATE TABLE "trace_port" ("trace_id" bigint NOT NULL, "port_name" text COLLATE "C" NOT NULL, "role" text COLLATE "C" NOT NULL, "scope" text COLLATE "C" NOT NULL, "port_uuid" text COLLATE "C", "binding_uuid" text COLLATE "C", "datapath" text COLLATE "C", PRIMARY KEY ("trace_id", "port_name", "role", "scope"))`,
      `CREATE INDEX "idx_trace_port_name" ON "trace_port" ("port_name", "trace_id")`,
      `CREATE TABLE "trace_citation" ("kind" bigint NOT NULL, "ref" bigint NOT NULL, "bucket" bigint NOT NULL, "bits" bigint NOT NULL, PRIMARY KEY ("kind", "ref", "bucket"))`,
      `CREATE TABLE "trace" ("id" bigint PRIMARY KEY NOT NULL, "chassis" text COLLATE "C" NOT NULL, "created_at" text COLLATE "C" NOT NULL, "datapath_flow_id" bigint, "upcall_id" bigint, "session_id" bigint, "ufid" text COLLATE "C", "method" text COLLATE "C" NOT NULL, "bridge" text COLLATE "C", "recirc_id" text COLLATE "C" NOT NULL, "flow" text COLLATE "C" NOT NULL, "final_flow" text COLLATE "C" NOT NULL, "megaflow" text COLLATE "C" NOT NULL, "datapath_actions" text COLLATE "C" NOT NULL, "consistent" bigint, "consistent_reason" text COLLATE "C", "verdict_kinds" text COLLATE "C" NOT NULL, "verdict" text COLLATE "C" NOT NULL, "path_id" bigint, "step_count" bigint NOT NULL, "extra" text COLLATE "C", "steps" bytea NOT NULL, "method_reason" text COLLATE "C")`,
      `CREATE INDEX "idx_trace_dpflow_cover" ON "trace" ("id", "datapath_flow_id")`,
      `CREATE INDEX "idx_trace_created" ON "trace" ("created_at")`,
      `CREATE INDEX "idx_trace_dpflow" ON "trace" ("datapath_flow_id")`,
      `CREATE INDEX "idx_trace_path" ON "trace" ("path_id")`,
      `CREATE INDEX "idx_trace_ufid_nodp" ON "trace" ("ufid") WHERE datapath_flow_id IS NULL`,
      `CREATE INDEX "idx_dpflow_ingest_open" ON "datapath_flow" ("last_seen") WHERE removed_at IS NULL AND source = 'ingest'`,
      `CREATE TABLE "trace_session_counter" ("session_id" bigint NOT NULL, "chassis" text COLLATE "C" NOT NULL, "stats" text COLLATE "C" NOT NULL, PRIMARY KEY ("session_id", "chassis"))`,
      `CREATE TABLE "meta" ("key" text COLLATE "C" PRIMARY KEY NOT NULL, "value" text COLLATE "C" NOT NULL)`,
      `CREATE TABLE "writer_slot" ("slot" integer PRIMARY KEY NOT NULL, "writer" text COLLATE "C" NOT NULL UNIQUE, "claimed_at" text COLLATE "C" NOT NULL)`,
    ])
      await queryRunner.query(sql);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const t of ['writer_slot', 'meta', 'trace_session_counter', 'trace', 'trace_citation', 'trace_port', 'logical_port_alias', 'ingest_event', 'upcall', 'cross_check', 'trace_session', 'path', 'ovn_object', 'logical_flow_snapshot', 'of_rule', 'recirc_edge', 'datapath_flow'])
      await queryRunner.query(`DROP TABLE "${t}"`);
  }
}
