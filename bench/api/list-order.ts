/**
 * `GET /traces` pages newest first by time (trace time, then id) against the order by id before it
 * (issue 19: ids order one writer's traces only). CPU per call, in process (TracesService.listJson:
 * the reader thread's query and JSON), of the port's first and second page and the walks with a
 * filter in SQL per row (verdict, chassis, a DP-group logical flow cited by nearly every trace, i.e.
 * the 'many' walk) or an index range (since/until), on one side, SQLite or PostgreSQL.
 *
 * Run from a work tree at each revision, one after the other, interleaved (the data is generate.ts's
 * history, bench/data/api-N.sqlite of that tree, migrated by the app at its revision):
 *   node -r ts-node/register/transpile-only bench/api/list-order.ts N REPEAT sqlite|postgres LABEL
 * postgres: a cluster of its own in BENCH_PG_DIR (loaded once from the SQLite file, reused after;
 * `scripts/pg-cluster stop DIR` when done). Appends one line of JSON to bench/data/list-order.ndjson.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createApp } from '../../src/bootstrap';
import * as query from '../../src/common/query';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { TracesService, type TraceFilter } from '../../src/traces/traces.service';
import { offlineAppConfig, targets } from './app-config';
import { dbFile } from './generate';
import { clusterCpuSeconds, pgQuery, startCluster } from './postgres-lib';
import { copyHistory } from './copy-history';

const N = Number(process.argv[2] ?? 150_000);
const REPEAT = Number(process.argv[3] ?? 200);
const SIDE = (process.argv[4] ?? 'sqlite') as 'sqlite' | 'postgres';
const LABEL = process.argv[5] ?? 'run';


/** The next page's filter from a `next`, as the controller reads it (the position cursor, or the id one before it). */
function after(next: string): Partial<TraceFilter> {
  const q = query as unknown as { traceCursor?: (q: object) => Partial<TraceFilter>; cursor: (q: object) => number | undefined };
  return q.traceCursor ? q.traceCursor({ cursor: next }) : { cursor: q.cursor({ cursor: next }) };
}

async function main() {
  const file = dbFile(N);
  const ro = new Database(file, { readonly: true });
  const t = targets(ro);
  ro.close();
  let db = file;
  let pgDir: string | undefined;
  if (SIDE === 'postgres') {
    pgDir = process.env.BENCH_PG_DIR!;
    if (existsSync(join(pgDir, `loaded-${N}`))) db = execFileSync(join(__dirname, '../../scripts/pg-cluster'), ['start', pgDir], { encoding: 'utf8' }).trim().split('\n').pop()!;
    else {
      mkdirSync(pgDir, { recursive: true, mode: 0o755 });
      chmodSync(pgDir, 0o755);
      db = await startCluster(pgDir);
      const ds = await openPostgres(db, 2);
      await copyHistory(file, poolOf(ds));
      await ds.destroy();
      await pgQuery(db, 'VACUUM (ANALYZE)');
      writeFileSync(join(pgDir, `loaded-${N}`), db);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-list-order-'));
  const app = await createApp(offlineAppConfig({ LIVETRACE_DB: db, LIVETRACE_SPOOL: join(dir, 'spool.sqlite'), LIVETRACE_ROLE: 'api' }));
  const traces = app.get(TracesService);
  const page = (f: Partial<TraceFilter>) => traces.listJson({ limit: 50, withSteps: false, ...f });
  // The port's second page starts from its first page's next (looked up once per target).
  const second = new Map<string, Partial<TraceFilter>>();
  for (const p of t.ports.slice(0, 50)) {
    const first = JSON.parse((await page({ logicalPort: p })).toString()) as { next: string | null };
    if (first.next) second.set(p, after(first.next));
  }
  const ports2 = [...second.keys()];
  const hour = (i: number) => new Date(Date.parse('2026-11-20T00:00:00Z') + (i % 160) * 3_600_000).toISOString();
  const routes: Record<string, (i: number) => Promise<Buffer>> = {
    port: (i) => page({ logicalPort: t.ports[i % t.ports.length] }),
    'port-page2': (i) => page({ logicalPort: ports2[i % ports2.length], ...second.get(ports2[i % ports2.length]) }),
    all: () => page({}),
    'verdict=drop': () => page({ verdict: 'drop' }),
    'verdict=controller': () => page({ verdict: 'controller' }),
    'chassis=hv1': () => page({ chassis: 'hv1' }),
    'logical_flow(many)': (i) => page({ logicalFlow: t.dpGroup[i % t.dpGroup.length] }),
    'since/until 1 h': (i) => page({ since: hour(i), until: hour(i + 1) }),
  };
  const res: Record<string, { cpuMs: number; apiCpuMs: number; pgCpuMs: number | null; wallMs: number; bytes: number }> = {};
  for (const [name, fn] of Object.entries(routes)) {
    for (let i = 0; i < Math.min(REPEAT, 50); i++) await fn(i);
    const pg0 = pgDir ? clusterCpuSeconds(pgDir) : 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < REPEAT; i++) bytes += (await fn(i)).length;
    const c = process.cpuUsage(cpu0);
    const apiCpuMs = (c.user + c.system) / 1000 / REPEAT;
    const pgCpuMs = pgDir ? ((clusterCpuSeconds(pgDir) - pg0) * 1000) / REPEAT : null;
    res[name] = { cpuMs: apiCpuMs + (pgCpuMs ?? 0), apiCpuMs, pgCpuMs, wallMs: (performance.now() - t0) / REPEAT, bytes: Math.round(bytes / REPEAT) };
    console.log(LABEL, SIDE, name, JSON.stringify(res[name]));
  }
  await app.close();
  rmSync(dir, { recursive: true, force: true });
  appendFileSync(join(__dirname, '../data/list-order.ndjson'), JSON.stringify({ at: new Date().toISOString(), n: N, repeat: REPEAT, side: SIDE, label: LABEL, load1: loadavg()[0], res }) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
