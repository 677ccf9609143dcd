import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * chassis_mark: per chassis, the time through which its agent has stored everything it traced
 * (src/collectors/traced-mark.ts: every datapath flow its poller first saw at or before it that a
 * session selected is traced and committed, or given up). GET /paths/:id marks a tunnel hop
 * provisional while the receiving chassis's mark has not passed the time up to which a later
 * stored arrival could still be linked instead (src/paths/provisional.ts, docs/multi-chassis.md).
 * On one SQLite file the agents write it themselves; in a spool it stays empty (with PostgreSQL the
 * shipper tells PostgreSQL's own once what it vouches for has shipped).
 */
export class ChassisMark1797600000000 implements MigrationInterface {
  name = 'ChassisMark1797600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "chassis_mark" ("chassis" text PRIMARY KEY NOT NULL, "traced_through" text NOT NULL, "updated_at" text NOT NULL)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "chassis_mark"`);
  }
}
