import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * datapath_flow.localnet_in / localnet_out: the localnet ports a lifetime's pass came in by and left
 * by, set when the pass is stored (src/traces/trace-store.ts), with an index each (port, removed_at,
 * first_seen, chassis: the other side's chassis is not known, any but the sender's may have taken
 * the frame in, so the live lifetimes and those removed since the window opened are each one range
 * of the index, as the tunnel signatures' are for a known chassis): the hop across a provider network
 * (src/paths/localnet-hops.ts) pairs lifetimes alive in its window, as a tunnel's link does, not
 * passes traced in it (a lifetime is traced once, maybe long before the other side's). The out index
 * carries localnet_in too: a pass that came in by the network sends nothing back to it, decided in
 * the index. Rows stored before are not filled: which port is a localnet one is the southbound's,
 * not the store's; their passes are found again once their flows are traced anew.
 */
export class LocalnetEnds1797800000000 implements MigrationInterface {
  name = 'LocalnetEnds1797800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "localnet_in" text`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" ADD COLUMN "localnet_out" text`);
    await queryRunner.query(`CREATE INDEX "idx_dpflow_localnet_in" ON "datapath_flow" ("localnet_in", "removed_at", "first_seen", "chassis") WHERE localnet_in IS NOT NULL`);
    await queryRunner.query(
      `CREATE INDEX "idx_dpflow_localnet_out" ON "datapath_flow" ("localnet_out", "removed_at", "first_seen", "chassis", "localnet_in") WHERE localnet_out IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_dpflow_localnet_out"`);
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_dpflow_localnet_in"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "localnet_out"`);
    await queryRunner.query(`ALTER TABLE "datapath_flow" DROP COLUMN "localnet_in"`);
  }
}
