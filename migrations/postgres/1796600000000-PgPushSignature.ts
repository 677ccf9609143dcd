import { MigrationInterface, QueryRunner } from 'typeorm';
import { pushSignature } from '../../src/ovs/push-signature';

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
    for (let after = 0; ; ) {
      const rows = (await queryRunner.query(
        `SELECT id, actions FROM datapath_flow WHERE id > $1 AND (strpos(actions, 'tnl_push(') > 0 OR strpos(actions, 'set(tunnel(') > 0) ORDER BY id LIMIT 5000`,
        [after],
      )) as Array<{ id: string; actions: string }>;
      if (!rows.length) break;
      after = Number(rows[rows.length - 1].id);
      const filled = rows.map((r) => ({ id: r.id, sig: pushSignature(r.actions) })).filter((r) => r.sig !== null);
      if (filled.length)
        await queryRunner.query(
          `UPDATE datapath_flow d SET push_sig = u.sig FROM unnest($1::bigint[], $2::text[]) AS u(id, sig) WHERE d.id = u.id`,
          [filled.map((r) => r.id), filled.map((r) => r.sig)],
        );
    }
    await queryRunner.query(`CREATE INDEX "idx_dpflow_push" ON "datapath_flow" ("push_sig", "chassis", "removed_at", "first_seen") WHERE push_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_push"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "push_sig"`);
  }
}
