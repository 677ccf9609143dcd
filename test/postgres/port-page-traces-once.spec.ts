// GET /traces?logical_port=: a trace has several rows of one port (its roles, its own pass and its
// path's), so walking the port's rows meets each trace several times. PostgreSQL's page joined the
// trace row for every one of them and grouped after the join: 87 trace rows read for a page of 51
// at 150k (bench/api/RESULTS-postgres.md, "Read routes: CPU per request"). The walk now keeps each
// trace once before the join; SQLite's walk is unchanged. Both stores give the same pages.
import type { DataSource } from 'typeorm';
import { traceCursor } from '../../src/common/query';
import { poolOf } from '../../src/storage/postgres';
import { PgReader, SqliteReader, type SqlReader } from '../../src/storage/sql';
import { TraceListQuery, TraceReadStore } from '../../src/traces/trace-read-store';
import type { MigratedSqlite } from '../support/migrated-sqlite';
import { analyzedPlan, planSum, readsTable, type PlanNode } from '../support/pg-plan';
import { openTwoStores, T0, type TwoStores } from '../support/two-stores';

jest.setTimeout(120_000);

const TRACES = 600;
const OTHERS = 30_000;

let stores: TwoStores;
let ds: DataSource;
let lite: MigratedSqlite;

beforeAll(async () => {
  stores = await openTwoStores('port_page_traces_once');
  ({ ds, lite } = stores);
  const verdict = JSON.stringify({ kinds: ['output'], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null });
  for (let from = 1; from <= TRACES; from += 200) {
    const ids = Array.from({ length: 200 }, (_, i) => from + i);
    await stores.both(
      `INSERT INTO trace (id, chassis, created_at, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ${ids.map(() => `(?, ?, ?, 'trace', 'br-int', '0x0', '', '', '', '1', ?, ?, 0, ?)`).join(', ')}`,
      // Every third trace on hv2 and dropped: filters on the trace's own columns, applied after the walk.
      ...ids.flatMap((x) => [x, x % 3 ? 'hv1' : 'hv2', new Date(T0 + x * 1000).toISOString(), x % 3 ? ',output,' : ',drop,', verdict, Buffer.alloc(0)]),
    );
  }
  // lsp1 three times in every trace (its own pass's inport, and the path's inport and outport, as
  // a packet that came back to it), and once as outport in every fifth: four rows in those.
  const port = (role: string, scope: string, where = '') =>
    stores.both(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) SELECT id, 'lsp1', '${role}', '${scope}', created_at FROM trace ${where}`);
  await port('inport', 'pass');
  await port('inport', 'path');
  await port('outport', 'path');
  await port('outport', 'pass', 'WHERE id % 5 = 0');
  // Other ports' traces, so that the trace table is read by its key as at scale, not scanned whole.
  await stores.both(
    `INSERT INTO trace (id, chassis, created_at, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
     WITH RECURSIVE n(x) AS (SELECT ${TRACES + 1} UNION ALL SELECT x + 1 FROM n WHERE x < ${TRACES + OTHERS})
     SELECT x, 'hv1', ?, 'trace', 'br-int', '0x0', '', '', '', '1', ',output,', ?, 0, ? FROM n`,
    new Date(T0 - 1000).toISOString(), verdict, Buffer.alloc(0),
  );
  await poolOf(ds).query('ANALYZE');
  lite.db.exec('ANALYZE');
});

afterAll(async () => {
  await stores?.close();
});

/**
 * Trace rows the page's statement joined to the port's walk: the trace table's scans, or a Memoize
 * over them (its cache hits are joined rows too, then grouped away). Not the port rows' subplan.
 */
const traceRowsJoined = (plan: PlanNode): number =>
  planSum(plan, (n) =>
    n['Relation Name'] === 'trace' || (n['Node Type'] === 'Memoize' && readsTable(n, 'trace')) ? (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1) : undefined,
  );

/** The page as the API writes it, and the statement that read its traces. */
async function listOn(reader: SqlReader, q: TraceListQuery) {
  const seen: Array<{ sql: string; params: unknown[] }> = [];
  const recording = Object.assign(Object.create(reader) as SqlReader, {
    all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
  });
  const page = await new TraceReadStore(recording).list(q);
  const walk = seen.find((s) => /FROM trace_port p (CROSS JOIN trace t|WHERE)/.test(s.sql));
  if (!walk) throw new Error(`no walk of trace_port among ${seen.map((s) => s.sql).join('; ')}`);
  return { page, body: JSON.stringify(page), walk };
}

const lsp1 = (more: Partial<TraceListQuery> = {}): TraceListQuery => ({ portName: 'lsp1', limit: 50, withSteps: false, ...more });

it.each([
  ['any role', lsp1(), 51],
  ['inport', lsp1({ role: 'inport' }), 51],
  ['outport', lsp1({ role: 'outport' }), 51],
  ['a time range', lsp1({ since: new Date(T0 + 100_000).toISOString(), until: new Date(T0 + 400_000).toISOString() }), 51],
  ['a small page', lsp1({ limit: 5 }), 6],
] as const)('a port page with %s joins each of its traces once on PostgreSQL, the same page as SQLite', async (_what, q, traces) => {
  const onPg = await listOn(new PgReader(poolOf(ds)), q);
  const onLite = await listOn(new SqliteReader(lite.db), q);
  expect(onPg.body).toEqual(onLite.body);
  expect(onPg.page.items).toHaveLength(traces - 1);
  expect(new Set(onPg.page.items.map((t) => t.id)).size).toBe(traces - 1);
  const plan = await analyzedPlan(poolOf(ds), onPg.walk.sql, onPg.walk.params);
  // The page and the row that says a next page exists.
  expect(traceRowsJoined(plan)).toBeLessThanOrEqual(traces);
});

// A filter on the trace's own columns turns traces away after the join: those walks join every row, as before.
it.each([
  ['a chassis', lsp1({ chassis: 'hv2' })],
  ['a verdict', lsp1({ verdict: 'drop' })],
] as const)('a port page with %s is the same page on both stores', async (_what, q) => {
  const onPg = await listOn(new PgReader(poolOf(ds)), q);
  expect(onPg.page.items).toHaveLength(50);
  expect(onPg.body).toEqual((await listOn(new SqliteReader(lite.db), q)).body);
});

it('pages on by the cursor across the whole port, each trace once, on both stores', async () => {
  const walkAll = async (reader: SqlReader) => {
    const ids: number[] = [];
    let next: string | null = null;
    do {
      const { page } = await listOn(reader, lsp1({ limit: 97, ...(next ? traceCursor({ cursor: next }) : {}) }));
      ids.push(...page.items.map((t) => t.id));
      next = page.next;
    } while (next);
    return ids;
  };
  const pg = await walkAll(new PgReader(poolOf(ds)));
  expect(pg).toEqual(Array.from({ length: TRACES }, (_, i) => TRACES - i));
  expect(await walkAll(new SqliteReader(lite.db))).toEqual(pg);
});

it('a port row whose trace is not there is skipped as SQLite skips it, and the page goes on past it', async () => {
  // Its trace pruned before its port rows, or the rows shipped ahead of it: here, traces 598 and 591–593.
  await stores.both('DELETE FROM trace WHERE id = 598 OR id BETWEEN 591 AND 593');
  const onPg = await listOn(new PgReader(poolOf(ds)), lsp1({ limit: 5 }));
  expect(onPg.body).toEqual((await listOn(new SqliteReader(lite.db), lsp1({ limit: 5 }))).body);
  expect(onPg.page.items.map((t) => t.id)).toEqual([600, 599, 597, 596, 595]);
  const rest = await listOn(new PgReader(poolOf(ds)), lsp1({ limit: 5, ...traceCursor({ cursor: onPg.page.next! }) }));
  expect(rest.page.items.map((t) => t.id)).toEqual([594, 590, 589, 588, 587]);
});
