import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sessions carried out by many agents (issue 19): `on_chassis` narrows a session to some chassis
 * (JSON list, NULL = every chassis), and each chassis keeps its own counters in its own row, so
 * agents writing at once never overwrite each other's counts.
 */
export class SessionChassis1795780000000 implements MigrationInterface {
  name = 'SessionChassis1795780000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "trace_session" ADD COLUMN "on_chassis" text`);
    await queryRunner.query(
      `CREATE TABLE "trace_session_counter" ("session_id" integer NOT NULL, "chassis" text NOT NULL, "stats" text NOT NULL, PRIMARY KEY ("session_id", "chassis"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "trace_session_counter"`);
    await queryRunner.query(`ALTER TABLE "trace_session" DROP COLUMN "on_chassis"`);
  }
}
