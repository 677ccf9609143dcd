import { MigrationInterface, QueryRunner } from 'typeorm';
import { tunnelSignature } from '../../src/ovs/tunnel-signature';
import { fillFlowColumn } from '../../src/storage/fill-flow-column';

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
    await fillFlowColumn(queryRunner, { dialect: 'postgres', column: 'tunnel_sig', source: 'key', where: `recirc_id = '0x0' AND strpos(key, 'tunnel(') > 0`, derive: (key) => tunnelSignature(key, 0) });
    await queryRunner.query(`CREATE INDEX "idx_dpflow_tunnel" ON "datapath_flow" ("tunnel_sig", "chassis", "removed_at", "first_seen") WHERE tunnel_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_tunnel"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "tunnel_sig"`);
  }
}
