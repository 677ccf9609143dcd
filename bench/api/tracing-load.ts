/**
 * Does tracing keep its latency while the API answers heavy queries? (issue 18, finding 7)
 *
 * The service runs in its own process as users run it (compiled, dist/src/main.js; default settings: poll every
 * 1 s, 200 traces/s), on a real sandbox (tracing-load.sh), with a trace session on lsp1. Packets
 * (distinct TCP SYNs lsp1 -> lsp2, three passes each) are injected at a steady rate in phases
 * alternating without and with 8 concurrent autocannon connections asking for the newest ~100 kB
 * page of `GET /traces?logical_port=lsp1`. This process watches the database read-only (every
 * 20 ms) and notes when each trace becomes visible (committed). Per phase, per trace:
 *   - sight -> stored: from the poll cycle that first saw its datapath flow (datapath_flow.first_seen)
 *     to visible: the service's own delay, what readers can starve;
 *   - packet -> stored: from the injection to visible (adds the wait for the next poll, up to 1 s).
 * Env: BENCH_SANDBOX, BENCH_RATE (packets/s, 10), BENCH_PHASE_S (15), BENCH_PREFILL (packets, 700),
 * BENCH_PAGE_BYTES (100000), BENCH_READERS (8), BENCH_NODE_ARGS (e.g. --cpu-prof --cpu-prof-dir=DIR for the service).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { UnixctlClient } from '../../src/unixctl/client';
import { emit, env, loadLine, sleep, vswitchdCtl, ROOT } from '../live/common';
import { synFrom } from '../live/fill';
import { sandboxEnv } from '../live/service';
import { cannon, CannonResult } from './cannon';

const dir = env('BENCH_SANDBOX');
const RATE = Number(process.env.BENCH_RATE ?? 10);
const PHASE_S = Number(process.env.BENCH_PHASE_S ?? 15);
const PREFILL = Number(process.env.BENCH_PREFILL ?? 700);
const PAGE_BYTES = Number(process.env.BENCH_PAGE_BYTES ?? 100_000);
const READERS = Number(process.env.BENCH_READERS ?? 8);
const PHASES = ['idle', 'readers', 'idle', 'readers'] as const;
const log = (s: string) => process.stderr.write(`  [tracing-load] ${s}\n`);

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

/** Packet i's TCP ports (fill.ts's synFrom), the key a trace's flow is matched back by. */
const portsOf = (i: number) => `${1024 + (i % 60000)}/${80 + Math.floor(i / 60000)}`;

interface Seen {
  id: number;
  packet: number | undefined;
  visibleAt: number;
  firstSeen: number;
  createdAt: number;
}

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
const stats = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: xs.length ? Math.max(...xs) : NaN });

async function main(): Promise<void> {
  const port = await freePort();
  const dbDir = mkdtempSync(join(tmpdir(), 'livetrace-bench-tracing-db-'));
  const dbPath = join(dbDir, 'livetrace.sqlite');
  const api = `http://127.0.0.1:${port}`;
  // The build tracing-load.sh made (as `npm start` runs dist/src/main.js), else the sources.
  const main = process.env.BENCH_SERVICE_MAIN ? [process.env.BENCH_SERVICE_MAIN] : ['-r', 'ts-node/register/transpile-only', 'src/main.ts'];
  const svc: ChildProcess = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), ...main], {
    cwd: ROOT,
    env: { ...process.env, ...sandboxEnv(dir), LIVETRACE_CONFIG_FILE: join(ROOT, 'config/livetrace.env'), LIVETRACE_DB: dbPath, LIVETRACE_PORT: String(port), LIVETRACE_HOST: '127.0.0.1', LIVETRACE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const vs = new UnixctlClient({ target: vswitchdCtl(dir), timeoutMs: 60_000 });
  let db: Database.Database | undefined;
  try {
    for (let i = 0; ; i++) {
      if (svc.exitCode !== null) throw new Error(`the service exited ${svc.exitCode}`);
      if (i > 600) throw new Error('the service did not become healthy in 60 s');
      const ok = await fetch(`${api}/health`).then((r) => r.status === 200, () => false);
      if (ok) break;
      await sleep(100);
    }
    const session = await fetch(`${api}/trace-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bridge: 'br-int', logicalPort: 'lsp1', maxTraces: 10_000_000, durationSeconds: 86400 }),
    });
    if (session.status !== 201) throw new Error(`POST /trace-sessions: ${session.status} ${await session.text()}`);
    const vif1 = Number(/^\s+vif1 \d+\/(\d+):/m.exec(await vs.call('dpif/show'))?.[1]);

    db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const newer = db.prepare(
      `SELECT t.id AS id, t.flow AS flow, t.created_at AS created, d.first_seen AS seen
       FROM trace t LEFT JOIN datapath_flow d ON d.id = t.datapath_flow_id WHERE t.id > ? ORDER BY t.id`,
    );
    const byPorts = new Map<string, number>(); // "sport/dport" -> packet index
    const injectedAt: number[] = [];
    const seen: Seen[] = [];
    let lastId = 0;
    const watch = setInterval(() => {
      const now = Date.now();
      for (const r of newer.all(lastId) as Array<{ id: number; flow: string; created: string; seen: string | null }>) {
        lastId = r.id;
        const m = /tp_src=(\d+),tp_dst=(\d+)/.exec(r.flow);
        seen.push({ id: r.id, packet: m ? byPorts.get(`${m[1]}/${m[2]}`) : undefined, visibleAt: now, firstSeen: r.seen ? Date.parse(r.seen) : NaN, createdAt: Date.parse(r.created) });
      }
    }, 20);

    let next = 0;
    const inject = async (n: number) => {
      const pkts: string[] = [];
      for (let k = 0; k < n; k++, next++) {
        byPorts.set(portsOf(next), next);
        injectedAt[next] = Date.now();
        pkts.push(synFrom(vif1, next));
      }
      await vs.call('netdev-dummy/receive', ['vif1', ...pkts]);
    };
    const drained = async () => {
      for (let quiet = 0, last = -1; quiet < 15; ) {
        await sleep(200);
        quiet = seen.length === last ? quiet + 1 : 0;
        last = seen.length;
      }
    };

    // History for the readers: PREFILL packets, 20 at a time.
    for (let k = 0; k < PREFILL; k += 20) {
      await inject(Math.min(20, PREFILL - k));
      await sleep(100);
    }
    await drained();
    log(`prefill: ${seen.length} traces from ${PREFILL} packets`);
    const probe = await (await fetch(`${api}/traces?logical_port=lsp1&limit=50`)).text();
    const limit = Math.max(1, Math.min(500, Math.round((50 * PAGE_BYTES) / probe.length)));
    const page = `/traces?logical_port=lsp1&limit=${limit}`;
    const pageBytes = (await (await fetch(api + page)).text()).length;
    log(`reader page: ${page} = ${pageBytes} bytes (${loadLine()})`);

    const phases = [];
    for (const [p, kind] of PHASES.entries()) {
      const from = next;
      const readers = kind === 'readers' ? cannon(api, [page], { connections: READERS, duration: PHASE_S + 2 }) : undefined;
      if (readers) await sleep(1000); // the readers at full speed before the first packet
      const t0 = performance.now();
      for (let k = 0; k < PHASE_S * RATE; k++) {
        const wait = t0 + (k * 1000) / RATE - performance.now();
        if (wait > 0) await sleep(wait);
        await inject(1);
      }
      const load = loadLine();
      const reads: CannonResult | undefined = await readers;
      await drained();
      const mine = seen.filter((s) => s.packet !== undefined && s.packet >= from && s.packet < next);
      const r = {
        phase: `${p + 1}: ${kind}`,
        packets: next - from,
        traces: mine.length,
        sightToStoredMs: stats(mine.map((s) => s.visibleAt - s.firstSeen)),
        packetToStoredMs: stats(mine.map((s) => s.visibleAt - injectedAt[s.packet!])),
        createdAfterSightMs: stats(mine.map((s) => s.createdAt - s.firstSeen)),
        reads: reads && { perS: reads.perS, p50: reads.p50, p99: reads.p99, max: reads.max, requests: reads.requests, non2xx: reads.non2xx, errors: reads.errors },
        load,
      };
      const f = (x: { p50: number; p99: number; max: number }) => `p50 ${x.p50} / p99 ${x.p99} / max ${x.max} ms`;
      log(`${r.phase}: ${r.traces} traces of ${r.packets} packets; sight->stored ${f(r.sightToStoredMs)}; packet->stored ${f(r.packetToStoredMs)}` +
          (reads ? `; reads ${reads.perS.toFixed(0)}/s p50 ${reads.p50} p99 ${reads.p99} ms (${reads.non2xx} non-2xx)` : '') + ` (${load})`);
      phases.push(r);
    }
    clearInterval(watch);
    emit({ bench: 'tracing-load', label: process.env.BENCH_LABEL ?? '', pair: process.env.BENCH_PAIR ?? '', date: new Date().toISOString(), rate: RATE, phaseS: PHASE_S, readers: READERS, page, pageBytes, prefillTraces: lastId, phases });
  } finally {
    db?.close();
    vs.close();
    svc.kill('SIGTERM');
    await new Promise((r) => (svc.exitCode !== null ? r(null) : svc.once('exit', r)));
    rmSync(dbDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
