import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * trace_port had two indexes by port: idx_trace_port_name (port_name, trace_id) and
 * idx_trace_port_time (port_name, created_at, trace_id). The lists, the 404 check, the
 * datapath-flow and upcall filters by port already walked the second; the stream's walk of a port
 * in one writer slot, the last user of the first, now walks it too (by time from the earliest
 * trace time above its floor, the ids a filter: src/traces/stream-slot-times.ts). Dropping it
 * saves its writes on every port row and its size (24 MB at 150k traces here; EXPLAIN of each
 * statement before and after in bench/stream/RESULTS.md).
 */
export class DropPortIdIndex1796600000200 implements MigrationInterface {
    name = 'DropPortIdIndex1796600000200'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_trace_port_name"`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE INDEX "idx_trace_port_name" ON "trace_port" ("port_name", "trace_id") `);
    }

}
