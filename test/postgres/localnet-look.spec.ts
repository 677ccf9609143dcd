// The localnet hop's look (PathStore.localnetPasses, paths/localnet-hops.ts) on a real PostgreSQL
// (scripts/pg-cluster): once datapath_flow holds flow tables' worth of lifetimes, some that came in by the
// localnet port (20,000 live, as many removed long before the window), each direction reads the live ones and
// those removed since the window opened from its index (idx_dpflow_localnet_in / _out), not every
// lifetime of the port nor the chassis's flows (EXPLAIN after ANALYZE).
import type { DataSource } from 'typeorm';
import { PathStore } from '../../src/paths/path-store';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { PgReader } from '../../src/storage/sql';
import { startPostgres, TestPostgres } from '../support/postgres';

jest.setTimeout(120_000);

let pg: TestPostgres;
let ds: DataSource;

beforeAll(async () => {
  pg = startPostgres();
  ds = await openPostgres(await pg.database('localnet_look'), 2);
  const ids = Array.from({ length: 40_000 }, (_, i) => 100 + i);
  // Three chassis's flow tables (20,000 live lifetimes), most of them their VMs' own flows, and as
  // many removed over the day before the window; one lifetime in seven came in by the localnet port
  // (hv2, hv3) or left by it (hv1).
  await ds.query(
    `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source, localnet_in, localnet_out)
     SELECT id, CASE WHEN id % 3 = 0 THEN 'hv1' WHEN id % 3 = 1 THEN 'hv2' ELSE 'hv3' END, 'f' || id,
            to_char(timestamp '2026-12-04 03:00:00' + (id * 4 || ' seconds')::interval, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            to_char(timestamp '2026-12-04 03:00:05' + (id * 4 || ' seconds')::interval, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            CASE WHEN id < 20100 THEN NULL ELSE to_char(timestamp '2026-12-04 03:00:10' + (id * 4 || ' seconds')::interval, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
            '0x0', 'in_port(2)', 'drop', 1, 98, 'poller',
            CASE WHEN id % 3 <> 0 AND id % 7 = 0 THEN 'prov-ln' END, CASE WHEN id % 3 = 0 AND id % 7 = 0 THEN 'prov-ln' END
       FROM unnest($1::bigint[]) AS u(id)`,
    [ids],
  );
  await ds.query('ANALYZE datapath_flow');
});

afterAll(async () => {
  await ds?.destroy();
  pg?.stop();
});

it.each([
  ['in', 'idx_dpflow_localnet_in'],
  ['out', 'idx_dpflow_localnet_out'],
] as const)('%s: reads %s by port and removal', async (direction, index) => {
  const seen: Array<{ sql: string; params: unknown[] }> = [];
  const reader = new PgReader(poolOf(ds));
  const recording = Object.assign(Object.create(reader) as PgReader, {
    all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
  });
  const look = await new PathStore({ db: undefined as never, query: recording }).localnetPasses(direction, ['prov-ln'], direction === 'in' ? 'hv1' : 'hv2', {
    from: '2026-12-05T02:59:59.000Z', to: '2026-12-05T03:00:01.000Z', near: '2026-12-05T03:00:00.000Z',
  });
  // No trace holds these flows: none is a candidate, whatever the plan.
  expect(look).toEqual({ rows: [], bounded: false, reach: { before: null, after: null } });
  expect(seen).toHaveLength(2);
  for (const { sql, params } of seen) {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    const plan = ((await ds.query(`EXPLAIN ${text}`, params)) as Array<{ 'QUERY PLAN': string }>).map((r) => r['QUERY PLAN']);
    const seeks = plan.flatMap((l, i) => (new RegExp(`Index (Only )?Scan (using|on) ${index}\\b`).test(l) ? [plan[i + 1]] : []));
    // The live lifetimes and those removed since the window opened, each a range of the index.
    expect(seeks).toEqual([
      expect.stringMatching(new RegExp(`Index Cond: \\(\\(localnet_${direction} = .*\\(removed_at IS NULL\\)`)),
      expect.stringMatching(new RegExp(`Index Cond: \\(\\(localnet_${direction} = .*\\(removed_at >= `)),
    ]);
    expect(plan.filter((l) => /Seq Scan on datapath_flow/.test(l))).toEqual([]);
  }
});
