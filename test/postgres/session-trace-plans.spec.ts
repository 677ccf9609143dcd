// GET /traces?session=: a session's traces are those naming it (trace.session_id) and those it
// shares with the session that stored them (trace_extra_session: a pass several sessions wanted,
// stored once). The same page on both stores, byte for byte, each walking an index newest first
// with the extra sessions' traces one index lookup (src/traces/trace-extra-session-store.ts).
import { poolOf } from '../../src/storage/postgres';
import { numberPlaceholders, PgReader, SqliteReader, type SqlReader } from '../../src/storage/sql';
import { TraceReadStore } from '../../src/traces/trace-read-store';
import { ofSession } from '../../src/traces/trace-extra-session-store';
import { openTwoStores, T0, type TwoStores } from '../support/two-stores';

jest.setTimeout(120_000);

const TRACES = 4000;
let stores: TwoStores;

beforeAll(async () => {
  stores = await openTwoStores('session_trace_plans');
  const verdict = JSON.stringify({ kinds: ['drop'], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null });
  for (let from = 1; from <= TRACES; from += 400) {
    const ids = Array.from({ length: 400 }, (_, i) => from + i);
    // Session 1 stored every odd trace, session 2 every fourth; session 2 also wanted every tenth odd one.
    await stores.both(
      `INSERT INTO trace (id, chassis, created_at, session_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ${ids.map(() => `(?, 'hv1', ?, ?, 'trace', 'br-int', '0x0', '', '', '', 'drop', ',drop,', ?, 0, ?)`).join(', ')}`,
      ...ids.flatMap((x) => [x, new Date(T0 + x * 1000).toISOString(), x % 2 ? 1 : x % 4 === 0 ? 2 : null, verdict, Buffer.alloc(0)]),
    );
  }
  await stores.both(`INSERT INTO trace_extra_session (trace_id, session_id) SELECT id, 2 FROM trace WHERE id % 2 = 1 AND id % 10 = 1`);
  // Many other sessions sharing traces: session 2's are a few of the table's rows.
  for (let s = 10; s < 20; s++) await stores.both(`INSERT INTO trace_extra_session (trace_id, session_id) SELECT id, ${s} FROM trace`);
  await poolOf(stores.ds).query('ANALYZE');
  stores.lite.db.exec('ANALYZE');
});

afterAll(async () => {
  await stores?.close();
});

const ofTwo = Array.from({ length: TRACES }, (_, i) => TRACES - i).filter((x) => x % 4 === 0 || x % 10 === 1);

async function listOn(reader: SqlReader, before?: { at: string; id: number }) {
  const seen: Array<{ sql: string; params: unknown[] }> = [];
  const recording = Object.assign(Object.create(reader) as SqlReader, {
    all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
  });
  const page = await new TraceReadStore(recording).list({ sessionId: 2, before, limit: 50, withSteps: false });
  const walk = seen.find((s) => /FROM trace t/.test(s.sql))!;
  return { page, body: JSON.stringify(page), walk };
}

it('lists the traces a session stored and those it shared, the same bytes on both stores, newest first, page after page', async () => {
  const pg = new PgReader(poolOf(stores.ds));
  const lite = new SqliteReader(stores.lite.db);
  const first = await listOn(pg);
  expect(first.body).toEqual((await listOn(lite)).body);
  expect(first.page.items.map((t) => t.id)).toEqual(ofTwo.slice(0, 50));
  const last = first.page.items[49];
  const second = await listOn(pg, { at: last.createdAt, id: last.id });
  expect(second.body).toEqual((await listOn(lite, { at: last.createdAt, id: last.id })).body);
  expect(second.page.items.map((t) => t.id)).toEqual(ofTwo.slice(50, 100));
  // The port stream's far passes ask the same rule of the passes they found.
  for (const q of [pg, lite]) expect([...(await ofSession(q, [1, 2, 3, 4, 11, 12], 2))].sort((a, b) => a - b)).toEqual([1, 4, 11, 12]);
});

it('walks an index on both stores: trace by time, the shared traces by (session_id, trace_id)', async () => {
  const onLite = await listOn(new SqliteReader(stores.lite.db));
  const liteSteps = (stores.lite.db.prepare(`EXPLAIN QUERY PLAN ${onLite.walk.sql}`).all(...(onLite.walk.params as unknown[])) as Array<{ detail: string }>).map((s) => s.detail);
  // eslint-disable-next-line no-console
  console.log(`SQLite:\n${liteSteps.join('\n')}`);
  expect(liteSteps.join('\n')).toMatch(/SCAN t USING (COVERING )?INDEX idx_trace_created/);
  expect(liteSteps.join('\n')).toMatch(/trace_extra_session USING COVERING INDEX idx_trace_extra_session \(session_id=\?\)/);
  expect(liteSteps.join('\n')).not.toMatch(/TEMP B-TREE/);
  const onPg = await listOn(new PgReader(poolOf(stores.ds)));
  const { rows } = await poolOf(stores.ds).query(`EXPLAIN ${numberPlaceholders(onPg.walk.sql)}`, onPg.walk.params);
  const plan = rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
  // eslint-disable-next-line no-console
  console.log(`PostgreSQL:\n${plan}`);
  expect(plan).toMatch(/Index (Only )?Scan Backward using idx_trace_created on trace t/);
  expect(plan).toMatch(/(Index Only Scan|Bitmap Index Scan) (using|on) idx_trace_extra_session/);
  expect(plan).not.toMatch(/Seq Scan on trace\b/);
});
