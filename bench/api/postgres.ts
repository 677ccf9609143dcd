/**
 * bench/api on PostgreSQL (issue 19), beside SQLite on the same history, in one run:
 *
 * 1. A PostgreSQL cluster of the bench's own (scripts/pg-cluster, settings in postgres-lib.ts).
 * 2. Load: three agents (postgres-agent.ts, one process each, each with its own SQLite spool, the real
 *    StoreService, writer and shipper) write N/3 traces each at once, generate.ts's history (one
 *    writer job per pass, as the tracer); the rate is counted when the rows are committed in
 *    PostgreSQL (the agent's shipper synced), together and per agent, and sampled on the way.
 * 3. The same history as one SQLite file (the spools' rows, same ids), size of both on disk.
 * 4. The app as an api instance on PostgreSQL, then on SQLite: `GET /traces?logical_port=…` and the
 *    audits (logical flow: DP-group and port flows; ACL), autocannon at 1, 4 and 8 connections,
 *    side by side with ratios; the first answers compared byte for byte; EXPLAIN (ANALYZE) of the SQL
 *    the api sent on PostgreSQL (custom and generic plans), indexes used, big-table seq scans.
 * 5. Retention: the oldest PRUNE traces, on SQLite through the retention code, on PostgreSQL in
 *    each agent's spool (PRUNE/3 each, at once) shipped as batched deletes, until committed there.
 *
 * Usage: npm run bench:api-pg [-- N=1000000 [SECONDS=8 [PRUNE=100000]]]
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { INestApplication } from '@nestjs/common';
import { createApp } from '../../src/bootstrap';
import { offlineAppConfig } from './app-config';
import { pruneBatch, rowLimitCut } from '../../src/retention/retention';
import { RETENTION_BATCH } from '../../src/retention/retention.service';
import { StoreService } from '../../src/storage/store.service';
import { StoreWriter } from '../../src/storage/writer';
import { cannon, CannonResult } from './cannon';
import { loadStores, openStore } from './load';
import { Agent, clusterCpuSeconds, explain, fileBytes, loadPhase, mergeSpools, pgQuery, recordQueries, SETTINGS, slotTargets, startCluster, stopCluster } from './postgres-lib';

const N = Number(process.argv[2] ?? 1_000_000);
const SECONDS = Number(process.argv[3] ?? 8);
const PRUNE = Number(process.argv[4] ?? Math.min(100_000, Math.floor(N / 10)));
const AGENTS = 3;
const DIR = mkdtempSync(join(tmpdir(), 'livetrace-bench-pg-'));
const out: Record<string, unknown> = { n: N, seconds: SECONDS, prune: PRUNE, agents: AGENTS, pgSettings: SETTINGS, startLoad: loadavg(), startedAt: new Date().toISOString() };
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

function apiConfig(db: string, spool: string) {
  return offlineAppConfig({ LIVETRACE_DB: db, LIVETRACE_SPOOL: spool, LIVETRACE_ROLE: 'api' });
}

async function pgSize(url: string) {
  await pgQuery(url, 'CHECKPOINT');
  const [db] = await pgQuery<{ b: number }>(url, 'SELECT pg_database_size(current_database()) AS b');
  const tables = await pgQuery(
    url,
    `SELECT c.relname AS name, c.relkind AS kind, pg_total_relation_size(c.oid) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 16`,
  );
  return { bytes: Number(db.b), tables };
}

type Scenarios = Record<string, string[]>;

async function serve(app: INestApplication): Promise<string> {
  const port = 18000 + Math.floor(Math.random() * 2000);
  await app.listen(port, '127.0.0.1');
  return `http://127.0.0.1:${port}`;
}

/** A sample of each route's answers (status + body), to compare the two stores byte for byte. */
async function answers(url: string, sc: Scenarios): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const paths of Object.values(sc))
    for (const p of paths.slice(0, 15)) {
      const r = await fetch(url + p);
      out.set(p, `${r.status} ${await r.text()}`);
    }
  return out;
}

async function measure(label: string, url: string, sc: Scenarios) {
  const res: Record<string, CannonResult & { load1: number }> = {};
  for (const [name, paths] of Object.entries(sc)) {
    await cannon(url, paths.slice(0, 50), { duration: 2 }); // warm caches for this route
    for (const connections of [1, 4, 8]) {
      const key = `${name} [${connections}]`;
      res[key] = { ...(await cannon(url, paths, { duration: SECONDS, connections, seed: 11 + connections })), load1: loadavg()[0] };
      log(label, key, JSON.stringify(res[key]));
    }
  }
  return res;
}

async function explainAll(url: string, app: INestApplication, base: string, sc: Scenarios) {
  const pool = app.get(StoreService).central!.pool;
  const { rows } = await pool.query('SHOW jit');
  const jit = String(rows[0].jit);
  const rec = recordQueries(pool);
  const big = new Map((await pgQuery<{ relname: string; n: number }>(url, `SELECT relname, reltuples::bigint AS n FROM pg_class WHERE relkind = 'r'`)).map((r) => [r.relname, Number(r.n)]));
  const out: Record<string, unknown[]> = {};
  for (const [name, paths] of Object.entries(sc)) {
    rec.on();
    await (await fetch(base + paths[1])).text();
    const qs = rec.off();
    out[name] = [];
    for (const q of qs) out[name].push(await explain(url, q, big, jit).catch((e: Error) => ({ sql: q.text.slice(0, 200), error: e.message })));
  }
  return out;
}

async function sqliteRetention(file: string, total: number) {
  const { ds, db } = await openStore(file);
  db.exec('UPDATE datapath_flow SET removed_at = last_seen WHERE removed_at IS NULL');
  db.pragma('wal_checkpoint(TRUNCATE)');
  const writer = new StoreWriter(db);
  const stores = loadStores({ db, writer });
  const t0 = performance.now();
  const limits = { before: null, maxPrunedId: await writer.submit((tx) => rowLimitCut(tx, stores, total - PRUNE)) };
  let traces = 0;
  for (;;) {
    const r = await writer.submit((tx) => pruneBatch(tx, stores, limits, RETENTION_BATCH));
    if (!r.traces) break;
    traces += r.traces;
  }
  const seconds = (performance.now() - t0) / 1000;
  await ds.destroy();
  return { traces, seconds, perS: traces / seconds };
}

async function pgRetention(url: string, agents: Agent[], pgDir: string) {
  for (const a of agents) a.send({ cmd: 'end-lifetimes' });
  await Promise.all(agents.map((a) => a.wait('ended')));
  const e0 = performance.now();
  await pgQuery(url, 'UPDATE datapath_flow SET removed_at = last_seen WHERE removed_at IS NULL');
  await pgQuery(url, 'VACUUM datapath_flow');
  const endLifetimesSeconds = (performance.now() - e0) / 1000;
  const pgCpu0 = clusterCpuSeconds(pgDir);
  const t0 = performance.now();
  for (const a of agents) a.send({ cmd: 'retention', prune: Math.floor(PRUNE / AGENTS) });
  const pruned = await Promise.all(agents.map((a) => a.wait('pruned')));
  const seconds = (performance.now() - t0) / 1000;
  const traces = pruned.reduce((n, p) => n + Number(p.traces), 0);
  return { traces, seconds, perS: traces / seconds, pgCpuSeconds: clusterCpuSeconds(pgDir) - pgCpu0, endLifetimesSeconds, perAgent: pruned };
}

function sideBySide(pg: Record<string, CannonResult>, lite: Record<string, CannonResult>): string[] {
  const lines = ['| route [connections] | PostgreSQL p50 / p99 ms (req/s) | SQLite p50 / p99 ms (req/s) | p99 PG/SQLite | non-2xx PG / SQLite |', '|---|---|---|---|---|'];
  for (const k of Object.keys(pg)) {
    const a = pg[k];
    const b = lite[k];
    const f = (x: CannonResult) => `${x.p50} / ${x.p99} (${Math.round(x.perS)}/s)`;
    lines.push(`| ${k} | ${f(a)} | ${b ? f(b) : '-'} | ${b ? (a.p99 / Math.max(b.p99, 1)).toFixed(2) : '-'} | ${a.non2xx} / ${b?.non2xx ?? '-'} |`);
  }
  return lines;
}

async function main() {
  log(`bench dir ${DIR}`);
  chmodSync(DIR, 0o755); // the cluster's folder inside runs as the postgres user
  const url = await startCluster(join(DIR, 'pg'));
  log(`PostgreSQL ${url}`);
  const spools = Array.from({ length: AGENTS }, (_, i) => join(DIR, `spool-hv${i + 1}.sqlite`));
  const per = Math.ceil(N / AGENTS);
  const agents = spools.map(
    (spool, i) =>
      new Agent(`hv${i + 1}`, { BENCH_PG_URL: url, BENCH_SPOOL: spool, BENCH_CHASSIS: `hv${i + 1}`, BENCH_INDEX: String(i), BENCH_AGENTS: String(AGENTS), BENCH_TRACES: String(per) }),
  );
  try {
    out.load = await loadPhase(url, agents, join(DIR, 'pg'), log);
    const v0 = performance.now();
    out.pgAsLoaded = await pgSize(url);
    await pgQuery(url, 'VACUUM (ANALYZE)');
    out.pgVacuumAnalyzeSeconds = (performance.now() - v0) / 1000;
    out.pg = await pgSize(url);
    out.spoolBytes = spools.map(fileBytes);
    log('PostgreSQL size', JSON.stringify(out.pg));

    const lite = join(DIR, 'merged.sqlite');
    out.merge = await mergeSpools(lite, spools);
    out.sqliteBytes = fileBytes(lite);
    const ro = new Database(lite, { readonly: true });
    out.sqliteTables = ro.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 16').all();
    const t = slotTargets(ro, agents.map((a) => a.slot));
    ro.close();
    out.targets = t.citedCounts;
    log(`SQLite copy: ${out.sqliteBytes} bytes, merged in ${(out.merge as { seconds: number }).seconds.toFixed(0)} s`);

    const sc: Scenarios = {
      'GET /traces?logical_port=…': t.ports.map((p) => `/traces?logical_port=${p}`),
      'logical-flow audit, DP-group flow': t.dpGroup.map((u) => `/logical-flows/${u}/datapath-flows`),
      'logical-flow audit, port flow': t.portFlows.map((u) => `/logical-flows/${u}/datapath-flows`),
      'ACL audit': t.acls.map((u) => `/northbound/ACL/${u}/datapath-flows`),
    };
    // Compared and explained, not timed: the DP-group walk of GET /traces (citesSql's probe).
    const checked: Scenarios = { ...sc, 'GET /traces?logical_flow=… (DP-group flow)': t.dpGroup.map((u) => `/traces?logical_flow=${u}`) };
    const pgApp = await createApp(apiConfig(url, join(DIR, 'api-spool.sqlite')));
    const pgUrl = await serve(pgApp);
    const pgAnswers = await answers(pgUrl, checked);
    out.httpPg = await measure('pg', pgUrl, sc);
    out.explain = await explainAll(url, pgApp, pgUrl, checked);
    await pgApp.close();
    const liteApp = await createApp(apiConfig(lite, join(DIR, 'unused-spool.sqlite')));
    const liteUrl = await serve(liteApp);
    const liteAnswers = await answers(liteUrl, checked);
    out.httpSqlite = await measure('sqlite', liteUrl, sc);
    await liteApp.close();
    const differ = [...pgAnswers.keys()].filter((k) => pgAnswers.get(k) !== liteAnswers.get(k));
    out.sameAnswers = { compared: pgAnswers.size, differ: differ.length, firstDiffering: differ.slice(0, 5), statuses: [...new Set([...pgAnswers.values()].map((v) => v.slice(0, 3)))] };
    log('answers', JSON.stringify(out.sameAnswers));

    out.retentionSqlite = await sqliteRetention(lite, Number((out.load as { traces: number }).traces));
    log('retention sqlite', JSON.stringify(out.retentionSqlite));
    out.retentionPg = await pgRetention(url, agents, join(DIR, 'pg'));
    log('retention pg', JSON.stringify(out.retentionPg));
    out.pgAfterRetention = await pgSize(url);
    console.log(sideBySide(out.httpPg as Record<string, CannonResult>, out.httpSqlite as Record<string, CannonResult>).join('\n'));
  } finally {
    for (const a of agents) if (a.proc.exitCode === null) a.send({ cmd: 'stop' });
    // An agent busy in a step when something failed does not read 'stop': it is ended after a minute.
    await Promise.all(
      agents.map((a) =>
        a.proc.exitCode === null
          ? new Promise((r) => {
              const kill = setTimeout(() => a.proc.kill('SIGKILL'), 60_000);
              a.proc.once('exit', () => r(clearTimeout(kill)));
            })
          : null,
      ),
    );
    stopCluster(join(DIR, 'pg'));
    out.endLoad = loadavg();
    out.endedAt = new Date().toISOString();
    writeFileSync(join(__dirname, `results-postgres-${N}.json`), JSON.stringify(out, null, 2));
    log(`wrote bench/api/results-postgres-${N}.json`);
    if (!process.env.BENCH_KEEP) rmSync(DIR, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
