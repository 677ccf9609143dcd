/**
 * Before / after in one run: the api of two source trees (REF, e.g. a `git worktree` of the old
 * commit under /tmp, and NEW, by default this one) serving the same history, side by side, on SQLite
 * and on PostgreSQL: `GET /traces?logical_port=…` and the audits (DP-group flow, port flow, ACL)
 * under autocannon (cannon.ts) at BENCH_CONNECTIONS (8), interleaved: each round runs every route on
 * both trees, which goes first alternating, ROUNDS rounds; medians and NEW / REF ratios printed.
 *
 * Each api is its own process, started as `npm start` would start it but from its tree's sources
 * (`node -r ts-node/register/transpile-only src/main.ts`), offline (app-config.ts's settings), role
 * api. Its CPU per request is read from /proc (all its threads: the reader threads too), the
 * PostgreSQL cluster's as pg-service-time.ts reads it; autocannon's own process is not counted.
 * Before timing, the first 30 answers of every route are fetched from both trees and compared byte
 * for byte (the run stops if one differs).
 *
 * The history is pg-service-time.ts's: bench/data/api-N.sqlite and a PostgreSQL cluster loaded
 * with it, kept by that bench in BENCH_PG_DIR (run it once with BENCH_PG_DIR=… BENCH_KEEP=1).
 *
 * Usage: node -r ts-node/register/transpile-only bench/api/ab.ts REF_DIR [N=150000 [ROUNDS=3 [SECONDS=6]]]
 *   BENCH_PG_DIR=folder (PostgreSQL side; without it SQLite only), BENCH_NEW_DIR (default: this tree),
 *   BENCH_ROUTES=port,acl, BENCH_ONLY=sqlite|postgres, BENCH_REF_NODE_ARGS / BENCH_NEW_NODE_ARGS (node
 *   flags for one side's api), BENCH_REF_PGOPTIONS / BENCH_NEW_PGOPTIONS (its PostgreSQL session settings), BENCH_TAG=x (writes results-ab-N-x.json, not
 *   results-ab-N.json). Under flock /tmp/livetrace-bench.lock.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { OFFLINE_ENV, targets } from './app-config';
import { cannon, CannonResult } from './cannon';
import { dbFile } from './generate';
import { clusterCpuSeconds } from './postgres-lib';

const REF = process.argv[2];
const N = Number(process.argv[3] ?? 150_000);
const ROUNDS = Number(process.argv[4] ?? 3);
const SECONDS = Number(process.argv[5] ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const NEW = resolve(process.env.BENCH_NEW_DIR ?? join(__dirname, '../..'));
const PG_DIR = process.env.BENCH_PG_DIR;
const ROUTES = (process.env.BENCH_ROUTES ?? 'port,dpgroup,portflow,acl').split(',');
const ONLY = process.env.BENCH_ONLY ?? '';
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

interface Api {
  tree: 'ref' | 'new';
  child: ChildProcess;
  url: string;
}

/** One api process of a tree on a store; resolves once it answers /health. */
async function startApi(tree: 'ref' | 'new', dir: string, db: string, spool: string): Promise<Api> {
  const port = 23000 + Math.floor(Math.random() * 2000);
  const env = {
    ...process.env,
    ...OFFLINE_ENV,
    LIVETRACE_DB: db,
    LIVETRACE_SPOOL: spool,
    LIVETRACE_ROLE: 'api',
    LIVETRACE_CHASSIS: 'hv1',
    LIVETRACE_HOST: '127.0.0.1',
    LIVETRACE_PORT: String(port),
    // BENCH_REF_PGOPTIONS / BENCH_NEW_PGOPTIONS: PostgreSQL session settings for one side's api
    // (e.g. `-c plan_cache_mode=force_generic_plan`, REF_DIR this tree); pg reads PGOPTIONS.
    ...(process.env[tree === 'ref' ? 'BENCH_REF_PGOPTIONS' : 'BENCH_NEW_PGOPTIONS'] ? { PGOPTIONS: process.env[tree === 'ref' ? 'BENCH_REF_PGOPTIONS' : 'BENCH_NEW_PGOPTIONS'] } : {}),
  };
  // BENCH_REF_NODE_ARGS / BENCH_NEW_NODE_ARGS: node flags for one side (a GC setting on one tree: REF_DIR this tree).
  const flags = (process.env[tree === 'ref' ? 'BENCH_REF_NODE_ARGS' : 'BENCH_NEW_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...flags, '-r', 'ts-node/register/transpile-only', 'src/main.ts'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${tree} api exited ${child.exitCode}`);
    if ((await fetchText(`${url}/health`).catch(() => null)) !== null) return { tree, child, url };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${tree} api did not answer`);
}

function fetchText(url: string): Promise<string> {
  return new Promise((res, rej) =>
    get(url, (r) => {
      let s = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (s += c));
      r.on('end', () => res(`${r.statusCode} ${r.headers['content-type']}\n${s}`));
    }).on('error', rej),
  );
}

/** utime + stime of a process, all threads, in seconds. */
function processCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/**
 * utime + stime per thread of a process, in seconds, by thread id: the event loop is the thread whose
 * id is the pid; the reader threads (src/read-workers) and V8's and libuv's helpers are the others.
 */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** CPU ms a request of the event loop, of the busiest other thread (a reader), and of the rest. */
function threadSplit(pid: number, before: Map<number, number>, requests: number): { loopMs: number; readerMs: number; restMs: number } {
  const after = threadCpu(pid);
  const d = [...after].map(([tid, s]) => [tid, s - (before.get(tid) ?? 0)] as const);
  const loop = d.find(([tid]) => tid === pid)?.[1] ?? 0;
  const others = d.filter(([tid]) => tid !== pid).map(([, s]) => s).sort((a, b) => b - a);
  const reader = others[0] ?? 0;
  const rest = others.slice(1).reduce((a, b) => a + b, 0);
  return { loopMs: (loop * 1000) / requests, readerMs: (reader * 1000) / requests, restMs: (rest * 1000) / requests };
}

type Row = CannonResult & { apiCpuMs: number; pgCpuMs: number | null; load1: number; loopMs?: number; readerMs?: number; restMs?: number };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  if (!REF || !existsSync(join(REF, 'src/main.ts'))) throw new Error('usage: ab.ts REF_DIR [N [ROUNDS [SECONDS]]] (REF_DIR: a source tree, e.g. a git worktree)');
  const ro = new Database(dbFile(N), { readonly: true });
  const t = targets(ro);
  ro.close();
  const paths: Record<string, string[]> = {
    port: t.ports.map((p) => `/traces?logical_port=${p}`),
    dpgroup: t.dpGroup.map((u) => `/logical-flows/${u}/datapath-flows`),
    portflow: t.portFlows.map((u) => `/logical-flows/${u}/datapath-flows`),
    acl: t.acls.slice(0, 300).map((u) => `/northbound/ACL/${u}/datapath-flows`),
  };
  const rev = (dir: string) => execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = (dir: string) => execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim() !== '';
  const out: Record<string, unknown> = { n: N, rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, ref: rev(REF), new: `${rev(NEW)}${dirty(NEW) ? ' + uncommitted src' : ''}`, startedAt: new Date().toISOString(), startLoad: loadavg() };
  for (const side of ['REF', 'NEW'] as const) {
    // What made one side differ besides its tree, so the JSON says what was compared.
    for (const k of [`BENCH_${side}_PGOPTIONS`, `BENCH_${side}_NODE_ARGS`]) if (process.env[k]) out[k] = process.env[k];
  }
  log(`REF ${out.ref} (${REF}), NEW ${out.new} (${NEW}), N=${N}, ${ROUNDS} rounds of ${SECONDS} s at ${CONNECTIONS} connections`);
  const tmp = mkdtempSync(join(tmpdir(), 'livetrace-ab-'));
  const stores: Array<['sqlite' | 'postgres', string]> = [['sqlite', dbFile(N)]];
  if (PG_DIR) stores.push(['postgres', execFileSync(join(__dirname, '../../scripts/pg-cluster'), ['start', PG_DIR], { encoding: 'utf8' }).trim().split('\n').pop()!]);
  const results: Record<string, Record<string, Record<'ref' | 'new', Row[]>>> = {};
  const apis: Api[] = [];
  try {
    for (const [store, db] of stores) {
      if (ONLY && ONLY !== store) continue;
      const pair = [await startApi('ref', REF, db, join(tmp, `ref-${store}.sqlite`)), await startApi('new', NEW, db, join(tmp, `new-${store}.sqlite`))];
      apis.push(...pair);
      // The same bytes from both trees (status and Content-Type too), before any timing.
      let compared = 0;
      for (const route of ROUTES)
        for (const p of paths[route].slice(0, 30)) {
          const [a, b] = await Promise.all(pair.map((api) => fetchText(api.url + p)));
          if (a !== b) throw new Error(`${store} ${p}: REF and NEW answers differ (REF ${a.length} bytes, NEW ${b.length})`);
          if (!a.startsWith('200 ')) throw new Error(`${store} ${p}: ${a.slice(0, 200)}`);
          compared++;
        }
      log(store, `${compared} answers identical on both trees`);
      out[`${store}Compared`] = compared;
      results[store] = {};
      for (const route of ROUTES) {
        results[store][route] = { ref: [], new: [] };
        for (const api of pair) await cannon(api.url, paths[route].slice(0, 300), { duration: 2, connections: CONNECTIONS }); // warm-up
      }
      for (let round = 0; round < ROUNDS; round++)
        for (const route of ROUTES)
          for (const api of round % 2 ? [...pair].reverse() : pair) {
            const pg0 = store === 'postgres' ? clusterCpuSeconds(PG_DIR!) : 0;
            const c0 = processCpu(api.child.pid!);
            const t0 = threadCpu(api.child.pid!);
            const r = await cannon(api.url, paths[route].slice(0, 300), { duration: SECONDS, connections: CONNECTIONS, seed: 11 + round });
            const apiCpuMs = ((processCpu(api.child.pid!) - c0) * 1000) / r.requests;
            const pgCpuMs = store === 'postgres' ? ((clusterCpuSeconds(PG_DIR!) - pg0) * 1000) / r.requests : null;
            const row = { ...r, apiCpuMs, pgCpuMs, load1: loadavg()[0], ...threadSplit(api.child.pid!, t0, r.requests) };
            results[store][route][api.tree].push(row);
            log(store, route, api.tree, `round ${round + 1}: p50 ${r.p50} p99 ${r.p99} ms, ${r.perS}/s, api ${apiCpuMs.toFixed(2)} ms CPU a request (loop ${row.loopMs.toFixed(2)}, reader ${row.readerMs.toFixed(2)}, rest ${row.restMs.toFixed(2)})${pgCpuMs === null ? '' : `, PostgreSQL ${pgCpuMs.toFixed(2)}`}, non-2xx ${r.non2xx}, load1 ${row.load1.toFixed(1)}`);
          }
      for (const api of pair) api.child.kill('SIGTERM');
    }
  } finally {
    for (const api of apis) if (api.child.exitCode === null) api.child.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  }
  out.results = results;
  out.endLoad = loadavg();
  writeFileSync(join(__dirname, `results-ab-${N}${process.env.BENCH_TAG ? `-${process.env.BENCH_TAG}` : ''}.json`), JSON.stringify(out, null, 2));
  const f = (x: number) => (x >= 10 ? x.toFixed(0) : x.toFixed(2));
  console.log(`\nmedians of ${ROUNDS} rounds, N=${N}, ${CONNECTIONS} connections, ${SECONDS} s each; REF ${out.ref}, NEW ${out.new}`);
  console.log('| store | route | p50 REF → NEW ms | p99 REF → NEW ms | req/s REF → NEW | api CPU ms a request REF → NEW | PostgreSQL CPU ms REF → NEW | p99 NEW/REF | CPU NEW/REF |\n|---|---|---|---|---|---|---|---|---|');
  for (const [store, routes] of Object.entries(results))
    for (const [route, { ref, new: nu }] of Object.entries(routes)) {
      const m = (rows: Row[], k: keyof Row) => median(rows.map((r) => Number(r[k])));
      const cpu = (rows: Row[]) => median(rows.map((r) => r.apiCpuMs + (r.pgCpuMs ?? 0)));
      const pg = store === 'postgres' ? `${f(m(ref, 'pgCpuMs'))} → ${f(m(nu, 'pgCpuMs'))}` : '-';
      console.log(
        `| ${store} | ${route} | ${f(m(ref, 'p50'))} → ${f(m(nu, 'p50'))} | ${f(m(ref, 'p99'))} → ${f(m(nu, 'p99'))} | ${f(m(ref, 'perS'))} → ${f(m(nu, 'perS'))} | ${f(m(ref, 'apiCpuMs'))} → ${f(m(nu, 'apiCpuMs'))} | ${pg} | ${(m(nu, 'p99') / m(ref, 'p99')).toFixed(2)} | ${(cpu(nu) / cpu(ref)).toFixed(2)} |`,
      );
    }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
