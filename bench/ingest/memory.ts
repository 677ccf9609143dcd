/**
 * bench/ingest/memory: the service's peak RSS while CLIENTS producers each POST one body of
 * MB megabytes to /ingest/events at once, with the bodies in flight unbounded (the old behaviour:
 * LIVETRACE_INGEST_CONCURRENCY=1000) and bounded (the default, 2), one after the other in one run,
 * each on a fresh service process (src/main.ts) and SQLite file. Two peaks: the kernel's own high
 * water mark of the process's RSS (VmHWM), which also counts the pages of the SQLite file it maps
 * (mmap_size) and its page cache (cache_size: both grow with the file whichever way it was written),
 * and the highest anonymous RSS (RssAnon, sampled every 20 ms): the heap, the bodies' buffers, the
 * page cache; the memory that kills the process when exhausted. Every event sent is checked to be
 * stored (the answers' accepted counts), or the run says what the producers were answered.
 *
 * Usage: npm run bench:ingest-memory [-- CLIENTS=32 [MB=16 [BOUNDED=2]]]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLIENTS = Number(process.argv[2] ?? 32);
const MB = Number(process.argv[3] ?? 16);
const BOUNDED = Number(process.argv[4] ?? 2);
const ROOT = resolve(__dirname, '../..');
const KEY =
  'skb_priority(0),skb_mark(0),ct_state(0x21),ct_zone(0xb),ct_mark(0),ct_label(0),ct_tuple4(src=10.0.0.1,dst=10.0.0.2,proto=1,tp_src=8,tp_dst=0),recirc_id(0x1),dp_hash(0),in_port(4),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
const line = (client: number, n: number) => `{"type":"upcall","id":"c${client}-${n}","time":"2026-11-27T05:21:55.633Z","upcallType":"miss","key":"${KEY}","thread":"handler1"}\n`;
const LINES = Math.floor((MB * 1024 * 1024 - 1024) / Buffer.byteLength(line(CLIENTS, 9_999_999)));

/** The bodies, made before the runs so that they arrive as fast as loopback carries them. */
const BODIES = Array.from({ length: CLIENTS }, (_, c) => Buffer.from(Array.from({ length: LINES }, (_, n) => line(c, n)).join('')));

const kb = (pid: number, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

interface Run {
  concurrency: number;
  idleMb: number;
  peakMb: number;
  anonMb: number;
  seconds: number;
  stored: number;
  answers: Record<string, number>;
  died?: string;
}

async function run(concurrency: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-memory-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    TS_NODE_TRANSPILE_ONLY: '1',
    LIVETRACE_DB: join(dir, 'db.sqlite'),
    LIVETRACE_SPOOL: join(dir, 'spool.sqlite'),
    LIVETRACE_PORT: String(port),
    LIVETRACE_POLLER: 'false',
    LIVETRACE_LOG_LEVEL: 'error',
    LIVETRACE_INGEST_CONCURRENCY: String(concurrency),
    LIVETRACE_INGEST_QUEUE: String(CLIENTS),
    LIVETRACE_INGEST_WAIT_SECONDS: '3600',
  };
  const proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  let died: string | undefined;
  let sampler: NodeJS.Timeout | undefined;
  proc.on('exit', (code, signal) => (died = `exited (${signal ?? code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/ingest/schema`).catch(() => undefined))?.ok) break;
      if (died || i > 600) throw new Error(`service did not start: ${died ?? 'no answer'}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const idleMb = kb(proc.pid!, 'RssAnon') / 1024;
    // The high water mark read now and then too: a process that dies takes its own with it.
    let peakMb = 0;
    let anonMb = 0;
    const look = () => {
      if (died) return;
      peakMb = Math.max(peakMb, kb(proc.pid!, 'VmHWM') / 1024);
      anonMb = Math.max(anonMb, kb(proc.pid!, 'RssAnon') / 1024);
    };
    sampler = setInterval(() => {
      try {
        look();
      } catch {
        /* gone between the check and the read */
      }
    }, 20);
    const t0 = performance.now();
    const answers: Record<string, number> = {};
    let stored = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const res = await fetch(`${base}/ingest/events?source=mem`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: BODIES[c] }).catch(
          (e: Error) => ({ status: `failed: ${(e.cause as Error)?.message ?? e.message}`, json: async () => ({}) }),
        );
        answers[res.status] = (answers[res.status] ?? 0) + 1;
        stored += ((await res.json()) as { accepted?: number }).accepted ?? 0;
      }),
    );
    clearInterval(sampler);
    look();
    return { concurrency, idleMb, peakMb, anonMb, seconds: (performance.now() - t0) / 1000, stored, answers, died };
  } finally {
    clearInterval(sampler);
    proc.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  console.log(`bench/ingest/memory: ${CLIENTS} producers at once, ${MB} MB bodies (${LINES} upcall lines each), ${cpus().length} cpus, load ${loadavg()[0].toFixed(2)}`);
  const rows: Run[] = [];
  for (const concurrency of [1000, BOUNDED]) {
    const r = await run(concurrency);
    rows.push(r);
    const what = concurrency >= CLIENTS ? 'unbounded (old)' : `bounded to ${concurrency}`;
    console.log(
      `${what.padEnd(16)} idle ${r.idleMb.toFixed(0).padStart(5)} MB  peak anonymous ${r.anonMb.toFixed(0).padStart(6)} MB  peak RSS ${r.peakMb.toFixed(0).padStart(6)} MB  ${r.seconds.toFixed(1).padStart(6)} s  ` +
        `stored ${r.stored}/${CLIENTS * LINES}  answers ${JSON.stringify(r.answers)}${r.died ? `  DIED: ${r.died}` : ''}`,
    );
  }
  const [old, bounded] = rows;
  console.log(
    `unbounded / bounded: peak anonymous ${(old.anonMb / bounded.anonMb).toFixed(2)}x (above idle ${((old.anonMb - old.idleMb) / (bounded.anonMb - bounded.idleMb)).toFixed(2)}x), peak RSS ${(old.peakMb / bounded.peakMb).toFixed(2)}x`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
