import { MigrationInterface, QueryRunner } from 'typeorm';
import { pushSignature } from '../../src/ovs/push-signature';
import { fillFlowColumn } from '../../src/storage/fill-flow-column';

/**
 * The SQLite migration PushSignature, on PostgreSQL: datapath_flow.push_sig (the tunnels a flow's
 * actions push, `ip|vni|ingress|egress`: src/ovs/push-signature.ts) and its index, the rows already
 * shipped filled from their actions, a page of ids at a time. COLLATE "C": the reverse link seeks
 * prefixes of it as byte ranges. Spools migrated to the new column ship it from then on (a spool
 * not yet migrated ships rows without it: NULL, not found as a sender).
 */
export class PgPushSignature1796600000000 implements MigrationInterface {
  name = 'PgPushSignature1796600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "push_sig" text COLLATE "C"`);
    await fillFlowColumn(queryRunner, { dialect: 'postgres', column: 'push_sig', source: 'actions', where: `strpos(actions, 'tnl_push(') > 0 OR strpos(actions, 'set(tunnel(') > 0`, derive: pushSignature });
    await queryRunner.query(`CREATE INDEX "idx_dpflow_push" ON "datapath_flow" ("push_sig", "chassis", "removed_at", "first_seen") WHERE push_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_push"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "push_sig"`);
  }
}
