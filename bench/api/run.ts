/**
 * bench/api: the store at a million traces.
 *
 * 1. The history (generate.ts): N traces through the writer, reused from bench/data when present.
 * 2. Size on disk and per table (dbstat).
 * 3. The real app (createApp, poller off, OVN unreachable) on that database, loopback, autocannon
 *    in a child process (1, 4 and 8 connections, random targets per request): port query, trace,
 *    path, the logical-flow audit (a DP-group flow in nearly every trace, and port-specific flows)
 *    and the ACL audit.
 * 4. (The baseline of the first schema's SQL is gone with that schema: its numbers stay in RESULTS.md.)
 * 5. The live pipeline's write path (one writer job per pass, as the tracer) alone, then while a
 *    query load runs.
 * 6. Retention on a copy: prune the oldest 100k traces in batches (RETENTION_BATCH), through the writer.
 *
 * Usage: npm run bench:api [-- N=1000000 [SECONDS=15]]
 */
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createApp } from '../../src/bootstrap';
import { pruneBatch, rowLimitCut } from '../../src/retention/retention';
import { RETENTION_BATCH } from '../../src/retention/retention.service';
import { StoreService } from '../../src/storage/store.service';
import { StoreWriter } from '../../src/storage/writer';
import { TracesService } from '../../src/traces/traces.service';
import { TraceStore } from '../../src/traces/trace-store';
import { PathStore } from '../../src/paths/path-store';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { cannon, CannonResult } from './cannon';
import { historyAppConfig, targets } from './app-config';
import { DATA, dbFile, doneFile, generate } from './generate';
import { load, openStore } from './load';
import { World } from './world';

const N = Number(process.argv[2] ?? 1_000_000);
const SECONDS = Number(process.argv[3] ?? 15);
const out: Record<string, unknown> = { n: N, seconds: SECONDS, startLoad: loadavg() };

function pct(xs: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] };
}

function timeIt(n: number, fn: (i: number) => unknown): ReturnType<typeof pct> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn(i);
    xs.push(performance.now() - t);
  }
  return pct(xs);
}

async function http(t: ReturnType<typeof targets>) {
  const port = 18000 + Math.floor(Math.random() * 2000);
  const config = historyAppConfig(N);
  const app = await createApp(config);
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const res: Record<string, CannonResult | unknown> = {};
  const scenarios: Record<string, string[]> = {
    'GET /traces?logical_port=…': t.ports.map((p) => `/traces?logical_port=${p}`),
    'GET /traces?logical_port=…&role=inport&limit=500': t.ports.map((p) => `/traces?logical_port=${p}&role=inport&limit=500`),
    'GET /traces/:id': t.traceIds.map((id) => `/traces/${id}`),
    'GET /paths/:id': t.pathIds.map((id) => `/paths/${id}`),
    'GET /logical-flows/:uuid/datapath-flows (DP-group flow)': t.dpGroup.map((u) => `/logical-flows/${u}/datapath-flows`),
    'GET /logical-flows/:uuid/datapath-flows (port flow)': t.portFlows.map((u) => `/logical-flows/${u}/datapath-flows`),
    'GET /northbound/ACL/:uuid/datapath-flows': t.acls.map((u) => `/northbound/ACL/${u}/datapath-flows`),
  };
  for (const [name, paths] of Object.entries(scenarios)) {
    await cannon(url, paths.slice(0, 50), { duration: 2 }); // warm the page cache for this route
    // 1 connection: one request alone; 4 and 8 queue on the one event loop.
    for (const connections of [1, 4, 8]) {
      const key = `${name} [${connections}]`;
      res[key] = { ...(await cannon(url, paths, { duration: SECONDS, connections, seed: 11 + connections })), load1: loadavg()[0] };
      console.log(key, JSON.stringify(res[key]));
    }
  }

  // The live write path, alone and under a query load.
  const store = app.get(StoreService);
  const traces = app.get(TracesService);
  const world = new World({ tenants: 20, seed: 9 });
  const writeRun = () => {
    const now = Date.now();
    return load(store.writer, { traces: app.get(TraceStore), flows: app.get(DatapathFlowStore), paths: app.get(PathStore) }, world, { traces: 20_000, tenants: 20, chassis: 'hv1', start: now, end: now + 1, seed: Date.now() & 0xffff, window: 2000 });
  };
  for (let t0 = 0; t0 < 20; t0++) for (let i = 0; i < world.templates.length; i++) world.reply(i, t0);
  res.writeAlone = { ...(await writeRun()), load1: loadavg()[0] };
  const mixed = [...scenarios['GET /traces?logical_port=…'], ...scenarios['GET /traces/:id'].slice(0, 300), ...scenarios['GET /northbound/ACL/:uuid/datapath-flows']];
  const during = cannon(url, mixed, { duration: 30 });
  await new Promise((r) => setTimeout(r, 1000));
  res.writeUnderQueries = { ...(await writeRun()), load1: loadavg()[0] };
  res.queriesDuringWrites = await during;
  console.log('writes', JSON.stringify({ alone: res.writeAlone, under: res.writeUnderQueries, queries: res.queriesDuringWrites }));
  await app.close();
  return res;
}

async function retention() {
  const copy = join(DATA, `api-${N}-prune.sqlite`);
  for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(f, { force: true });
  copyFileSync(dbFile(N), copy);
  const { ds, db } = await openStore(copy);
  db.exec('UPDATE datapath_flow SET removed_at = last_seen WHERE removed_at IS NULL'); // a history: its lifetimes have ended
  db.pragma('wal_checkpoint(TRUNCATE)');
  const writer = new StoreWriter(db);
  const handles = { db, writer };
  const stores = { traces: new TraceStore(handles), paths: new PathStore(handles as unknown as StoreService), flows: new DatapathFlowStore(handles) };
  const keep = N - 100_000;
  const t0 = performance.now();
  const limits = { before: null, maxPrunedId: await writer.submit((tx) => rowLimitCut(tx, stores, keep)) };
  const batchMs: number[] = [];
  let traces = 0;
  let flows = 0;
  let paths = 0;
  for (;;) {
    const b0 = performance.now();
    const r = await writer.submit((tx) => pruneBatch(tx, stores, limits, RETENTION_BATCH));
    batchMs.push(performance.now() - b0);
    if (!r.traces) break;
    traces += r.traces;
    flows += r.datapathFlows;
    paths += r.paths;
  }
  const seconds = (performance.now() - t0) / 1000;
  const left = (db.prepare('SELECT count(*) AS n FROM trace').get() as { n: number }).n;
  await ds.destroy();
  for (const f of [copy, `${copy}-wal`, `${copy}-shm`]) rmSync(f, { force: true });
  return { traces, paths, datapathFlows: flows, seconds, tracesPerS: traces / seconds, batch: pct(batchMs), left };
}

/** Puts the history back as generated: the write measurements add traces to it. */
function dropWritesAbove(file: string, traces: number, flows: number): void {
  const db = new Database(file);
  db.transaction(() => {
    // Citation bits of traces above `traces`: whole buckets go, the boundary bucket is masked.
    db.prepare('DELETE FROM trace_citation WHERE bucket > ?').run(traces >> 5);
    db.prepare('UPDATE trace_citation SET bits = bits & ? WHERE bucket = ?').run(2 ** ((traces & 31) + 1) - 1, traces >> 5);
    db.prepare('DELETE FROM trace_citation WHERE bits = 0').run();
    db.prepare('DELETE FROM trace_port WHERE trace_id > ?').run(traces);
    const paths = db.prepare('SELECT DISTINCT path_id FROM trace WHERE id > ?').all(traces) as Array<{ path_id: number }>;
    db.prepare('DELETE FROM trace WHERE id > ?').run(traces);
    for (const p of paths) db.prepare('DELETE FROM path WHERE id = ? AND NOT EXISTS (SELECT 1 FROM trace WHERE path_id = ?)').run(p.path_id, p.path_id);
    db.prepare('DELETE FROM recirc_edge WHERE parent_id > ? OR child_id > ?').run(flows, flows);
    db.prepare('DELETE FROM datapath_flow WHERE id > ?').run(flows);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function main() {
  if (!existsSync(doneFile(N))) out.generated = await generate(N);
  out.history = JSON.parse(readFileSync(doneFile(N), 'utf8'));
  const file = dbFile(N);
  const h = out.history as { counts: { trace: number; datapath_flow: number } };
  dropWritesAbove(file, h.counts.trace, h.counts.datapath_flow);
  const ro = new Database(file, { readonly: true });
  out.bytes = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
  out.tables = ro.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 14').all();
  const t = targets(ro);
  out.targets = t.citedCounts;
  ro.close();
  out.http = await http(t);
  dropWritesAbove(file, h.counts.trace, h.counts.datapath_flow);
  out.retention = await retention();
  console.log('retention', JSON.stringify(out.retention));
  out.endLoad = loadavg();
  writeFileSync(join(__dirname, `results-${N}.json`), JSON.stringify(out, null, 2));
  console.log(`wrote bench/api/results-${N}.json`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
