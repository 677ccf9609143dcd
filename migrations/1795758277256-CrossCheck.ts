import { MigrationInterface, QueryRunner } from "typeorm";

export class CrossCheck1795758277256 implements MigrationInterface {
    name = 'CrossCheck1795758277256'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "cross_check" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "created_at" text NOT NULL, "trace_id" integer NOT NULL, "path_id" integer, "session_id" integer, "result" text NOT NULL, "command" text NOT NULL, "detail" text NOT NULL)`);
        await queryRunner.query(`CREATE INDEX "idx_cross_check_path" ON "cross_check" ("path_id") `);
        await queryRunner.query(`CREATE INDEX "idx_cross_check_trace" ON "cross_check" ("trace_id") `);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_cross_check_trace"`);
        await queryRunner.query(`DROP INDEX "idx_cross_check_path"`);
        await queryRunner.query(`DROP TABLE "cross_check"`);
    }

}
