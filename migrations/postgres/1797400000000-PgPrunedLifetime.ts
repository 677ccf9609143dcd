import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * pruned_lifetime: the ids of the open lifetimes PostgreSQL's retention took from a writer slot silent
 * past LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS (src/retention/central-untraced-store.ts). Its agent
 * may only have been cut off: back, it ships traces citing them and changes of them, and neither brings
 * back a lifetime it did not change nor any recirculation edge. Its shipper hears of these ids with its
 * next writer_slot update and ships those lifetimes again whole, with their edges, then deletes them
 * (src/storage/ship-pruned.ts). One id each (the rows themselves are gone): a slot gone for good keeps
 * at most as many as it had open lifetimes.
 */
export class PgPrunedLifetime1797400000000 implements MigrationInterface {
  name = 'PgPrunedLifetime1797400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "pruned_lifetime" ("id" bigint PRIMARY KEY NOT NULL)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "pruned_lifetime"`);
  }
}
