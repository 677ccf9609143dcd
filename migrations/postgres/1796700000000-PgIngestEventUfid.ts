import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration IngestEventUfid, on PostgreSQL: ingest_event.ufid, so that the spools'
 * rows ship (every spool column must exist here), filled for the rows already shipped. Its index
 * is the spool's alone: the writer that looks up removals by UFID (src/ingest/ingest-write.ts)
 * writes to the spool, and no read of PostgreSQL asks for one.
 */
export class PgIngestEventUfid1796700000000 implements MigrationInterface {
  name = 'PgIngestEventUfid1796700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "ingest_event" ADD COLUMN "ufid" text COLLATE "C"`);
    await queryRunner.query(`UPDATE "ingest_event" SET "ufid" = body::json ->> 'ufid' WHERE strpos(body, '"ufid":') > 0`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "ingest_event" DROP COLUMN "ufid"`);
  }
}
