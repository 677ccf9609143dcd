import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * ingest_event.ufid: the UFID an event names, so that a removal heard before the install it ends
 * (events out of order, or from two producers) is found again when that install arrives
 * (src/ingest/ingest-write.ts). Only the removals are indexed (ukey_removed, ukey_revalidated): the
 * writer looks up nothing else by UFID, and upcalls and installs, most of the ledger, pay no index
 * insert. Rows already stored are filled from their body.
 */
export class IngestEventUfid1796700000000 implements MigrationInterface {
  name = 'IngestEventUfid1796700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "ingest_event" ADD COLUMN "ufid" text`);
    await queryRunner.query(`UPDATE "ingest_event" SET "ufid" = json_extract(body, '$.ufid') WHERE instr(body, '"ufid":') > 0`);
    await queryRunner.query(
      `CREATE INDEX "idx_ingest_event_ufid" ON "ingest_event" ("ufid", "time") WHERE ufid IS NOT NULL AND type IN ('ukey_removed', 'ukey_revalidated')`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_ingest_event_ufid"`);
    await queryRunner.query(`ALTER TABLE "ingest_event" DROP COLUMN "ufid"`);
  }
}
