import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration ChassisMark, on PostgreSQL: chassis_mark, per chassis the time through which
 * its agent's traces are in PostgreSQL. Not shipped as a row (a row could reach PostgreSQL ahead of
 * the traces it vouches for): the agent's shipper writes it once everything its spool held when the
 * mark was taken has shipped (src/storage/ship-synced.ts). Times as the agent's clock wrote them,
 * compared with its own first_seen: text, "C" collation, as writer_slot's.
 */
export class PgChassisMark1797600000000 implements MigrationInterface {
  name = 'PgChassisMark1797600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "chassis_mark" ("chassis" text COLLATE "C" PRIMARY KEY NOT NULL, "traced_through" text COLLATE "C" NOT NULL, "updated_at" text COLLATE "C" NOT NULL)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "chassis_mark"`);
  }
}
