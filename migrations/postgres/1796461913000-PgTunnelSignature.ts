import { MigrationInterface, QueryRunner } from 'typeorm';
import { tunnelSignature } from '../../src/ovs/tunnel-signature';

/**
 * The SQLite migration TunnelSignature, on PostgreSQL: datapath_flow.tunnel_sig (the tunnel an
 * arrival receives from, `dst|vni|ingress|egress`: src/ovs/tunnel-signature.ts) and its index, the
 * rows already shipped filled from their keys, a page of ids at a time. Spools migrated to the new
 * column ship it from then on (a spool not yet migrated ships rows without it: NULL, no link).
 */
export class PgTunnelSignature1796461913000 implements MigrationInterface {
  name = 'PgTunnelSignature1796461913000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "tunnel_sig" text COLLATE "C"`);
    for (let after = 0; ; ) {
      const rows = (await queryRunner.query(
        `SELECT id, key FROM datapath_flow WHERE id > $1 AND recirc_id = '0x0' AND strpos(key, 'tunnel(') > 0 ORDER BY id LIMIT 5000`,
        [after],
      )) as Array<{ id: string; key: string }>;
      if (!rows.length) break;
      after = Number(rows[rows.length - 1].id);
      const filled = rows.map((r) => ({ id: r.id, sig: tunnelSignature(r.key, 0) })).filter((r) => r.sig !== null);
      if (filled.length)
        await queryRunner.query(
          `UPDATE datapath_flow d SET tunnel_sig = u.sig FROM unnest($1::bigint[], $2::text[]) AS u(id, sig) WHERE d.id = u.id`,
          [filled.map((r) => r.id), filled.map((r) => r.sig)],
        );
    }
    await queryRunner.query(`CREATE INDEX "idx_dpflow_tunnel" ON "datapath_flow" ("tunnel_sig", "chassis", "removed_at", "first_seen") WHERE tunnel_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_tunnel"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "tunnel_sig"`);
  }
}
