import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration DropPortIdIndex's twin: idx_trace_port_name (port_name, trace_id) goes, the
 * stream's walk of a port now being by idx_trace_port_time like every other read by port (EXPLAIN
 * before and after in bench/stream/RESULTS.md). ~270 MB at 1M traces, and its share of every port
 * row an agent ships.
 */
export class PgDropPortIdIndex1796600000200 implements MigrationInterface {
  name = 'PgDropPortIdIndex1796600000200';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_trace_port_name"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "idx_trace_port_name" ON "trace_port" ("port_name", "trace_id")`);
  }
}
