/**
 * CPU per request of the read routes on PostgreSQL beside SQLite, the same rows in both (issue 19):
 * `GET /traces?logical_port=…` and the audits (logical flow: DP-group and port flows; ACL).
 *
 * 1. generate.ts's history of N traces (bench/data/api-N.sqlite, reused when complete): the SQLite side.
 * 2. A PostgreSQL cluster of its own (postgres-lib.ts's startCluster, stopped at the end), migrated by
 *    the app (openPostgres), every history table copied from that file (same ids), VACUUM (ANALYZE).
 * 3. The app as an api instance on each store in turn; per route REPEAT calls one after another:
 *    - service: what the controller calls (TracesService.listJson; the audits' datapathFlowsJson / northboundFlowsJson);
 *    - http (MODE=http): the route over loopback HTTP from a client in this process (the edge, express's
 *      ETag, the client's own reading: the same on both stores).
 *    - cannon (MODE=cannon): autocannon at BENCH_CONNECTIONS (8) for BENCH_SECONDS (8) a route: p50/p99 and
 *      CPU per request as below (autocannon's own process not counted).
 *    CPU per call: this process (process.cpuUsage: the api's event loop and SQLite's trace reader
 *    worker) and the PostgreSQL cluster (/proc, postgres-lib's clusterCpuSeconds). CPU time is steady
 *    on a shared machine, wall time is not. The first answer of each target is compared byte for byte.
 *
 * Usage: node -r ts-node/register/transpile-only bench/api/pg-service-time.ts [N=150000 [REPEAT=300 [MODE=service|http|cannon]]]
 * BENCH_ONLY=postgres|sqlite runs one side, BENCH_ROUTES=port,acl some routes (for `node --cpu-prof`). BENCH_PG_DIR=folder keeps the
 * cluster there, loaded and running, and the next run with the same folder reuses it (`scripts/pg-cluster
 * stop folder` when done).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, get } from 'node:http';
import { Session } from 'node:inspector';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { INestApplication } from '@nestjs/common';
import type { QueryConfig } from 'pg';
import { createApp } from '../../src/bootstrap';
import { LogicalFlowsService } from '../../src/logical-flows/logical-flows.service';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { StoreService } from '../../src/storage/store.service';
import { TracesService } from '../../src/traces/traces.service';
import { offlineAppConfig, targets } from './app-config';
import { cannon, CannonResult } from './cannon';
import { dbFile, doneFile, generate } from './generate';
import { clusterCpuSeconds, countQueries, pgQuery, type QueryCounts, startCluster, stopCluster } from './postgres-lib';
import { copyHistory } from './copy-history';

const N = Number(process.argv[2] ?? 150_000);
const REPEAT = Number(process.argv[3] ?? 300);
const MODE = (process.argv[4] ?? 'service') as 'service' | 'http' | 'cannon';
/** MODE=cannon: autocannon (cannon.ts, its own process) at this many connections, SECONDS a route. */
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ONLY = process.env.BENCH_ONLY ?? '';
/** Requests whose statements are kept in the JSON (text, values), per route. */
const KEEP = Number(process.env.BENCH_KEEP_STATEMENTS ?? 1);
const ROUTES = (process.env.BENCH_ROUTES ?? '').split(',').filter(Boolean);
/** BENCH_CPU_PROF=folder (cannon mode): the main thread's CPU profile of each measured run, named label-route-requests.cpuprofile (prof-summary.ts reads it). */
const PROFILE_DIR = process.env.BENCH_CPU_PROF ?? '';
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);


/** The app's own settings from this process's environment (LIVETRACE_PG_POOL=2, LIVETRACE_READ_WORKERS=…): what a run varies. */
const appEnv = (): Record<string, string> =>
  Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('LIVETRACE_') && e[1] !== undefined));

type Call = (i: number) => Promise<string | Buffer>;

/** What one request of each route costs on this app, and its first answers (for the comparison). */
async function measure(app: INestApplication, label: string, t: ReturnType<typeof targets>, pgDir: string | undefined) {
  const traces = app.get(TracesService);
  const audits = app.get(LogicalFlowsService);
  const paths: Record<string, (i: number) => string> = {
    port: (i) => `/traces?logical_port=${t.ports[i % t.ports.length]}`,
    dpgroup: (i) => `/logical-flows/${t.dpGroup[i % t.dpGroup.length]}/datapath-flows`,
    portflow: (i) => `/logical-flows/${t.portFlows[i % t.portFlows.length]}/datapath-flows`,
    acl: (i) => `/northbound/ACL/${t.acls[i % t.acls.length]}/datapath-flows`,
  };
  let calls: Record<string, Call>;
  if (MODE === 'cannon') return { res: await cannonAll(app, label, t, paths, pgDir), answers: new Map<string, string>(), statements: {} };
  if (MODE === 'http') {
    const port = 21000 + Math.floor(Math.random() * 2000);
    await app.listen(port, '127.0.0.1');
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const fetchOne = (path: string) =>
      new Promise<Buffer>((resolve, reject) =>
        get({ host: '127.0.0.1', port, path, agent }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`${path}: ${res.statusCode}`))));
        }).on('error', reject),
      );
    calls = Object.fromEntries(Object.entries(paths).map(([k, p]) => [k, (i: number) => fetchOne(p(i))]));
  } else {
    calls = {
      port: (i) => traces.listJson({ logicalPort: t.ports[i % t.ports.length], limit: 50, withSteps: false }),
      dpgroup: (i) => audits.datapathFlowsJson(t.dpGroup[i % t.dpGroup.length], undefined, 50),
      portflow: (i) => audits.datapathFlowsJson(t.portFlows[i % t.portFlows.length], undefined, 50),
      acl: (i) => audits.northboundFlowsJson('ACL', t.acls[i % t.acls.length], undefined, 50),
    };
  }
  // Statements (round trips) and rows per request on PostgreSQL: counted on the api's pool.
  const pool = app.get(StoreService).central?.pool;
  const counted: QueryCounts = pool ? countQueries(pool) : { statements: 0, rows: 0 };
  const statements: Record<string, QueryConfig[]> = {};
  const res: Record<string, { apiCpuMs: number; pgCpuMs: number | null; cpuMs: number; wallMs?: number; bytes?: number; statements?: number; rows?: number; load1: number }> = {};
  const answers = new Map<string, string>();
  for (const [name, fn] of Object.entries(calls)) {
    if (ROUTES.length && !ROUTES.includes(name)) continue;
    // A warm-up pass over the same targets (caches: PostgreSQL's buffers, SQLite's pages, the JIT);
    // its first 30 answers are compared.
    for (let i = 0; i < REPEAT; i++) {
      if (i === 1) counted.keep = statements[name] = [];
      if (i === 1 + KEEP) counted.keep = undefined;
      const body = await fn(i);
      if (i < 30) answers.set(`${name} ${i}`, String(body));
    }
    counted.statements = counted.rows = 0;
    const pg0 = pgDir ? clusterCpuSeconds(pgDir) : 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < REPEAT; i++) bytes += (await fn(i)).length;
    const wallMs = (performance.now() - t0) / REPEAT;
    const c = process.cpuUsage(cpu0);
    const apiCpuMs = (c.user + c.system) / 1000 / REPEAT;
    const pgCpuMs = pgDir ? ((clusterCpuSeconds(pgDir) - pg0) * 1000) / REPEAT : null;
    res[name] = { apiCpuMs, pgCpuMs, cpuMs: apiCpuMs + (pgCpuMs ?? 0), wallMs, bytes: Math.round(bytes / REPEAT), statements: counted.statements / REPEAT, rows: counted.rows / REPEAT, load1: loadavg()[0] };
    log(label, name, JSON.stringify(res[name]));
  }
  return { res, answers, statements };
}

/** Starts this thread's CPU profiler; the function returned stops it and writes the profile. */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 250 });
  await post('Profiler.start');
  return async (file) => {
    const { profile } = (await post('Profiler.stop')) as { profile: object };
    mkdirSync(PROFILE_DIR, { recursive: true });
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

/** Every route under autocannon: latency at CONNECTIONS, and CPU per request (this process + the cluster). */
async function cannonAll(app: INestApplication, label: string, t: ReturnType<typeof targets>, paths: Record<string, (i: number) => string>, pgDir: string | undefined) {
  const port = 21000 + Math.floor(Math.random() * 2000);
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const n = { port: t.ports.length, dpgroup: t.dpGroup.length, portflow: t.portFlows.length, acl: t.acls.length } as Record<string, number>;
  const out: Record<string, CannonResult & { apiCpuMs: number; pgCpuMs: number | null; cpuMs: number; load1: number }> = {};
  for (const [name, path] of Object.entries(paths)) {
    if (ROUTES.length && !ROUTES.includes(name)) continue;
    const list = Array.from({ length: Math.min(n[name], 300) }, (_, i) => path(i));
    await cannon(url, list, { duration: 2, connections: CONNECTIONS }); // warm-up
    const prof = PROFILE_DIR ? await startProfile() : undefined;
    const pg0 = pgDir ? clusterCpuSeconds(pgDir) : 0;
    const cpu0 = process.cpuUsage();
    const r = await cannon(url, list, { duration: SECONDS, connections: CONNECTIONS, seed: 11 + CONNECTIONS });
    const c = process.cpuUsage(cpu0);
    if (prof) await prof(join(PROFILE_DIR, `${label}-${name}-${r.requests}.cpuprofile`));
    const apiCpuMs = (c.user + c.system) / 1000 / r.requests;
    const pgCpuMs = pgDir ? ((clusterCpuSeconds(pgDir) - pg0) * 1000) / r.requests : null;
    out[name] = { ...r, apiCpuMs, pgCpuMs, cpuMs: apiCpuMs + (pgCpuMs ?? 0), load1: loadavg()[0] };
    log(label, name, JSON.stringify(out[name]));
  }
  return out;
}

async function main() {
  if (!existsSync(doneFile(N))) await generate(N);
  const file = dbFile(N);
  const ro = new Database(file, { readonly: true });
  const t = targets(ro);
  ro.close();
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-pg-service-time-'));
  chmodSync(dir, 0o755); // the cluster's folder inside runs as the postgres user
  const kept = process.env.BENCH_PG_DIR;
  const pgDir = kept ?? join(dir, 'pg');
  const out: Record<string, unknown> = { n: N, repeat: REPEAT, mode: MODE, startedAt: new Date().toISOString(), startLoad: loadavg() };
  const withPg = ONLY !== 'sqlite';
  try {
    let url = '';
    if (withPg && kept && existsSync(join(kept, `loaded-${N}`))) {
      url = execFileSync(join(__dirname, '../../scripts/pg-cluster'), ['start', kept], { encoding: 'utf8' }).trim().split('\n').pop()!;
      log(`PostgreSQL ${url}: reused (${kept})`);
    } else if (withPg) {
      if (kept) mkdirSync(kept, { recursive: true, mode: 0o755 });
      url = await startCluster(pgDir);
      const t0 = performance.now();
      const ds = await openPostgres(url, 2);
      out.copied = await copyHistory(file, poolOf(ds));
      await ds.destroy();
      await pgQuery(url, 'VACUUM (ANALYZE)');
      out.copySeconds = (performance.now() - t0) / 1000;
      if (kept) writeFileSync(join(kept, `loaded-${N}`), url);
      log(`PostgreSQL ${url}: history copied in ${Number(out.copySeconds).toFixed(0)} s`, JSON.stringify(out.copied));
    }
    const sides: Array<['postgres' | 'sqlite', string]> = [
      ['postgres', url],
      ['sqlite', file],
    ];
    const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
    for (const [side, db] of sides) {
      if (ONLY && ONLY !== side) continue;
      const app = await createApp(offlineAppConfig({ ...appEnv(), LIVETRACE_DB: db, LIVETRACE_SPOOL: join(dir, `spool-${side}.sqlite`), LIVETRACE_ROLE: 'api' }));
      results[side] = await measure(app, side, t, side === 'postgres' ? pgDir : undefined);
      await app.close();
    }
    out.results = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.res]));
    // KEEP requests' statements per route on PostgreSQL (text and values), for EXPLAIN or replay.
    out.statements = results.postgres?.statements;
    const { postgres: pg, sqlite: lite } = results;
    if (pg && lite) {
      const differ = [...pg.answers.keys()].filter((k) => pg.answers.get(k) !== lite.answers.get(k));
      out.sameAnswers = { compared: pg.answers.size, differ: differ.length, firstDiffering: differ.slice(0, 5) };
      log('answers', JSON.stringify(out.sameAnswers));
      const f = (x: number | null) => (x === null ? '-' : x.toFixed(2));
      const lat = MODE === 'cannon' ? `p50 / p99 ms PG, SQLite at ${CONNECTIONS}` : 'wall ms PG / SQLite';
      console.log(`\nCPU ms per request, N=${N}, ${MODE === 'cannon' ? `${SECONDS} s` : `${REPEAT} calls`}, ${MODE}\n| route | PostgreSQL: api + server = total | SQLite | total PG / SQLite | ${lat} |\n|---|---|---|---|---|`);
      for (const k of Object.keys(pg.res)) {
        const a = pg.res[k] as Record<string, number>;
        const b = lite.res[k] as Record<string, number>;
        const l = MODE === 'cannon' ? `${a.p50} / ${a.p99}, ${b.p50} / ${b.p99}` : `${f(a.wallMs)} / ${f(b.wallMs)}`;
        console.log(`| ${k} | ${f(a.apiCpuMs)} + ${f(a.pgCpuMs)} = ${f(a.cpuMs)} | ${f(b.cpuMs)} | ${(a.cpuMs / b.cpuMs).toFixed(2)} | ${l} |`);
      }
    }
  } finally {
    if (withPg && !kept) stopCluster(pgDir);
    out.endLoad = loadavg();
    writeFileSync(join(__dirname, `results-pg-service-time-${N}-${MODE}.json`), JSON.stringify(out, null, 2));
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
