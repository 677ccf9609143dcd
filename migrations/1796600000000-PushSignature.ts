import { MigrationInterface, QueryRunner } from 'typeorm';
import { pushSignature } from '../src/ovs/push-signature';

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
    for (let after = 0; ; ) {
      const rows = (await queryRunner.query(
        `SELECT id, actions FROM datapath_flow WHERE id > ? AND (instr(actions, 'tnl_push(') > 0 OR instr(actions, 'set(tunnel(') > 0) ORDER BY id LIMIT 5000`,
        [after],
      )) as Array<{ id: number; actions: string }>;
      if (!rows.length) break;
      after = rows[rows.length - 1].id;
      const filled = rows.map((r) => [r.id, pushSignature(r.actions)]).filter(([, sig]) => sig !== null);
      if (filled.length)
        await queryRunner.query(
          `UPDATE datapath_flow SET push_sig = u.sig
             FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS sig FROM json_each(?)) u
            WHERE datapath_flow.id = u.id`,
          [JSON.stringify(filled)],
        );
    }
    await queryRunner.query(`CREATE INDEX "idx_dpflow_push" ON "datapath_flow" ("push_sig", "chassis", "removed_at", "first_seen") WHERE push_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_push"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "push_sig"`);
  }
}
