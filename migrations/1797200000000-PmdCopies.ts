import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * datapath_flow.pmd_copies: a lifetime's copies on several PMD threads (userspace datapath: each PMD
 * that receives a flow's packets installs its own, same UFID, own counters) and the counters of those
 * that left, as JSON (src/collectors/pmd-copies-column.ts). Its stored total counts copies that left,
 * so a lifetime reloaded at the service's start with the total alone ended counters_reset at its
 * first reading of fewer packets. NULL (rows written before, one copy with nothing retired): the
 * total alone, as before; nothing to fill.
 */
export class PmdCopies1797200000000 implements MigrationInterface {
  name = 'PmdCopies1797200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "pmd_copies" text`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "pmd_copies"`);
  }
}
