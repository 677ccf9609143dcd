import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * writer_slot.heard_at: when the slot's shipper last told PostgreSQL it was there (storage/ship-synced.ts:
 * with each traced_through, and while it still ships a backlog). PostgreSQL's retention keeps a slot's
 * ended lifetimes past its traced_through only while the slot was heard from within
 * LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS: a slot gone for good (its agent decommissioned) froze
 * traced_through, and its last lifetimes were kept for ever. NULL: not heard since this column came
 * (traced_through, advanced each second by a shipper caught up, counts as heard then).
 */
export class PgWriterSlotHeardAt1797100000000 implements MigrationInterface {
  name = 'PgWriterSlotHeardAt1797100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "writer_slot" ADD COLUMN "heard_at" text COLLATE "C"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "writer_slot" DROP COLUMN "heard_at"`);
  }
}
