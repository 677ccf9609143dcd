import { MigrationInterface, QueryRunner } from "typeorm";

// ?ufid= goes through the datapath flow (idx_dpflow_ufid, then idx_trace_dpflow): a trace's UFID is
// its datapath flow's. Random inserts into an index of every trace by UFID cost a third of the load
// rate at 1M (bench/api/RESULTS.md); only traces without a datapath flow keep one.

export class TraceUfidViaFlow1795767043598 implements MigrationInterface {
    name = 'TraceUfidViaFlow1795767043598'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_trace_ufid"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_ufid_nodp" ON "trace" ("ufid") WHERE datapath_flow_id IS NULL`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP INDEX "idx_trace_ufid_nodp"`);
        await queryRunner.query(`CREATE INDEX "idx_trace_ufid" ON "trace" ("ufid") `);
    }

}
