import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The SQLite migration TracePortRoleIndexes, on PostgreSQL: a port's traces of one role walk an index
 * of that role group's rows, not the whole port's (an outport list of a port seen only as inport read
 * every row of it: 11,893 buffers, ~50 ms at 150k traces; bench/api/RESULTS-postgres.md "stop 26:
 * hot-port plans"). The WHERE is the literal list trace-read-store.ts sends, so the planner sees it
 * implied for every port name.
 */
export class PgTracePortRoleIndexes1796900000000 implements MigrationInterface {
  name = 'PgTracePortRoleIndexes1796900000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "idx_trace_port_in" ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('inport', 'tunnel_in')`);
    await queryRunner.query(`CREATE INDEX "idx_trace_port_out" ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('outport', 'output', 'tunnel_out')`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_trace_port_out"`);
    await queryRunner.query(`DROP INDEX "idx_trace_port_in"`);
  }
}
