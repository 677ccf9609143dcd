import { MigrationInterface, QueryRunner } from 'typeorm';
import { pushSignature } from '../src/ovs/push-signature';
import { fillFlowColumn } from '../src/storage/fill-flow-column';

/**
 * The push signature of a datapath flow whose actions push a tunnel (src/ovs/push-signature.ts:
 * `ip|vni|ingress|egress`, `*` where its pushes differ; NULL for any other flow), so the reverse
 * cross-chassis link (an arrival looking for its sender) seeks an index instead of searching the
 * sending chassis's actions. Existing rows are filled from their actions here (only those whose
 * actions hold a push's text), a page of ids at a time; the index is built after.
 */
export class PushSignature1796600000000 implements MigrationInterface {
  name = 'PushSignature1796600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "push_sig" text`);
    await fillFlowColumn(queryRunner, { dialect: 'sqlite', column: 'push_sig', source: 'actions', where: `instr(actions, 'tnl_push(') > 0 OR instr(actions, 'set(tunnel(') > 0`, derive: pushSignature });
    await queryRunner.query(`CREATE INDEX "idx_dpflow_push" ON "datapath_flow" ("push_sig", "chassis", "removed_at", "first_seen") WHERE push_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_push"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "push_sig"`);
  }
}
