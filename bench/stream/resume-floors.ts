// What a resume of GET /traces/stream by a plain trace id costs across writer slots
// (src/traces/trace-slot-store.ts resumeFloors: one range of the time index, the first id from the
// anchor's time in each slot): S slots of N traces each (ids follow time within a slot, slots interleaved in time),
// on SQLite (a file) and on PostgreSQL (a cluster of the bench's own, scripts/pg-cluster), the
// statements it ran and its time, p50/p99 over anchors spread through the history.
//   npx ts-node --transpile-only bench/stream/resume-floors.ts [slots=1000] [perSlot=1000] [runs=20]
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { PgReader, SqliteReader, SqlReader } from '../../src/storage/sql';
import { resumeFloors, newestPerSlot } from '../../src/traces/trace-slot-store';
import { startPostgres } from '../../test/support/postgres';

const [slots, perSlot, runs] = [Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 20)];
const SLOT = 2 ** 40;
const T0 = Date.parse('2026-12-05T00:00:00.000Z');
/** Trace k of slot s: traced at k seconds plus s ms (every slot busy the whole time). */
const rows = function* (): Generator<[number, string]> {
  for (let s = 0; s < slots; s++) for (let k = 1; k <= perSlot; k++) yield [s * SLOT + k, new Date(T0 + k * 1000 + s).toISOString()];
};

async function measure(name: string, q: SqlReader): Promise<void> {
  const newest = await newestPerSlot(q);
  const times: number[] = [];
  let statements = 0;
  const all = q.all.bind(q);
  q.all = (async (...a: Parameters<typeof all>) => (statements++, all(...a))) as typeof q.all;
  for (let r = 0; r < runs; r++) {
    const anchor = ((r * 7919) % slots) * SLOT + 1 + Math.floor(((r + 1) / (runs + 1)) * (perSlot - 1));
    const t = performance.now();
    const { floors } = await resumeFloors(q, anchor, 5000, newest);
    times.push(performance.now() - t);
    if (floors.size !== slots - 1) throw new Error(`${name}: ${floors.size} floors for ${slots - 1} slots`);
  }
  times.sort((a, b) => a - b);
  const p = (x: number) => times[Math.min(times.length - 1, Math.floor(x * times.length))].toFixed(1);
  console.log(`${name}: ${slots} slots x ${perSlot} traces, resumeFloors p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, ${(statements / runs).toFixed(1)} statements a resume`);
}

async function main(): Promise<void> {
  const file = join(mkdtempSync(join(tmpdir(), 'livetrace-resume-')), 'db.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // The time index as the schema has it (migrations: SQLite's holds the rowid, PostgreSQL's the id).
  db.exec('CREATE TABLE trace (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL); CREATE INDEX idx_trace_created ON trace (created_at)');
  const ins = db.prepare('INSERT INTO trace (id, created_at) VALUES (?, ?)');
  db.transaction(() => {
    for (const r of rows()) ins.run(...r);
  })();
  await measure('SQLite', new SqliteReader(new Database(file, { readonly: true })));
  const pg = startPostgres();
  const pool = new Pool({ connectionString: await pg.database('resume') });
  try {
    await pool.query('CREATE TABLE trace (id bigint PRIMARY KEY, created_at text COLLATE "C" NOT NULL); CREATE INDEX idx_trace_created ON trace (created_at, id)');
    let batch: Array<[number, string]> = [];
    const flush = async () => {
      await pool.query('INSERT INTO trace (id, created_at) SELECT * FROM unnest($1::bigint[], $2::text[])', [batch.map((b) => b[0]), batch.map((b) => b[1])]);
      batch = [];
    };
    for (const r of rows()) if (batch.push(r) >= 50_000) await flush();
    if (batch.length) await flush();
    await pool.query('ANALYZE trace');
    await measure('PostgreSQL', new PgReader(pool));
  } finally {
    await pool.end();
    pg.stop();
  }
}

void main();
