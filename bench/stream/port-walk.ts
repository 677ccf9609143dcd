/**
 * `GET /traces/stream`'s walk of a port in one writer slot, old against new, in one run (issue 19,
 * item 3: idx_trace_port_name dropped). Old: the walk by id through idx_trace_port_name (port_name,
 * trace_id), the trace-read-store.ts of OLD_REV. New: this tree's, the earliest trace time above the
 * floor (trace-slot-store.ts earliestIn, once a tick for every stream) then the walk by
 * idx_trace_port_time (port_name, created_at, trace_id) with the ids a filter, on the schema without
 * idx_trace_port_name (dropped inside a transaction rolled back after: one store, both schemas).
 * A poll: a port of the history (bench/api targets) and a tick's new ids (floor, top] of K traces at
 * a random place; both must return the same traces (checked each call). CPU a poll: this process
 * (SQLite, the store in process) plus the cluster's (PostgreSQL), old and new alternately in
 * blocks, medians, ratios. `explain`: the plans of every statement that read trace_port by port,
 * with the index and without it (the index used; a full scan of a big table flagged). `write`: what
 * the index costs the writes (port rows inserted with and without it).
 *
 *   node -r ts-node/register/transpile-only bench/stream/port-walk.ts N REPEAT sqlite|postgres cost|explain|write [K=1000]
 * Data: generate.ts's history bench/data/api-N.sqlite, copied (VACUUM INTO) to BENCH_STREAM_DIR; postgres: a cluster
 * of its own in BENCH_PG_DIR (loaded once from the SQLite file, reused after; `scripts/pg-cluster stop DIR` when done).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, Pool } from 'pg';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { PgReader, SqliteReader, type SqlReader } from '../../src/storage/sql';
import { tunnelArrivals, traceTimes } from '../../src/paths/port-arrival-store';
import { TraceReadStore } from '../../src/traces/trace-read-store';
import { earliestIn } from '../../src/traces/trace-slot-store';
import { targets } from '../api/app-config';
import { dbFile } from '../api/generate';
import { clusterCpuSeconds, pgQuery, startCluster } from '../api/postgres-lib';
import { copyHistory } from '../api/copy-history';

const N = Number(process.argv[2] ?? 150_000);
const REPEAT = Number(process.argv[3] ?? 300);
const SIDE = (process.argv[4] ?? 'sqlite') as 'sqlite' | 'postgres';
const MODE = (process.argv[5] ?? 'cost') as 'cost' | 'explain' | 'write';
const K = Number(process.argv[6] ?? 1000);
const OLD_REV = process.env.OLD_REV ?? 'fbb46f8^';
const ROOT = join(__dirname, '../..');
const DIR = process.env.BENCH_STREAM_DIR ?? '/tmp/livetrace-bench-stream';
const DROP = 'DROP INDEX idx_trace_port_name';

type Store = Pick<TraceReadStore, 'list'>;

/** The old tree's trace-read-store.ts (bench/data, ignored by git: its imports resolve against this node_modules). */
function oldStore(q: SqlReader): Store {
  const dir = join(ROOT, 'bench/data/src-rev-stream');
  if (!existsSync(join(dir, 'src/traces/trace-read-store.ts'))) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git -C ${ROOT} archive ${OLD_REV} src | tar -x -C ${dir}`]);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { TraceReadStore: Old } = require(join(dir, 'src/traces/trace-read-store')) as { TraceReadStore: new (q: SqlReader) => Store };
  return new Old(q);
}


/** The store: a copy of the history (SQLite) or the bench's cluster loaded from it; one connection, so a transaction holds every statement. */
async function open(): Promise<{ q: SqlReader; exec(sql: string): Promise<void>; url?: string; pgDir?: string; close(): Promise<void> }> {
  mkdirSync(DIR, { recursive: true });
  const copy = join(DIR, `api-${N}.sqlite`);
  if (!existsSync(copy)) new Database(dbFile(N), { readonly: true }).exec(`VACUUM INTO '${copy}'`);
  if (SIDE === 'sqlite') {
    const db = new Database(copy);
    return { q: new SqliteReader(db), exec: async (sql) => { db.exec(sql); }, close: async () => { db.close(); } };
  }
  const pgDir = process.env.BENCH_PG_DIR ?? join(DIR, 'pg');
  let url: string;
  if (existsSync(join(pgDir, `loaded-${N}`))) url = execFileSync(join(ROOT, 'scripts/pg-cluster'), ['start', pgDir], { encoding: 'utf8' }).trim().split('\n').pop()!;
  else {
    mkdirSync(pgDir, { recursive: true, mode: 0o755 });
    chmodSync(pgDir, 0o755);
    url = await startCluster(pgDir);
    const ds = await openPostgres(url, 2);
    await copyHistory(copy, poolOf(ds));
    await ds.destroy();
    await pgQuery(url, 'VACUUM (ANALYZE)');
    writeFileSync(join(pgDir, `loaded-${N}`), url);
  }
  const pool = new Pool({ connectionString: url, max: 1 });
  // As the api's sessions run (storage/postgres.ts: no JIT for the generic plans of named statements).
  pool.on('connect', (c) => void c.query('SET jit = off'));
  return { q: new PgReader(pool), exec: async (sql) => void (await pool.query(sql)), url, pgDir, close: () => pool.end() };
}

interface Poll {
  port: string;
  floor: number;
  top: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function cost(s: Awaited<ReturnType<typeof open>>, polls: Poll[]): Promise<void> {
  const old = oldStore(s.q);
  const now = new TraceReadStore(s.q);
  const walk = { limit: 100, withSteps: false };
  const oldPoll = async (p: Poll) => (await old.list({ ...walk, portName: p.port, cursor: p.top + 1, above: p.floor })).items;
  const times = async (p: Poll) => (await earliestIn(s.q, [{ after: p.floor, upTo: p.top }]))[0];
  const newWalk = async (p: Poll, since: string | null) => (since === null ? [] : (await now.list({ ...walk, portName: p.port, cursor: p.top + 1, above: p.floor, since })).items);
  // Same traces, every poll.
  let rows = 0;
  for (const p of polls.slice(0, 100)) {
    const a = (await oldPoll(p)).map((t) => t.id).sort((x, y) => x - y);
    await s.exec(`BEGIN; ${DROP}`);
    const b = (await newWalk(p, await times(p))).map((t) => t.id).sort((x, y) => x - y);
    await s.exec('ROLLBACK');
    if (a.join() !== b.join()) throw new Error(`poll ${JSON.stringify(p)}: old ${a.join()} new ${b.join()}`);
    rows += a.length;
  }
  console.log(`checked: 100 polls give the same traces both ways (${rows} in all)`);
  const cpu = async (fn: (p: Poll) => Promise<unknown>) => {
    const pg0 = s.pgDir ? clusterCpuSeconds(s.pgDir) : 0;
    const c0 = process.cpuUsage();
    for (let i = 0; i < REPEAT; i++) await fn(polls[i % polls.length]);
    const c = process.cpuUsage(c0);
    const pg = s.pgDir ? (clusterCpuSeconds(s.pgDir) - pg0) * 1000 : 0;
    return ((c.user + c.system) / 1000 + pg) / REPEAT;
  };
  const since = new Map<Poll, string | null>();
  for (const p of polls) since.set(p, await times(p));
  const res: Record<string, number[]> = { old: [], 'new walk': [], 'new earliest': [], 'new poll (one stream)': [] };
  for (let round = 0; round < 5; round++) {
    res.old.push(await cpu(oldPoll));
    await s.exec(`BEGIN; ${DROP}`);
    res['new walk'].push(await cpu((p) => newWalk(p, since.get(p)!)));
    res['new earliest'].push(await cpu(times));
    res['new poll (one stream)'].push(await cpu(async (p) => newWalk(p, await times(p))));
    await s.exec('ROLLBACK');
  }
  const m = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v)]));
  console.log(`${SIDE} N=${N} K=${K} repeat=${REPEAT} load1=${loadavg()[0].toFixed(1)}: CPU ms a poll (median of 5 rounds)`);
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(24)} ${v.toFixed(3)} ms  (x${(v / m.old).toFixed(2)} of old)  rounds ${res[k].map((x) => x.toFixed(3)).join(' ')}`);
}

/**
 * What idx_trace_port_name costs the writes: the port rows of M traces inserted again (as new
 * traces, ids moved past the history) with and without it, in a transaction rolled back; CPU a
 * trace written, old and new alternately.
 */
async function writes(s: Awaited<ReturnType<typeof open>>, m = 20_000): Promise<void> {
  const cols = 'port_name, role, scope, port_uuid, binding_uuid, datapath, created_at';
  const insert = `INSERT INTO trace_port (trace_id, ${cols}) SELECT trace_id + 1000000000, ${cols} FROM trace_port WHERE trace_id <= ${m}`;
  const rows = Number((await s.q.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM trace_port WHERE trace_id <= ${m}`))!.n);
  const cpu = async (drop: boolean) => {
    await s.exec(drop ? `BEGIN; ${DROP}` : 'BEGIN');
    const pg0 = s.pgDir ? clusterCpuSeconds(s.pgDir) : 0;
    const c0 = process.cpuUsage();
    await s.exec(insert);
    const c = process.cpuUsage(c0);
    const pg = s.pgDir ? (clusterCpuSeconds(s.pgDir) - pg0) * 1000 : 0;
    await s.exec('ROLLBACK');
    return (((c.user + c.system) / 1000 + pg) / m) * 1000;
  };
  const res: Record<string, number[]> = { 'with idx_trace_port_name': [], without: [] };
  for (let round = 0; round < 5; round++) {
    res['with idx_trace_port_name'].push(await cpu(false));
    res.without.push(await cpu(true));
  }
  const base = median(res['with idx_trace_port_name']);
  console.log(`${SIDE} N=${N}: port rows of ${m} traces (${rows} rows) inserted again, CPU µs a trace (median of 5 rounds) load1=${loadavg()[0].toFixed(1)}`);
  for (const [k, v] of Object.entries(res)) console.log(`  ${k.padEnd(26)} ${median(v).toFixed(1)} µs  (x${(median(v) / base).toFixed(2)})  rounds ${v.map((x) => x.toFixed(1)).join(' ')}`);
}

/** Records each statement sent through `q` while running `fn`. */
async function recorded(q: SqlReader, fn: (q: SqlReader) => Promise<unknown>): Promise<Array<{ sql: string; params: unknown[] }>> {
  const out: Array<{ sql: string; params: unknown[] }> = [];
  const spy: SqlReader = {
    dialect: q.dialect,
    all: (sql, ...params) => (out.push({ sql, params }), q.all(sql, ...params)),
    get: (sql, ...params) => (out.push({ sql, params }), q.get(sql, ...params)),
    rows: (sql, ...params) => (out.push({ sql, params }), q.rows(sql, ...params)),
    inList: (k) => q.inList(k),
    list: (v) => q.list(v),
  };
  await fn(spy);
  return out;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

async function plan(s: Awaited<ReturnType<typeof open>>, st: { sql: string; params: unknown[] }, dropped: boolean): Promise<string> {
  if (SIDE === 'sqlite') {
    const db = (s.q as SqliteReader).db;
    if (dropped) db.exec(`BEGIN; ${DROP}`);
    try {
      const rows = db.prepare(`EXPLAIN QUERY PLAN ${st.sql}`).all(...st.params) as Array<{ detail: string }>;
      return rows.map((r) => r.detail).join(' | ');
    } finally {
      if (dropped) db.exec('ROLLBACK');
    }
  }
  // PostgreSQL: as a named statement runs from its sixth execution (generic plan) and as a one-off (custom).
  const c = new Client({ connectionString: s.url });
  await c.connect();
  try {
    await c.query('SET jit = off');
    if (dropped) await c.query(`BEGIN; ${DROP}`);
    const text = st.sql.replace(/\?/g, (() => { let n = 0; return () => `$${++n}`; })());
    const lit = (v: unknown): string => (Array.isArray(v) ? `'{${v.join(',')}}'` : v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
    const out: string[] = [];
    for (const mode of ['force_generic_plan', 'force_custom_plan']) {
      await c.query(`SET plan_cache_mode = ${mode}`);
      await c.query(`PREPARE q AS ${text}`);
      const r = await c.query(`EXPLAIN (FORMAT JSON) EXECUTE q${st.params.length ? `(${st.params.map(lit).join(', ')})` : ''}`);
      await c.query('DEALLOCATE q');
      const scans: string[] = [];
      const walk = (n: PlanNode) => {
        if (n['Index Name']) scans.push(`${n['Node Type']} ${n['Index Name']} [${(n['Index Cond'] ?? '').slice(0, 120)}]`);
        else if (n['Relation Name']) scans.push(`${n['Node Type']} ${n['Relation Name']}`);
        for (const p of n.Plans ?? []) walk(p);
      };
      walk((r.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0].Plan);
      out.push(`${mode === 'force_generic_plan' ? 'generic' : 'custom'}: ${[...new Set(scans)].join(', ')}`);
    }
    if (dropped) await c.query('ROLLBACK');
    return out.join(' ; ');
  } finally {
    await c.end();
  }
}

async function explain(s: Awaited<ReturnType<typeof open>>, polls: Poll[]): Promise<void> {
  const p = polls[0];
  const since = (await earliestIn(s.q, [{ after: p.floor, upTo: p.top }]))[0] ?? '';
  const page = { limit: 50, withSteps: false };
  const store = (q: SqlReader) => new TraceReadStore(q);
  const first = await store(s.q).list({ ...page, portName: p.port });
  const last = first.items[first.items.length - 1];
  const cases: Record<string, (q: SqlReader) => Promise<unknown>> = {
    'list ?logical_port= (role any)': (q) => store(q).list({ ...page, portName: p.port }),
    'list ?logical_port=&role=inport': (q) => store(q).list({ ...page, portName: p.port, role: 'inport' }),
    'list ?logical_port=&role=outport': (q) => store(q).list({ ...page, portName: p.port, role: 'outport' }),
    'list ?logical_port= page 2': (q) => store(q).list({ ...page, portName: p.port, before: { at: last.createdAt, id: last.id } }),
    'list ?logical_port=&chassis=&since=&until=': (q) => store(q).list({ ...page, portName: p.port, chassis: 'hv1', since: '2026-11-20T00:00:00Z', until: '2026-11-30T00:00:00Z' }),
    'stream walk of a port (new: by time)': (q) => store(q).list({ limit: 100, withSteps: false, portName: p.port, cursor: p.top + 1, above: p.floor, since }),
    'stream walk, earliest time (new)': (q) => earliestIn(q, [{ after: p.floor, upTo: p.top }]),
    'hasPort (404 check)': (q) => store(q).hasPort(p.port),
    'far passes: tunnel arrivals (port-arrival-store)': (q) => tunnelArrivals(q, { portName: p.port, limit: 100, withSteps: false }, p.floor, p.top + 1, 100),
    'far passes: trace times of retried arrivals': (q) => traceTimes(q, [p.floor + 1, p.top]),
    'datapath flows ?logical_port= (datapath-flow-store)': (q) => q.all(`SELECT * FROM datapath_flow WHERE id IN (SELECT t.datapath_flow_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = ?) ORDER BY id DESC LIMIT ?`, p.port, 51),
    'upcalls ?logical_port= (upcall-store, its port part)': (q) => q.all(`SELECT t.upcall_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = ?`, p.port),
    'retention / path merge: a trace\'s ports by id': (q) => q.all(SIDE === 'postgres' ? 'SELECT 1 FROM trace_port WHERE trace_id IN (SELECT unnest(?::bigint[]))' : 'SELECT 1 FROM trace_port WHERE trace_id = ?', SIDE === 'postgres' ? [p.top, p.floor + 1] : p.top),
  };
  cases['stream walk of a port (old: by id)'] = (q) => oldStore(q).list({ limit: 100, withSteps: false, portName: p.port, cursor: p.top + 1, above: p.floor });
  console.log(`# EXPLAIN, ${SIDE}, ${N} traces: with idx_trace_port_name → without`);
  for (const [name, fn] of Object.entries(cases)) {
    const sts = (await recorded(s.q, fn)).filter((st) => /trace_port|FROM trace\b/.test(st.sql));
    for (const st of sts) {
      const before = await plan(s, st, false);
      const after = name.includes('(old') ? '(old code: needs the index)' : await plan(s, st, true);
      // SQLite: SCAN (not SEARCH) reads a whole table or index; PostgreSQL: a Seq Scan, or an index scan with no condition.
      const flag = /\bSCAN (p|t|trace_port|trace)\b/.test(after) || /Seq Scan (trace_port|trace)\b|Scan \S+ \[\]/.test(after) ? '  <-- full scan' : '';
      console.log(`\n## ${name}\n  ${st.sql.replace(/\s+/g, ' ').slice(0, 300)}\n  with:    ${before}\n  without: ${after}${flag}`);
    }
  }
}

async function main(): Promise<void> {
  const s = await open();
  try {
    const ro = new Database(join(DIR, `api-${N}.sqlite`), { readonly: true });
    const ports = targets(ro).ports;
    ro.close();
    const { hi } = (await s.q.get<{ hi: number | string }>('SELECT MAX(id) AS hi FROM trace'))!;
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const polls: Poll[] = Array.from({ length: 300 }, (_, i) => {
      const top = K + 1 + Math.floor(rnd() * (Number(hi) - K - 1));
      return { port: ports[i % ports.length], floor: top - K, top };
    });
    if (MODE === 'explain') await explain(s, polls);
    else if (MODE === 'write') await writes(s);
    else await cost(s, polls);
  } finally {
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
