import type { Database } from "better-sqlite3";
import { MigrationInterface, QueryRunner } from "typeorm";

// A trace's steps become one packed blob on its trace row (src/traces/step-pack.ts), and the
// step index the audits used becomes trace_citation: per cited logical-flow snapshot (kind 0) or
// northbound stage-hint object (kind 1), one row per bucket of 32 trace ids with a bitmap of the
// citing traces (src/traces/citations.ts). ~27 step rows and ~22 index entries per trace were
// most of the load cost (bench/api/RESULTS.md).
// Existing traces are converted: their trace_step rows are packed into the new column, their
// citations copied, then trace_step is dropped. The codec is inlined (format version 1) so this
// migration keeps working whatever src/ later does.

const COLUMNS = `"id", "chassis", "created_at", "datapath_flow_id", "upcall_id", "session_id", "ufid", "method", "bridge", "recirc_id", "flow", "final_flow", "megaflow", "datapath_actions", "consistent", "consistent_reason", "verdict_kinds", "verdict", "path_id", "step_count", "extra"`;
const TRACE_V0 = `("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "chassis" text NOT NULL, "created_at" text NOT NULL, "datapath_flow_id" integer, "upcall_id" integer, "session_id" integer, "ufid" text, "method" text NOT NULL, "bridge" text, "recirc_id" text NOT NULL, "flow" text NOT NULL, "final_flow" text NOT NULL, "megaflow" text NOT NULL, "datapath_actions" text NOT NULL, "consistent" integer, "consistent_reason" text, "verdict_kinds" text NOT NULL, "verdict" text NOT NULL, "path_id" integer, "step_count" integer NOT NULL, "extra" text`;
const INDEXES = [
    `CREATE INDEX "idx_trace_dpflow_cover" ON "trace" ("id", "datapath_flow_id") `,
    `CREATE INDEX "idx_trace_created" ON "trace" ("created_at") `,
    `CREATE INDEX "idx_trace_ufid" ON "trace" ("ufid") `,
    `CREATE INDEX "idx_trace_dpflow" ON "trace" ("datapath_flow_id") `,
    `CREATE INDEX "idx_trace_path" ON "trace" ("path_id") `,
];
const DROP_INDEXES = ["idx_trace_dpflow_cover", "idx_trace_created", "idx_trace_ufid", "idx_trace_dpflow", "idx_trace_path"].map((i) => `DROP INDEX "${i}"`);
const BATCH = 10_000;

type StepRow = { trace_id: number; seq: number; depth: number; rule_id: number; lflow_id: number | null; owner_id: number | null; hint_id: number | null; flags: number };

function pack(steps: StepRow[]): Buffer {
    const out: number[] = [1];
    const varint = (v: number) => {
        while (v >= 0x80) {
            out.push((v % 0x80) | 0x80);
            v = Math.floor(v / 0x80);
        }
        out.push(v);
    };
    for (const s of steps) {
        varint(s.seq);
        varint(s.depth);
        varint(s.rule_id);
        varint(s.lflow_id != null ? s.lflow_id * 2 : s.owner_id != null ? s.owner_id * 2 + 1 : 0);
        varint(s.hint_id ?? 0);
        varint(s.flags);
    }
    return Buffer.from(out);
}

function unpack(traceId: number, blob: Uint8Array): StepRow[] {
    let i = 1;
    const varint = () => {
        let v = 0;
        let scale = 1;
        for (;;) {
            const b = blob[i++];
            v += (b & 0x7f) * scale;
            if (b < 0x80) return v;
            scale *= 0x80;
        }
    };
    const out: StepRow[] = [];
    while (i < blob.length) {
        const [seq, depth, rule_id, owner, hint, flags] = [varint(), varint(), varint(), varint(), varint(), varint()];
        out.push({ trace_id: traceId, seq, depth, rule_id, lflow_id: owner && owner % 2 === 0 ? owner / 2 : null, owner_id: owner % 2 === 1 ? (owner - 1) / 2 : null, hint_id: hint || null, flags });
    }
    return out;
}

/** The copy's AUTOINCREMENT counter starts where the old table's was. */
function keepSequence(db: Database, seq: number): void {
    if (!db.prepare(`UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'trace'`).run(seq).changes)
        db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('trace', ?)`).run(seq);
}

const raw = (q: QueryRunner) => (q.connection.driver as unknown as { databaseConnection: Database }).databaseConnection;

export class PackedSteps1795764128035 implements MigrationInterface {
    name = 'PackedSteps1795764128035'

    public async up(queryRunner: QueryRunner): Promise<void> {
        const db = raw(queryRunner);
        await queryRunner.query(`CREATE TABLE "trace_citation" ("kind" integer NOT NULL, "ref" integer NOT NULL, "bucket" integer NOT NULL, "bits" integer NOT NULL, PRIMARY KEY ("kind", "ref", "bucket")) WITHOUT ROWID`);
        // SQLite has no bitwise-OR aggregate: the distinct traces of a bucket have distinct bits,
        // so the sum of their distinct powers of two is the OR.
        for (const [kind, col] of [[0, "lflow_id"], [1, "hint_id"]] as const)
            await queryRunner.query(`INSERT INTO "trace_citation" ("kind", "ref", "bucket", "bits")
                SELECT ${kind}, "${col}", "trace_id" >> 5, sum(DISTINCT 1 << ("trace_id" & 31)) FROM "trace_step" WHERE "${col}" IS NOT NULL
                GROUP BY "${col}", "trace_id" >> 5 ORDER BY 2, 3`);
        for (const q of DROP_INDEXES) await queryRunner.query(q);
        await queryRunner.query(`CREATE TABLE "temporary_trace" ${TRACE_V0}, "steps" blob NOT NULL)`);
        // Traces in id batches: each batch's step rows packed in JS, then the rows copied with their blob.
        const seq = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'trace'`).get() as { seq: number } | undefined;
        const ids = db.prepare(`SELECT id FROM "trace" WHERE id > ? ORDER BY id LIMIT ${BATCH}`).pluck();
        const steps = db.prepare(`SELECT * FROM "trace_step" WHERE trace_id BETWEEN ? AND ? ORDER BY trace_id, seq`);
        const copy = db.prepare(`INSERT INTO "temporary_trace" (${COLUMNS}, "steps") SELECT ${COLUMNS}, ? FROM "trace" WHERE id = ?`);
        for (let after = 0; ; ) {
            const batch = ids.all(after) as number[];
            if (!batch.length) break;
            const byTrace = new Map<number, StepRow[]>();
            for (const s of steps.all(batch[0], batch[batch.length - 1]) as StepRow[]) {
                let list = byTrace.get(s.trace_id);
                if (!list) byTrace.set(s.trace_id, (list = []));
                list.push(s);
            }
            for (const id of batch) copy.run(pack(byTrace.get(id) ?? []), id);
            after = batch[batch.length - 1];
        }
        await queryRunner.query(`DROP TABLE "trace"`);
        await queryRunner.query(`ALTER TABLE "temporary_trace" RENAME TO "trace"`);
        // Ids are never reused, even those of traces already pruned.
        if (seq) keepSequence(db, seq.seq);
        for (const q of INDEXES) await queryRunner.query(q);
        await queryRunner.query(`DROP INDEX "idx_step_hint"`);
        await queryRunner.query(`DROP INDEX "idx_step_lflow"`);
        await queryRunner.query(`DROP TABLE "trace_step"`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        const db = raw(queryRunner);
        await queryRunner.query(`CREATE TABLE "trace_step" ("trace_id" integer NOT NULL, "seq" integer NOT NULL, "depth" integer NOT NULL, "rule_id" integer NOT NULL, "lflow_id" integer, "owner_id" integer, "hint_id" integer, "flags" integer NOT NULL, PRIMARY KEY ("trace_id", "seq")) WITHOUT ROWID`);
        const rows = db.prepare(`SELECT id, steps FROM "trace" WHERE id > ? ORDER BY id LIMIT ${BATCH}`);
        const ins = db.prepare(`INSERT INTO "trace_step" (trace_id, seq, depth, rule_id, lflow_id, owner_id, hint_id, flags) VALUES (@trace_id, @seq, @depth, @rule_id, @lflow_id, @owner_id, @hint_id, @flags)`);
        for (let after = 0; ; ) {
            const batch = rows.all(after) as Array<{ id: number; steps: Buffer }>;
            if (!batch.length) break;
            for (const t of batch) for (const s of unpack(t.id, t.steps)) ins.run(s);
            after = batch[batch.length - 1].id;
        }
        await queryRunner.query(`CREATE INDEX "idx_step_hint" ON "trace_step" ("hint_id", "trace_id") WHERE hint_id IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "idx_step_lflow" ON "trace_step" ("lflow_id", "trace_id") WHERE lflow_id IS NOT NULL`);
        const seq = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'trace'`).get() as { seq: number } | undefined;
        for (const q of DROP_INDEXES) await queryRunner.query(q);
        await queryRunner.query(`ALTER TABLE "trace" RENAME TO "temporary_trace"`);
        await queryRunner.query(`CREATE TABLE "trace" ${TRACE_V0})`);
        await queryRunner.query(`INSERT INTO "trace" (${COLUMNS}) SELECT ${COLUMNS} FROM "temporary_trace"`);
        await queryRunner.query(`DROP TABLE "temporary_trace"`);
        if (seq) keepSequence(db, seq.seq);
        for (const q of INDEXES) await queryRunner.query(q);
        await queryRunner.query(`DROP TABLE "trace_citation"`);
    }
}
