import { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from '../../src/storage/pg-index';

/**
 * The SQLite migration TracePortRoleIndexes, on PostgreSQL: a port's traces of one role walk an index
 * of that role group's rows, not the whole port's (an outport list of a port seen only as inport read
 * every row of it: 11,893 buffers, ~50 ms at 150k traces; bench/api/RESULTS-postgres.md "stop 26:
 * hot-port plans"). The WHERE is the literal list trace-read-store.ts sends, so the planner sees it
 * implied for every port name.
 *
 * Built CONCURRENTLY, outside a transaction (stop 27): the agents' shippers go on inserting into
 * trace_port meanwhile (a plain build held them ~2 s an index at 150k traces, ~15 s at 1M). Changed
 * in place from the plain CREATE INDEX of stop 26: the end state is the same two indexes, so a
 * database that ran the first version already has them (built in its transaction: both or neither,
 * never invalid), and one that had not runs this. A build cut short is taken up at the next start
 * (createIndexConcurrently: an invalid leftover is rebuilt; this migration is recorded only once both
 * are built).
 */
export class PgTracePortRoleIndexes1796900000000 implements MigrationInterface {
  name = 'PgTracePortRoleIndexes1796900000000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    await createIndexConcurrently(queryRunner, 'idx_trace_port_in', `ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('inport', 'tunnel_in')`);
    await createIndexConcurrently(queryRunner, 'idx_trace_port_out', `ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('outport', 'output', 'tunnel_out')`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_trace_port_out"`);
    await queryRunner.query(`DROP INDEX "idx_trace_port_in"`);
  }
}
