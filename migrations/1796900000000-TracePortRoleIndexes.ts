import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `GET /traces?logical_port=…&role=inport|outport` walked idx_trace_port_time (port_name,
 * created_at, trace_id) newest first and filtered each row by its role: a port whose rows are
 * nearly all of the other role (a router port seen as inport in every trace, asked for its
 * outport traces) read its whole history for an empty page, ~150k entries at 150k traces on SQLite,
 * 11,893 buffers (~50 ms) on PostgreSQL, growing with the history. One partial index per role group,
 * the same columns, each with the group's rows only: the walk reads ~limit rows of the role or
 * stops at once (bench/api/RESULTS-postgres.md, "stop 26: hot-port plans"). Their WHERE is the
 * text trace-read-store.ts filters by (SQLite uses a partial index only for that same term); every
 * role is in one group, so the two hold what idx_trace_port_time holds. The API reads them alone:
 * a spool sheds them (storage/spool-indexes.ts).
 */
export class TracePortRoleIndexes1796900000000 implements MigrationInterface {
  name = 'TracePortRoleIndexes1796900000000';

  // IF NOT EXISTS / IF EXISTS: a spool sheds them and remembers them in meta (storage/spool-indexes.ts),
  // so a spool whose undo ran where they were shed gets them back from meta before this runs again.
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS "idx_trace_port_in" ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('inport', 'tunnel_in')`);
    await queryRunner.query(`CREATE INDEX IF NOT EXISTS "idx_trace_port_out" ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('outport', 'output', 'tunnel_out')`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_trace_port_out"`);
    await queryRunner.query(`DROP INDEX IF EXISTS "idx_trace_port_in"`);
  }
}
