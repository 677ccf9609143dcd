// The PostgreSQL bench's parts (postgres.ts runs them): its own cluster, the agents as child
// processes, the same history as one SQLite file, the request targets, and EXPLAIN of the SQL the
// API really sent.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, Pool, PoolClient, QueryConfig } from 'pg';
import { SLOT_BITS } from '../../src/storage/spool';
import { TENANTS } from './generate';
import { openStore } from './load';
import { rng } from './world';

const ROOT = join(__dirname, '../..');
const PG_CLUSTER = join(ROOT, 'scripts/pg-cluster');

/**
 * A cluster of the bench's own. Settings a PostgreSQL of a deployment would have beyond initdb's
 * defaults (128 MB shared_buffers, 1 GB max_wal_size): memory for the working set and no forced
 * checkpoint every few seconds of a bulk load. Commits stay durable (synchronous_commit on, fsync on).
 */
export async function startCluster(dir: string): Promise<string> {
  const url = execFileSync(PG_CLUSTER, ['start', dir], { encoding: 'utf8' }).trim();
  const c = new Client({ connectionString: url });
  await c.connect();
  for (const [k, v] of Object.entries(SETTINGS)) await c.query(`ALTER SYSTEM SET ${k} = '${v}'`);
  await c.end();
  execFileSync(PG_CLUSTER, ['stop', dir]);
  return execFileSync(PG_CLUSTER, ['start', dir], { encoding: 'utf8' }).trim();
}

export const SETTINGS = { shared_buffers: '2GB', max_wal_size: '8GB', effective_cache_size: '8GB', work_mem: '16MB', maintenance_work_mem: '512MB' };

/**
 * CPU seconds the cluster has used: the postmaster, its live backends, and (cutime, cstime) the ones
 * that have exited (the postmaster waited for them). On a shared machine wall time moves with the
 * neighbours; CPU time much less.
 */
export function clusterCpuSeconds(dir: string): number {
  const stat = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  const pm = readFileSync(join(dir, 'data/postmaster.pid'), 'utf8').split('\n')[0].trim();
  const ticks = (f: string[], withChildren: boolean) => Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  let total = ticks(stat(pm), true);
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const f = stat(pid);
      if (f[1] === pm) total += ticks(f, false);
    } catch {
      // gone meanwhile
    }
  }
  return total / 100; // USER_HZ
}

export function stopCluster(dir: string): void {
  execFileSync(PG_CLUSTER, ['stop', dir]);
}

export async function pgQuery<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** One agent process (postgres-agent.ts) and its messages, awaited one kind at a time. */
export class Agent {
  readonly proc: ChildProcess;
  private readonly inbox: Array<Record<string, unknown>> = [];
  private waiting?: { key: string; resolve(m: Record<string, unknown>): void };
  slot = 0;

  constructor(readonly chassis: string, env: Record<string, string>) {
    const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    // BENCH_AGENT_NODE_ARGS: node flags for the agents alone (a GC setting, say), for an A/B on one tree.
    const extra = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.proc = spawn(process.execPath, [...prof, ...extra, '--max-old-space-size=6000', '-r', 'ts-node/register/transpile-only', join(__dirname, 'postgres-agent.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m) => {
      const msg = m as Record<string, unknown>;
      if (this.waiting && msg[this.waiting.key]) {
        const w = this.waiting;
        this.waiting = undefined;
        w.resolve(msg);
      } else this.inbox.push(msg);
    });
  }

  /** The next message carrying `key` (ready, loaded, pruned, …); rejects if the agent dies first. */
  wait(key: string): Promise<Record<string, unknown>> {
    const i = this.inbox.findIndex((m) => m[key]);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      this.waiting = { key, resolve };
      this.proc.once('exit', (code) => code !== 0 && reject(new Error(`agent ${this.chassis} exited ${code} before '${key}'`)));
    });
  }

  send(m: Record<string, unknown>): void {
    this.proc.send(m);
  }
}

export const slotRange = (slot: number): [number, number] => [slot * 2 ** SLOT_BITS, (slot + 1) * 2 ** SLOT_BITS];

/** Tables that are a spool's own business (spool.ts), not the history. */
const LOCAL = new Set(['migrations', 'meta', 'sqlite_sequence', 'ship_log', 'ship_mute']);

/**
 * The history the agents shipped, as one SQLite store: a fresh file migrated by the app's own
 * migrations, then every spool's rows copied in (the spools hold every row they shipped, with the
 * ids PostgreSQL has), so both stores hold the same rows with the same ids (a key two spools share,
 * as logical_port_alias's, ends as the last one shipped, as an upsert leaves it in PostgreSQL).
 */
export async function mergeSpools(file: string, spools: string[]): Promise<{ seconds: number; rows: Record<string, number> }> {
  const t0 = performance.now();
  const { ds } = await openStore(file);
  await ds.destroy();
  const db = new Database(file);
  db.pragma('synchronous = OFF'); // a bench's copy: rebuilt on every run
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name).filter((n) => !LOCAL.has(n) && !n.startsWith('sqlite_'));
  // Each writer keeps its own OpenFlow rules, snapshots and objects (spool.ts: two rows where two
  // chassis met one rule); PostgreSQL's indexes on those keys are not unique, so neither are these.
  for (const ix of db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql LIKE 'CREATE UNIQUE INDEX%' AND tbl_name IN ('of_rule', 'logical_flow_snapshot', 'ovn_object')`).all() as Array<{ name: string; sql: string }>) {
    db.exec(`DROP INDEX "${ix.name}"`);
    db.exec(ix.sql.replace('CREATE UNIQUE INDEX', 'CREATE INDEX'));
  }
  const rows: Record<string, number> = {};
  spools.forEach((s, i) => {
    db.exec(`ATTACH DATABASE '${s.replace(/'/g, "''")}' AS s${i}`);
    db.transaction(() => {
      for (const t of tables) rows[t] = (rows[t] ?? 0) + db.prepare(`INSERT OR REPLACE INTO main."${t}" SELECT * FROM s${i}."${t}"`).run().changes;
    })();
    db.exec(`DETACH DATABASE s${i}`);
  });
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.exec('ANALYZE');
  db.close();
  return { seconds: (performance.now() - t0) / 1000, rows };
}

export const fileBytes = (f: string) => [f, `${f}-wal`].reduce((n, x) => n + (existsSync(x) ? statSync(x).size : 0), 0);

/**
 * What the requests ask for, from the history itself (app-config.ts's targets, for ids in writer
 * slots: a citation bucket is id / 32, beyond 32-bit shifts): the same 300 VM ports, the most cited
 * logical flows in each agent's newest traces (DP-group flows), port flows cited 3 to 40 times there,
 * and every NB ACL.
 */
export function slotTargets(db: Database.Database, slots: number[]) {
  const r = rng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const ports = Array.from({ length: 300 }, () => `t${Math.floor(r() * TENANTS)}-lsp${1 + Math.floor(r() * 4)}`);
  db.function('popcount', { deterministic: true }, (v: unknown) => {
    let n = 0;
    for (let x = Number(v) >>> 0; x; x &= x - 1) n++;
    return n;
  });
  const ranges = slots.map((s) => {
    const [lo, hi] = slotRange(s);
    const top = (db.prepare('SELECT max(id) AS m FROM trace WHERE id >= ? AND id < ?').get(lo, hi) as { m: number }).m;
    return [Math.floor((top - 7_000) / 32), Math.floor(top / 32)];
  });
  const cited = db
    .prepare(
      `SELECT l.uuid, sum(popcount(c.bits)) AS n FROM trace_citation c JOIN logical_flow_snapshot l ON l.id = c.ref
        WHERE c.kind = 0 AND (${ranges.map(() => 'c.bucket BETWEEN ? AND ?').join(' OR ')}) GROUP BY l.uuid ORDER BY n DESC`,
    )
    .all(...ranges.flat()) as Array<{ uuid: string; n: number }>;
  const portFlows = cited.filter((c) => c.n >= 3 && c.n <= 40).map((c) => c.uuid);
  const acls = (db.prepare(`SELECT DISTINCT uuid FROM ovn_object WHERE db = 'OVN_Northbound' AND tbl = 'ACL'`).all() as Array<{ uuid: string }>).map((x) => x.uuid);
  return {
    ports,
    dpGroup: cited.slice(0, 20).map((c) => c.uuid),
    portFlows: portFlows.length ? Array.from({ length: 300 }, () => pick(portFlows)) : [],
    acls,
    citedCounts: { top: cited.slice(0, 3), portFlowsDistinct: portFlows.length, acls: acls.length },
  };
}

/**
 * Calls `seen` with every statement the app sends through `pool`, and `done` with its rows' count
 * once it answers: pool.query, and the clients pool.connect() hands out (PgReader runs its reads on a
 * checked-out client, storage/pg-client.ts withClient, since 42e60e9: a patch of pool.query alone saw
 * nothing). pool.query checks out its client through connect(callback) itself: that form is passed
 * through as it is, so no statement is seen twice.
 */
export function watchQueries(pool: Pool, seen: (q: QueryConfig | string) => void, done?: (rows: number) => void): void {
  type Query = (...a: unknown[]) => unknown;
  const wrap =
    (query: Query): Query =>
    (...a: unknown[]) => {
      seen(a[0] as QueryConfig | string);
      const r = query(...a);
      // The promise form only (a callback's caller is pool.query, already seen); its rejection stays the caller's.
      if (done && r && typeof (r as Promise<unknown>).then === 'function')
        (r as Promise<{ rows?: unknown[] }>).then(
          (res) => done(res?.rows?.length ?? 0),
          () => undefined,
        );
      return r;
    };
  (pool as unknown as { query: Query }).query = wrap(pool.query.bind(pool) as Query);
  const patched = new WeakSet<object>();
  const watch = (client: PoolClient): PoolClient => {
    if (patched.has(client)) return client;
    patched.add(client);
    (client as unknown as { query: Query }).query = wrap(client.query.bind(client) as Query);
    return client;
  };
  const connect = pool.connect.bind(pool) as (...a: unknown[]) => Promise<PoolClient> | undefined;
  (pool as unknown as { connect: Query }).connect = (...a: unknown[]) => (a.length ? connect(...a) : connect()!.then(watch));
}

/** Statements and rows a request on `pool` (pg-service-time.ts's counters), and while `keep` is set, the statements themselves. */
export interface QueryCounts {
  statements: number;
  rows: number;
  keep?: QueryConfig[];
}

export function countQueries(pool: Pool): QueryCounts {
  const counted: QueryCounts = { statements: 0, rows: 0 };
  watchQueries(
    pool,
    (q) => counted.keep?.push(q as QueryConfig),
    (rows) => {
      counted.statements++;
      counted.rows += rows;
    },
  );
  return counted;
}

/** Records the statements an app's PgReader sends through `pool` while `capture` is on. */
export function recordQueries(pool: Pool): { on(): void; off(): QueryConfig[] } {
  const seen: QueryConfig[] = [];
  let capturing = false;
  watchQueries(pool, (q) => {
    if (capturing && typeof q === 'object') seen.push(q);
  });
  return {
    on: () => {
      seen.length = 0;
      capturing = true;
    },
    off: () => {
      capturing = false;
      return [...seen];
    },
  };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of one statement as the app sent it (with the api's JIT setting), both as a one-off (custom plan, the
 * parameters known) and as pg runs a named statement from its sixth execution on when the generic
 * plan is not costlier (plan_cache_mode = force_generic_plan): the scans, each index used, and any
 * sequential scan of a table with more than 10,000 rows.
 */
export async function explain(url: string, q: QueryConfig, bigTables: Map<string, number>, jit: string) {
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(`SET jit = ${jit === 'on' ? 'on' : 'off'}`); // as the api's own sessions run
  const walk = (n: PlanNode, out: string[], seq: string[]) => {
    const rel = n['Relation Name'];
    if (n['Index Name']) out.push(`${n['Node Type']} ${n['Index Name']}`);
    else if (rel) out.push(`${n['Node Type']} ${rel}`);
    if (n['Node Type'] === 'Seq Scan' && rel && (bigTables.get(rel) ?? 0) > 10_000) seq.push(`${rel} (${bigTables.get(rel)} rows)`);
    for (const p of n.Plans ?? []) walk(p, out, seq);
  };
  const run = async (generic: boolean) => {
    await c.query(`SET plan_cache_mode = ${generic ? 'force_generic_plan' : 'force_custom_plan'}`);
    await c.query(`PREPARE bench_q AS ${q.text}`);
    try {
      const params = (q.values ?? []).map((v) => (Array.isArray(v) ? (v.length === 0 ? `'{}'` : `ARRAY[${v.map((x) => (typeof x === 'number' ? String(x) : `'${String(x).replace(/'/g, "''")}'`)).join(',')}]`) : v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`));
      const res = await c.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE bench_q${params.length ? `(${params.join(', ')})` : ''}`);
      const plan = (res.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode; 'Execution Time': number }>)[0];
      const scans: string[] = [];
      const seq: string[] = [];
      walk(plan.Plan, scans, seq);
      return { ms: plan['Execution Time'], scans: [...new Set(scans)], seqScansOfBigTables: seq };
    } finally {
      await c.query('DEALLOCATE bench_q');
    }
  };
  try {
    return { sql: q.text.replace(/\s+/g, ' ').slice(0, 400), custom: await run(false), generic: await run(true) };
  } finally {
    await c.end();
  }
}

/**
 * The load step: every agent writes its share at once; the rate is counted when the rows are committed
 * in PostgreSQL (each agent's shipper synced), with the CPU time of the agents and of the cluster.
 */
export async function loadPhase(url: string, agents: Agent[], pgDir: string, log: (...a: unknown[]) => void) {
  const ready = await Promise.all(agents.map((a) => a.wait('ready')));
  agents.forEach((a, i) => (a.slot = Number(ready[i].slot)));
  log('agents ready', ready.map((r) => `slot ${r.slot}, stamped in ${Number(r.stampSeconds).toFixed(1)} s`).join('; '));
  const pgCpu0 = clusterCpuSeconds(pgDir);
  const t0 = performance.now();
  for (const a of agents) a.send({ cmd: 'load' });
  // Traces committed in PostgreSQL per agent, sampled (the highest id of its slot: ids are dense).
  const samples: Array<{ s: number; perAgent: number[] }> = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      await new Promise((r) => setTimeout(r, 5000));
      const perAgent = await Promise.all(
        agents.map(async (a) => {
          const [lo, hi] = slotRange(a.slot);
          const [r] = await pgQuery<{ m: number | null }>(url, 'SELECT max(id) AS m FROM trace WHERE id >= $1 AND id < $2', [lo, hi]);
          return r.m === null ? 0 : Number(r.m) - lo;
        }),
      );
      const s = (performance.now() - t0) / 1000;
      samples.push({ s, perAgent });
      const total = perAgent.reduce((x, y) => x + y, 0);
      log(`  ${s.toFixed(0)} s: ${total} traces in PostgreSQL (${(total / s).toFixed(0)}/s), per agent ${perAgent.join(' / ')}, load1 ${loadavg()[0].toFixed(1)}`);
    }
  })();
  const loaded = await Promise.all(agents.map((a) => a.wait('loaded')));
  const seconds = (performance.now() - t0) / 1000;
  done = true;
  await sampler;
  const pgCpuSeconds = clusterCpuSeconds(pgDir) - pgCpu0;
  const traces = loaded.reduce((n, l) => n + Number(l.traces), 0);
  const agentCpuSeconds = loaded.reduce((n, l) => n + Number(l.cpuSeconds), 0);
  // Traces per CPU second of the whole pipeline (agents: tracer writes, spool, shipper; PostgreSQL):
  // what two cores of our own would carry at most, if the work spread over both.
  const cpu = { agentCpuSeconds, pgCpuSeconds, perCpuS: traces / (agentCpuSeconds + pgCpuSeconds), twoCoreBoundPerS: (2 * traces) / (agentCpuSeconds + pgCpuSeconds) };
  const res = { traces, seconds, perS: traces / seconds, cpu, perAgent: loaded.map((l, i) => ({ chassis: agents[i].chassis, ...l, perS: Number(l.traces) / Number(l.shippedSeconds), spoolPerS: Number(l.traces) / Number(l.spoolSeconds) })), samples };
  log(`load: ${traces} traces committed in PostgreSQL in ${seconds.toFixed(1)} s = ${res.perS.toFixed(0)}/s together; CPU ${JSON.stringify(cpu)}`);
  return res;
}
