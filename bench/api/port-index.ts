/**
 * Whether PostgreSQL can do without idx_trace_port_name (port_name, trace_id) beside
 * idx_trace_port_time (port_name, created_at, trace_id) (issue 19, load target; RESULTS-postgres.md
 * "stop 26"). Every statement the api sends that reads trace_port by port name, recorded from the
 * app's own pool while it serves each case below, is explained (ANALYZE, BUFFERS; custom and
 * generic plan; warm: each run twice, the second kept) with the index, then again with it dropped
 * inside a transaction that is rolled back (one cluster, both schemas).
 *
 * Cases, for the busiest port and a median one of the history (and BENCH_HOT_PORT's, below): `GET /traces?logical_port=` (any,
 * inport, outport, page 2), the port stream's walk of a slot by id (trace-stream.service.ts `walk`:
 * cursor the slot's top, `above` the floor; live: the floor a tick's traces below the top; a quiet
 * port: the floor its own newest trace below the last 10 % of the history; a resume from 0), the 404
 * check (resolvePort → hasPort), a port's datapath flows and upcalls.
 *
 * The list runs in process (LIVETRACE_READ_WORKERS=0: the reader thread sends the same SQL from a pool
 * of its own, which this process cannot record).
 *
 * BENCH_HOT_PORT=name adds a port row of that name to every trace (once; the cluster keeps it):
 * the busiest port of generate.ts's history has ~500 rows at 150k, a router port of a busy network
 * has one in most traces.
 *
 * History: generate.ts's bench/data/api-N.sqlite (made if absent) copied into a cluster kept in
 * BENCH_PG_DIR (loaded once, as pg-service-time.ts loads it; `scripts/pg-cluster stop DIR` when done).
 *
 *   flock /tmp/livetrace-bench.lock env BENCH_PG_DIR=/tmp/… node -r ts-node/register/transpile-only bench/api/port-index.ts [N=150000]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, type QueryConfig } from 'pg';
import { createApp } from '../../src/bootstrap';
import { traceCursor } from '../../src/common/query';
import { DatapathFlowsService } from '../../src/datapath-flows/datapath-flows.service';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { StoreService } from '../../src/storage/store.service';
import { slotBase } from '../../src/traces/trace-slot-store';
import { TracesService } from '../../src/traces/traces.service';
import { UpcallsService } from '../../src/upcalls/upcalls.service';
import { offlineAppConfig } from './app-config';
import { copyHistory } from './copy-history';
import { dbFile, doneFile, generate } from './generate';
import { pgQuery, recordQueries, startCluster } from './postgres-lib';

const N = Number(process.argv[2] ?? 150_000);
const PG_DIR = process.env.BENCH_PG_DIR;
const ROOT = join(__dirname, '../..');
const INDEX = 'idx_trace_port_name';
/** BENCH_HOT_PORT=name: that port is added to every trace of the cluster's history, once (kept), and explained first. */
const HOT = process.env.BENCH_HOT_PORT ?? '';
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Index Cond'?: string;
  Filter?: string;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Heap Fetches'?: number;
  Plans?: PlanNode[];
}

/** One plan, short: each scan with its index, condition, rows and what it filtered away. */
function scans(n: PlanNode, out: string[] = []): string[] {
  const on = n['Index Name'] ?? n['Relation Name'];
  if (on) {
    const rows = (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1);
    const removed = n['Rows Removed by Filter'] ? `, ${n['Rows Removed by Filter'] * (n['Actual Loops'] ?? 1)} removed by filter` : '';
    out.push(`${n['Node Type']} ${on}${n['Index Cond'] ? ` [${n['Index Cond']}]` : ''}${n.Filter ? ` filter ${n.Filter}` : ''}: ${rows} rows × ${n['Actual Loops']} loops${removed}`);
  } else if (/Sort|Aggregate|Unique|Hash/.test(n['Node Type'])) out.push(n['Node Type']);
  for (const p of n.Plans ?? []) scans(p, out);
  return out;
}

const literal = (v: unknown): string =>
  Array.isArray(v)
    ? v.length === 0
      ? `'{}'`
      : `ARRAY[${v.map((x) => (typeof x === 'number' ? String(x) : `'${String(x).replace(/'/g, "''")}'`)).join(',')}]`
    : v === null
      ? 'NULL'
      : typeof v === 'number'
        ? String(v)
        : `'${String(v).replace(/'/g, "''")}'`;

/** EXPLAIN (ANALYZE, BUFFERS) of a statement as the api sent it, on `c` (its transaction, if any): the second of two runs. */
async function explainOn(c: Client, q: QueryConfig, generic: boolean) {
  await c.query(`SET plan_cache_mode = ${generic ? 'force_generic_plan' : 'force_custom_plan'}`);
  await c.query(`PREPARE port_q AS ${q.text}`);
  try {
    const args = (q.values ?? []).map(literal);
    const sql = `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE port_q${args.length ? `(${args.join(', ')})` : ''}`;
    await c.query(sql);
    const times: number[] = [];
    let plan: { Plan: PlanNode; 'Execution Time': number } | undefined;
    for (let i = 0; i < 5; i++) {
      plan = ((await c.query(sql)).rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode; 'Execution Time': number }>)[0];
      times.push(plan['Execution Time']);
    }
    const p = plan!;
    return {
      ms: [...times].sort((a, b) => a - b)[2],
      buffers: (p.Plan['Shared Hit Blocks'] ?? 0) + (p.Plan['Shared Read Blocks'] ?? 0),
      rows: p.Plan['Actual Rows'],
      scans: scans(p.Plan),
    };
  } finally {
    await c.query('DEALLOCATE port_q');
  }
}

/**
 * What the api's named statement runs once the plan cache has settled (plan_cache_mode = auto, as the
 * api's sessions run: from the sixth execution PostgreSQL may keep a generic plan): the plan's scans
 * and the wall time of one call, from the 9th to the 13th (this client's round trip included).
 */
async function settledOn(c: Client, q: QueryConfig) {
  // Sent unnamed (storage/sql.ts PLAN_EACH_CALL): planned for its values at every call, as the custom plan is.
  if (!q.name) await c.query('SET plan_cache_mode = force_custom_plan');
  else await c.query('SET plan_cache_mode = auto');
  await c.query(`PREPARE port_q AS ${q.text}`);
  try {
    const args = (q.values ?? []).map(literal);
    const run = `EXECUTE port_q${args.length ? `(${args.join(', ')})` : ''}`;
    for (let i = 0; i < 8; i++) await c.query(run);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await c.query(run);
    const ms = (performance.now() - t0) / 5;
    const lines = (await c.query(`EXPLAIN ${run}`)).rows.map((r: Record<string, string>) => r['QUERY PLAN']);
    return { ms, generic: lines.some((l) => /\$\d/.test(l)), plan: lines.filter((l) => /Scan|Sort/.test(l)).map((l) => l.trim().replace(/^->\s*/, '').replace(/\s+\(cost.*$/, '')) };
  } finally {
    await c.query('DEALLOCATE port_q');
  }
}

async function cluster(): Promise<string> {
  if (!PG_DIR) throw new Error('BENCH_PG_DIR=folder: the cluster is kept there');
  if (existsSync(join(PG_DIR, `loaded-${N}`))) return execFileSync(join(ROOT, 'scripts/pg-cluster'), ['start', PG_DIR], { encoding: 'utf8' }).trim().split('\n').pop()!;
  if (!existsSync(doneFile(N))) await generate(N);
  mkdirSync(PG_DIR, { recursive: true, mode: 0o755 });
  const url = await startCluster(PG_DIR);
  const t0 = performance.now();
  const ds = await openPostgres(url, 2);
  const copied = await copyHistory(dbFile(N), poolOf(ds));
  await ds.destroy();
  await pgQuery(url, 'VACUUM (ANALYZE)');
  writeFileSync(join(PG_DIR, `loaded-${N}`), url);
  log(`history copied in ${((performance.now() - t0) / 1000).toFixed(0)} s`, JSON.stringify(copied));
  return url;
}

async function main() {
  const url = await cluster();
  if (HOT && !(await pgQuery(url, `SELECT 1 FROM trace_port WHERE port_name = '${HOT}' LIMIT 1`)).length) {
    // A port in every trace of the history (a router or localnet port of a busy network): the walks
    // that read a port's whole history show their cost here, where generate.ts's ports have ~500 rows.
    await pgQuery(url, `INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) SELECT id, '${HOT}', 'inport', 'pass', created_at FROM trace`);
    await pgQuery(url, 'VACUUM (ANALYZE) trace_port');
    log(`${HOT}: a port row added to every trace`);
  }
  const [{ top }] = await pgQuery<{ top: string }>(url, 'SELECT max(id) AS top FROM trace');
  const topId = Number(top);
  // The busiest port and one of median size (port rows, any role), and where a quiet port's floor stands.
  const ports = await pgQuery<{ port_name: string; n: string }>(url, 'SELECT port_name, count(*) AS n FROM trace_port GROUP BY port_name ORDER BY 2 DESC');
  const own = ports.filter((p) => p.port_name !== HOT);
  const picks = [...ports.filter((p) => p.port_name === HOT), own[0], own[Math.floor(own.length / 2)]];
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-port-index-'));
  const app = await createApp(offlineAppConfig({ LIVETRACE_DB: url, LIVETRACE_SPOOL: join(dir, 'spool.sqlite'), LIVETRACE_ROLE: 'api', LIVETRACE_READ_WORKERS: '0' }));
  const traces = app.get(TracesService);
  const rec = recordQueries(app.get(StoreService).central!.pool);
  const cases: Array<{ name: string; port: string; portRows: number; statements: QueryConfig[] }> = [];
  const run = async (name: string, port: string, portRows: number, fn: () => Promise<unknown>) => {
    rec.on();
    await fn();
    cases.push({ name, port, portRows, statements: rec.off().filter((q) => /port_name = \$/.test(q.text)) });
  };
  const top1 = slotBase(1); // the stream's cursor for slot 0: its walk starts at the slot's top
  for (const { port_name: port, n } of picks) {
    const rows = Number(n);
    const list = (f: Record<string, unknown>) => traces.listJson({ logicalPort: port, limit: 50, withSteps: false, ...f });
    await run('list', port, rows, () => list({}));
    await run('list role=inport', port, rows, () => list({ role: 'inport' }));
    await run('list role=outport', port, rows, () => list({ role: 'outport' }));
    const first = JSON.parse((await list({})).toString('utf8')) as { next: string | null };
    if (first.next) await run('list page 2', port, rows, () => list(traceCursor({ cursor: first.next })));
    const [quiet] = await pgQuery<{ id: string }>(url, 'SELECT max(trace_id) AS id FROM trace_port WHERE port_name = $1 AND trace_id < $2', [port, topId - Math.floor(N / 10)]);
    const walk = (above: number) => traces.listJson({ logicalPort: port, cursor: top1, above, limit: 100, withSteps: false }, { far: false });
    await run('stream walk, live (floor = top - 1000)', port, rows, () => walk(topId - 1000));
    await run('stream walk, quiet port (floor = its newest trace before the last 10 %)', port, rows, () => walk(Number(quiet.id)));
    await run('stream walk, resume from 0 (first page)', port, rows, () => walk(0));
    await run('404 check (hasPort)', port, rows, () => traces.resolvePort(port));
    await run('datapath flows ?logical_port=', port, rows, () => app.get(DatapathFlowsService).list({ logicalPort: port, limit: 50 }));
    await run('upcalls ?logical_port=', port, rows, () => app.get(UpcallsService).list({ logicalPort: port, limit: 50 }));
  }
  await app.close();
  rmSync(dir, { recursive: true, force: true });

  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query('SET jit = off'); // as the api's sessions run (storage/postgres.ts)
  const sizes = await c.query(
    `SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes FROM pg_class c WHERE c.relname IN ('trace_port', 'trace_port_pkey', 'idx_trace_port_name', 'idx_trace_port_time') ORDER BY 1`,
  );
  const out: Array<Record<string, unknown>> = [];
  for (const k of cases)
    for (const q of k.statements) {
      const withIt = { custom: await explainOn(c, q, false), generic: await explainOn(c, q, true), settled: await settledOn(c, q) };
      await c.query('BEGIN');
      await c.query(`DROP INDEX ${INDEX}`);
      const without = { custom: await explainOn(c, q, false), generic: await explainOn(c, q, true), settled: await settledOn(c, q) };
      await c.query('ROLLBACK');
      out.push({ case: k.name, port: k.port, portRows: k.portRows, sql: q.text.replace(/\s+/g, ' '), values: q.values, with: withIt, without });
      const f = (x: { ms: number; buffers: number }) => `${x.ms.toFixed(3)} ms ${x.buffers} buf`;
      log(`${k.name} [${k.port}, ${k.portRows} rows]: custom ${f(withIt.custom)} → ${f(without.custom)}; generic ${f(withIt.generic)} → ${f(without.generic)}`);
      const g = (x: { ms: number; generic: boolean }) => `${x.ms.toFixed(2)} ms${x.generic ? ' (generic)' : ''}`;
      log(`   settled (plan_cache_mode auto, wall a call): ${g(withIt.settled)} → ${g(without.settled)}: ${without.settled.plan.join(' | ')}`);
      log(`   with:    ${withIt.custom.scans.join(' | ')}`);
      log(`   without: ${without.custom.scans.join(' | ')}`);
    }
  await c.end();
  const file = join(__dirname, `results-port-index-${N}.json`);
  writeFileSync(file, JSON.stringify({ n: N, at: new Date().toISOString(), topId, ports: picks, sizes: sizes.rows, explains: out }, null, 2));
  log(`sizes ${JSON.stringify(sizes.rows)}; ${file}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
