import { MigrationInterface, QueryRunner } from "typeorm";

export class TraceSession1795757544878 implements MigrationInterface {
    name = 'TraceSession1795757544878'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "trace_session" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "chassis" text NOT NULL, "created_at" text NOT NULL, "bridge" text NOT NULL, "filter" text, "logical_port" text, "max_traces" integer, "duration_seconds" integer, "include_existing" integer NOT NULL, "cross_check" integer NOT NULL, "expires_at" text, "state" text NOT NULL, "ended_at" text, "stats" text NOT NULL)`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TABLE "trace_session"`);
    }

}
