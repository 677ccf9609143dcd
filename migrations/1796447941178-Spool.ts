import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The spool's bookkeeping (issue 19). When the history lives in PostgreSQL, this SQLite file is the
 * process's spool: triggers (installed by src/storage/spool.ts only in that mode) note each changed
 * row's key in ship_log, one entry per row, the latest change last; the shipper copies those rows
 * and forgets their entries once PostgreSQL has committed them. A row in ship_mute silences the
 * triggers for the transaction that holds it (local retention, sessions pulled from PostgreSQL).
 * Empty and unused when the history is this file.
 */
export class Spool1796447941178 implements MigrationInterface {
    name = 'Spool1796447941178'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "ship_log" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "tbl" text NOT NULL, "pk" text NOT NULL, "ver" integer NOT NULL DEFAULT (0), CONSTRAINT "uq_ship_log_row" UNIQUE ("tbl", "pk"))`);
        await queryRunner.query(`CREATE TABLE "ship_mute" ("on" integer PRIMARY KEY NOT NULL)`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TABLE "ship_mute"`);
        await queryRunner.query(`DROP TABLE "ship_log"`);
    }

}
