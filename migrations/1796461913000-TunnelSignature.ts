import { MigrationInterface, QueryRunner } from 'typeorm';
import { tunnelSignature } from '../src/ovs/tunnel-signature';
import { fillFlowColumn } from '../src/storage/fill-flow-column';

/**
 * The tunnel signature of a datapath flow that receives from a tunnel (src/ovs/tunnel-signature.ts:
 * `dst|vni|ingress|egress`, NULL for any other flow), so the cross-chassis link finds a push's
 * arrivals by an index seek instead of reading the receiving chassis's whole flow table. Existing
 * rows are filled from their keys here (only first passes whose key holds `tunnel(`), a page of ids
 * at a time; the index is built after.
 */
export class TunnelSignature1796461913000 implements MigrationInterface {
  name = 'TunnelSignature1796461913000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "tunnel_sig" text`);
    await fillFlowColumn(queryRunner, { dialect: 'sqlite', column: 'tunnel_sig', source: 'key', where: `recirc_id = '0x0' AND instr(key, 'tunnel(') > 0`, derive: (key) => tunnelSignature(key, 0) });
    await queryRunner.query(`CREATE INDEX "idx_dpflow_tunnel" ON "datapath_flow" ("tunnel_sig", "chassis", "removed_at", "first_seen") WHERE tunnel_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_tunnel"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "tunnel_sig"`);
  }
}
