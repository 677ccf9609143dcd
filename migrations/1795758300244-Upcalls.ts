import { MigrationInterface, QueryRunner } from "typeorm";

export class Upcalls1795758300244 implements MigrationInterface {
    name = 'Upcalls1795758300244'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "upcall" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "chassis" text NOT NULL, "source" text NOT NULL, "event_id" text, "time" text NOT NULL, "upcall_type" text, "dpif" text, "thread" text, "key" text, "packet" text, "in_port" text, "recirc_id" text, "ufid" text, "mega_ufid" text, "flow_key" text, "flow_actions" text, "datapath_flow_id" integer, "sampled" integer NOT NULL, "extra" text)`);
        await queryRunner.query(`CREATE INDEX "idx_upcall_chassis" ON "upcall" ("chassis", "time") `);
        await queryRunner.query(`CREATE INDEX "idx_upcall_ufid" ON "upcall" ("ufid") `);
        await queryRunner.query(`CREATE INDEX "idx_upcall_time" ON "upcall" ("time") `);
        await queryRunner.query(`CREATE TABLE "ingest_event" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "source" text NOT NULL, "event_id" text NOT NULL, "type" text NOT NULL, "time" text NOT NULL, "received_at" text NOT NULL, "chassis" text NOT NULL, "ref_id" integer, "body" text NOT NULL)`);
        await queryRunner.query(`CREATE UNIQUE INDEX "idx_ingest_event_id" ON "ingest_event" ("source", "event_id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_ingest_event_id"`);
        await queryRunner.query(`DROP TABLE "ingest_event"`);
        await queryRunner.query(`DROP INDEX "idx_upcall_time"`);
        await queryRunner.query(`DROP INDEX "idx_upcall_ufid"`);
        await queryRunner.query(`DROP INDEX "idx_upcall_chassis"`);
        await queryRunner.query(`DROP TABLE "upcall"`);
    }

}
