import { MigrationInterface, QueryRunner } from 'typeorm';

export class Meta1764220000000 implements MigrationInterface {
  name = 'Meta1764220000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "meta" ("key" text PRIMARY KEY NOT NULL, "value" text NOT NULL)`);
    await q.query(`INSERT INTO "meta" ("key", "value") VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "meta"`);
  }
}
