import { MigrationInterface, QueryRunner } from "typeorm";

// Why a trace was made the way it was (method detrace / trace): ofproto/detrace answers only once
// the revalidators gave the ukey a translation cache, so the tracer often falls back to tracing the
// flow's own key, and says why (e.g. "detrace: Cache was not found for netdev@ovs-netdev").
// Nullable: traces stored before (and ingested ones) have no reason.

export class TraceMethodReason1795770000000 implements MigrationInterface {
    name = 'TraceMethodReason1795770000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "trace" ADD COLUMN "method_reason" text`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "trace" DROP COLUMN "method_reason"`);
    }

}
