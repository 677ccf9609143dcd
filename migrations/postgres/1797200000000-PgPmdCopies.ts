import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration PmdCopies, on PostgreSQL: datapath_flow.pmd_copies (a lifetime's copies on
 * several PMD threads, JSON: src/collectors/pmd-copies-column.ts), shipped with the row as the
 * spool's other columns (the shipper takes the spool's column list). Only the agent that wrote a
 * lifetime reads it back (at its start, from its spool); PostgreSQL keeps it so that both stores hold
 * the same rows (text COLLATE "C", as every text column: PgInitial). A spool not yet migrated ships
 * rows without it: NULL, the total alone.
 */
export class PgPmdCopies1797200000000 implements MigrationInterface {
  name = 'PgPmdCopies1797200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "pmd_copies" text COLLATE "C"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "pmd_copies"`);
  }
}
