// A port in most traces (a router or localnet port of a busy network) (bench/api/RESULTS-postgres.md
// "stop 26: hot-port plans").
//
// GET /datapath-flows?logical_port=: which plan is cheap depends on the port. A port in most traces
// is cheapest walking the flows newest first, checking each (a page: ~limit flows); a rare port by
// its own traces' flows (its rows). PostgreSQL picks by the port's statistics when it plans for the
// value; a named statement is planned once for every port after its first five calls (its generic
// plan), and that plan read a hot port's whole history: 1.05M buffers, ~1 s at 150k traces. So the
// statement is planned at each call (sent unnamed): never on a generic plan, whatever ports came first.
//
// GET /traces?logical_port=…&role=: the port's rows of the other role are not read (a router port
// seen as inport in every trace, asked for its outport traces, read its whole history for an empty
// page), on PostgreSQL and SQLite.
import type { Pool } from 'pg';
import { Pool as PgPool } from 'pg';
import type { DataSource } from 'typeorm';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { pgPoolOptions, poolOf } from '../../src/storage/postgres';
import { PgReader, SqliteReader, type SqlReader } from '../../src/storage/sql';
import { TraceReadStore } from '../../src/traces/trace-read-store';
import type { MigratedSqlite } from '../support/migrated-sqlite';
import { analyzedPlan, planSum, type PlanNode } from '../support/pg-plan';
import { openTwoStores, T0, type TwoStores } from '../support/two-stores';

jest.setTimeout(120_000);

const FLOWS = 4000;

let stores: TwoStores;
let ds: DataSource;
let url: string;
let lite: MigratedSqlite;

const both = (sql: string, ...params: unknown[]): Promise<void> => stores.both(sql, ...params);

beforeAll(async () => {
  stores = await openTwoStores('hot_port_plans');
  ({ url, ds, lite } = stores);
  // A flow and a trace each (a second apart); 'hot' in every trace (inport), 10 busy ports in a
  // tenth of the traces each (m0..m9, outport), 1000 small ones in 4 each (p0..p999, outport).
  const n = `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ${FLOWS})`;
  await both(
    `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source)
     ${n} SELECT x, 'hv1', 'ufid-' || x, ?, ?, '0x0', 'in_port(1)', 'drop', 1, 98, 'poller' FROM n`,
    new Date(T0).toISOString(), new Date(T0).toISOString(),
  );
  const verdict = JSON.stringify({ kinds: ['drop'], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null });
  // Traces a second apart, in batches (SQLite's and PostgreSQL's own time formatting differ).
  for (let from = 1; from <= FLOWS; from += 400) {
    const ids = Array.from({ length: 400 }, (_, i) => from + i);
    await both(
      `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ${ids.map(() => `(?, 'hv1', ?, ?, 'trace', 'br-int', '0x0', '', '', '', 'drop', ',drop,', ?, 0, ?)`).join(', ')}`,
      ...ids.flatMap((x) => [x, new Date(T0 + x * 1000).toISOString(), x, verdict, Buffer.alloc(0)]),
    );
  }
  const port = (name: string, role: string, scope: string) =>
    both(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) SELECT id, ${name}, '${role}', '${scope}', created_at FROM trace`);
  await port(`'hot'`, 'inport', 'pass');
  await port(`'p' || (id % 1000)`, 'outport', 'pass');
  await port(`'m' || (id % 10)`, 'outport', 'path');
  await poolOf(ds).query('ANALYZE');
  lite.db.exec('ANALYZE');
});

afterAll(async () => {
  await stores?.close();
});

it('GET /datapath-flows?logical_port= is never served by a generic plan, whatever ports were asked before', async () => {
  // One connection: the statements the store sends are prepared on it, and pg_prepared_statements is per session.
  const pool: Pool = new PgPool(pgPoolOptions(url, 1));
  try {
    const store = new DatapathFlowStore({ db: undefined as never, query: new PgReader(pool) });
    // Busy ports first (their plans cost more than the generic plan's guess of an average port, so
    // PostgreSQL settles on that plan after five), then small ones, then the hot one.
    const asked = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'p7', 'p8', 'hot', 'm6'];
    const pages: Record<string, number[]> = {};
    for (const port of asked) pages[port] = (await store.list({ tracedOnPort: port, limit: 50 })).map((f) => f.id);
    // The answers: a small port's 4 flows, a busy port's newest 51, the hot port's.
    expect(pages.p7).toEqual([3007, 2007, 1007, 7]);
    expect(pages.m6).toEqual(Array.from({ length: 51 }, (_, i) => FLOWS - 4 - 10 * i));
    expect(pages.hot).toEqual(Array.from({ length: 51 }, (_, i) => FLOWS - i));
    const sqlite = new DatapathFlowStore({ db: lite.db });
    for (const port of ['p7', 'm6', 'hot']) expect((await sqlite.list({ tracedOnPort: port, limit: 50 })).map((f) => f.id)).toEqual(pages[port]);
    const { rows } = await pool.query<{ generic_plans: string }>(
      // Any statement of this session that reads datapath_flow by trace_port, however its text is worded.
      `SELECT generic_plans FROM pg_prepared_statements WHERE statement ILIKE '%datapath_flow%' AND statement ILIKE '%trace_port%'`,
    );
    expect(rows.map((r) => Number(r.generic_plans)).reduce((a, b) => a + b, 0)).toBe(0);
  } finally {
    await pool.end();
  }
});

/**
 * trace_port's rows the walk read: those its scans returned and those they filtered away. Not a
 * SubPlan's: on PostgreSQL the page's traces bring their own port rows (trace-read-store.ts
 * PORTS_OF_PAGE, one trace's index range each), which are not the walk of the port.
 */
const portRowsRead = (plan: PlanNode): number =>
  planSum(plan, (n) => (n['Relation Name'] === 'trace_port' ? ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0)) * (n['Actual Loops'] ?? 1) : undefined));

/** The list's page on a store, and the statement it sent for it. */
async function listOn(reader: SqlReader, portName: string, role: 'inport' | 'outport') {
  const seen: Array<{ sql: string; params: unknown[] }> = [];
  const recording = Object.assign(Object.create(reader) as SqlReader, {
    all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
  });
  const body = JSON.stringify(await new TraceReadStore(recording).list({ portName, role, limit: 50, withSteps: false }));
  // SQLite joins the port rows; PostgreSQL walks them alone, then joins its first traces (firstTracesOfPort).
  const walk = seen.find((s) => /FROM trace_port p (CROSS JOIN trace t|WHERE)/.test(s.sql));
  if (!walk) throw new Error(`no walk of trace_port among ${seen.map((s) => s.sql).join('; ')}`);
  return { body, walk };
}

it.each([
  ['hot', 'outport', 0], // every row of the port inport: an empty page
  ['m3', 'inport', 0], // every row outport
  ['m3', 'outport', 51],
  ['hot', 'inport', 51],
] as const)('GET /traces?logical_port=%s&role=%s reads only that role\'s rows of the port, on both stores', async (port, role, items) => {
  const onPg = await listOn(new PgReader(poolOf(ds)), port, role);
  const onLite = await listOn(new SqliteReader(lite.db), port, role);
  expect(onPg.body).toEqual(onLite.body);
  expect((JSON.parse(onPg.body) as { items: unknown[] }).items).toHaveLength(Math.min(items, 50));
  // PostgreSQL: at most a page and its extra row read from trace_port (the whole port: 400 or 4000).
  const plan = await analyzedPlan(poolOf(ds), onPg.walk.sql, onPg.walk.params);
  expect(portRowsRead(plan)).toBeLessThanOrEqual(51);
  // SQLite: the walk is on the role group's index (a partial one holds that group's rows alone).
  const steps = lite.db.prepare(`EXPLAIN QUERY PLAN ${onLite.walk.sql}`).all(...(onLite.walk.params as unknown[])) as Array<{ detail: string }>;
  expect(steps.map((s) => s.detail).join('\n')).toContain(`INDEX idx_trace_port_${role === 'inport' ? 'in' : 'out'} (port_name=?)`);
});
