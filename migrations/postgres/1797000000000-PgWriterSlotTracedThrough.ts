import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * writer_slot.traced_through and traced_flow_id: every trace of this slot citing a lifetime with an id
 * at or below traced_flow_id that ended at or before traced_through is in PostgreSQL
 * (src/storage/ship-synced.ts: the spool had shipped all it held at some moment, its newest lifetime
 * then; the moment less the 5 min within which a trace may still cite an ended lifetime). PostgreSQL's own retention
 * prunes an untraced ended lifetime only up to it: after an outage a lifetime's range could ship
 * batches ahead of the traces citing it, and a round between them deleted it for good. NULL: a
 * writer that does not say (an agent before this), pruned as before.
 */
export class PgWriterSlotTracedThrough1797000000000 implements MigrationInterface {
  name = 'PgWriterSlotTracedThrough1797000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "writer_slot" ADD COLUMN "traced_through" text COLLATE "C", ADD COLUMN "traced_flow_id" bigint`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "writer_slot" DROP COLUMN "traced_flow_id", DROP COLUMN "traced_through"`);
  }
}
