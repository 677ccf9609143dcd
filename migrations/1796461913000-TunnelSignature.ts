import { MigrationInterface, QueryRunner } from 'typeorm';
import { tunnelSignature } from '../src/ovs/tunnel-signature';

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
    for (let after = 0; ; ) {
      const rows = (await queryRunner.query(
        `SELECT id, key FROM datapath_flow WHERE id > ? AND recirc_id = '0x0' AND instr(key, 'tunnel(') > 0 ORDER BY id LIMIT 5000`,
        [after],
      )) as Array<{ id: number; key: string }>;
      if (!rows.length) break;
      after = rows[rows.length - 1].id;
      const filled = rows.map((r) => [r.id, tunnelSignature(r.key, 0)]).filter(([, sig]) => sig !== null);
      if (filled.length)
        await queryRunner.query(
          `UPDATE datapath_flow SET tunnel_sig = u.sig
             FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS sig FROM json_each(?)) u
            WHERE datapath_flow.id = u.id`,
          [JSON.stringify(filled)],
        );
    }
    await queryRunner.query(`CREATE INDEX "idx_dpflow_tunnel" ON "datapath_flow" ("tunnel_sig", "chassis", "removed_at", "first_seen") WHERE tunnel_sig IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_dpflow_tunnel"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "tunnel_sig"`);
  }
}
