/**
 * Before / after in one run: what another process holding the SQLite write lock does to the event
 * loop of a process whose writer has work (several agents, or an api and an agent, on one file; a
 * hand-run migration). A second process takes the lock (BEGIN IMMEDIATE) and holds it HOLD_MS while
 * the writer has JOBS jobs queued; the store's connection has the app's settings
 * (dataSourceOptions: busy timeout 5 s), its reads go through the app's read connection and its
 * writer is configured as the app's (storeHandles: spanTurns). Measured from the lock taken to the
 * jobs committed: the event loop's longest stall (perf_hooks.monitorEventLoopDelay), the reads a
 * 10 ms interval got answered on the read connection while the lock was held (what the API could
 * answer; HOLD_MS / 10 if nothing stopped the loop), and the time from the lock given back to the
 * jobs committed (how soon the writer noticed).
 *
 * REF is the writer of an older commit (`git show REF:src/storage/writer.ts`, default 3695a82: each
 * ask for the lock waited the busy timeout, 5 s, in BEGIN IMMEDIATE), NEW this tree's. ROUNDS rounds,
 * which goes first alternating; medians and REF / NEW ratios printed.
 *
 * Usage: npm run bench:lock-stall -- [HOLD_MS=6000 [ROUNDS=2 [JOBS=200 [REF=3695a82]]]]
 * Under flock /tmp/livetrace-bench.lock.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { openReadConnection } from '../../src/storage/read-connection';
import { StoreWriter } from '../../src/storage/writer';
import { sqliteProcess } from '../../test/support/sqlite-process';

const HOLD_MS = Number(process.argv[2] ?? 6000);
const ROUNDS = Number(process.argv[3] ?? 2);
const JOBS = Number(process.argv[4] ?? 200);
const REF = process.argv[5] ?? '3695a82';
const ROOT = join(__dirname, '../..');
const DATA = join(ROOT, 'bench/data/lock-stall');

type Writer = Pick<StoreWriter, 'submit' | 'close'>;
type WriterClass = new (db: Database.Database, opts: { spanTurns?: boolean }) => Writer;

interface Run {
  side: string;
  maxStallMs: number;
  readsWhileHeld: number;
  releaseToCommitMs: number;
}

/**
 * The writer of REF, from git, beside this tree's (it imports only better-sqlite3's types). Under
 * tmpdir(), not bench/data: typecheck would read it there.
 */
function refWriter(): WriterClass {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-lock-stall-'));
  const file = join(dir, `writer-${REF}.ts`);
  writeFileSync(file, execFileSync('git', ['show', `${REF}:src/storage/writer.ts`], { cwd: ROOT }));
  try {
    return (require(file) as { StoreWriter: WriterClass }).StoreWriter;
  } finally {
    rmSync(dir, { recursive: true, force: true }); // loaded: the module stays in memory
  }
}

async function once(side: string, Writer: WriterClass): Promise<Run> {
  const dir = mkdtempSync(join(DATA, 'db-'));
  const file = join(dir, 'db.sqlite');
  const main = new Database(file);
  main.pragma('journal_mode = WAL');
  (dataSourceOptions(file) as { prepareDatabase: (db: Database.Database) => void }).prepareDatabase(main);
  main.exec('CREATE TABLE t (n INTEGER NOT NULL)');
  const reader = openReadConnection(file);
  const holder = await sqliteProcess(
    file,
    `db.exec('BEGIN IMMEDIATE');
     process.stdout.write('held\\n');
     setTimeout(() => { db.exec('ROLLBACK'); process.stdout.write('released ' + Date.now() + '\\n'); }, ${HOLD_MS});`,
    'held',
  );

  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  // Its first sample only starts the clock: a stall before it would go unseen.
  await new Promise((r) => setTimeout(r, 20));
  let readsWhileHeld = 0;
  const read = reader.prepare('SELECT count(*) AS c FROM t');
  const api = setInterval(() => {
    read.get();
    if (!holder.out().includes('released')) readsWhileHeld++;
  }, 10);
  const writer = new Writer(main, { spanTurns: true });
  const settled = await Promise.allSettled(Array.from({ length: JOBS }, (_, i) => writer.submit((tx) => tx.stmt('INSERT INTO t (n) VALUES (?)').run(i).changes)));
  const committedAt = Date.now();
  // A stall is recorded at the sample after it: one more, or the last one would go unseen.
  await new Promise((r) => setTimeout(r, 20));
  delay.disable();
  clearInterval(api);
  await writer.close();
  await holder.exited;
  const failed = settled.filter((s) => s.status === 'rejected').length;
  if (failed) throw new Error(`${side}: ${failed} of ${JOBS} jobs failed (${(settled.find((s) => s.status === 'rejected') as PromiseRejectedResult).reason})`);
  const releasedAt = Number(/released (\d+)/.exec(holder.out())?.[1]);
  reader.close();
  main.close();
  rmSync(dir, { recursive: true, force: true });
  return { side, maxStallMs: delay.max / 1e6, readsWhileHeld, releaseToCommitMs: committedAt - releasedAt };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  mkdirSync(DATA, { recursive: true });
  const sides: Array<[string, WriterClass]> = [
    [`REF ${REF}`, refWriter()],
    ['NEW', StoreWriter as unknown as WriterClass],
  ];
  const runs: Run[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [side, W] of r % 2 ? [...sides].reverse() : sides) {
      const run = await once(side, W);
      runs.push(run);
      console.log(`round ${r + 1} ${side.padEnd(12)} longest stall ${run.maxStallMs.toFixed(1)} ms, reads answered while held ${run.readsWhileHeld}, release→commit ${run.releaseToCommitMs} ms`);
    }
  }
  const of = (side: string, k: keyof Omit<Run, 'side'>) => median(runs.filter((x) => x.side === side).map((x) => x[k]));
  const [ref, cur] = sides.map(([s]) => s);
  console.log(`\nlock held ${HOLD_MS} ms by another process, ${JOBS} jobs queued, medians of ${ROUNDS}:`);
  for (const k of ['maxStallMs', 'readsWhileHeld', 'releaseToCommitMs'] as const) {
    const [a, b] = [of(ref, k), of(cur, k)];
    const ratio = k === 'readsWhileHeld' ? `NEW/REF ${(b / a).toFixed(1)}x` : `REF/NEW ${(a / b).toFixed(1)}x`;
    console.log(`  ${k.padEnd(18)} REF ${a.toFixed(1).padStart(8)}  NEW ${b.toFixed(1).padStart(8)}  ${ratio}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
