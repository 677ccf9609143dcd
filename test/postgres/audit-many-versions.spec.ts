// An audit of a row with many stored versions on PostgreSQL (citation-store.ts refsAndTracesCiting).
// With PostgreSQL every chassis keeps its own copy of a logical flow's snapshot (the content-hash
// indexes are not unique, docs/multi-chassis.md), so a DP-group flow has a version per chassis and
// per change of its datapaths, each cited by nearly every trace of its chassis. Its first audit
// (and the first after 'many' is forgotten) must read about one chunk of citation rows, as the
// read of the versions one by one did (it stops once more than 10,000 citations were counted), not
// a chunk for every version. And a row whose versions' citations need more than that first read,
// but are fewer than 10,000, gets every citing trace: the same bytes as SQLite.
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { countQueries, type QueryCounts } from '../../bench/api/postgres-lib';
import { readAudit, type AuditQuery } from '../../src/logical-flows/logical-flow-store';
import { PgReader, SqliteReader, type SqlReader } from '../../src/storage/sql';
import { CITES_HINT, CITES_LFLOW } from '../../src/traces/citation-store';
import type { MigratedSqlite } from '../support/migrated-sqlite';
import { openTwoStores, T0, iso, SLOT_BASE, type TwoStores } from '../support/two-stores';

jest.setTimeout(120_000);

const DP_GROUP = '1f100000-0000-4000-8000-0000000000d9';
const ACL = '5a0c2e55-0000-4000-8000-0000000000b2';
/** The DP-group flow's versions (one a chassis), each cited by every trace of BUCKETS buckets. */
const VERSIONS = 40;
const BUCKETS = 1100;
/** The citation rows a read of bucket rows takes at once (citation-store.ts CHUNK). */
const CHUNK = 1024;

let stores: TwoStores;
let ds: DataSource;
let pool: Pool;
let lite: MigratedSqlite;
let counted: QueryCounts;

const both = (sql: string, ...params: unknown[]): Promise<void> => stores.both(sql, ...params);

/** Citation rows (kind, ref, buckets from `first`, `count` of them, each with `bits`) on both stores. */
async function cite(kind: number, ref: number, first: number, count: number, bits: number): Promise<void> {
  const ins = lite.db.prepare('INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (?, ?, ?, ?)');
  lite.db.transaction(() => {
    for (let b = 0; b < count; b++) ins.run(kind, ref, first + b, bits);
  })();
  await pool.query('INSERT INTO trace_citation (kind, ref, bucket, bits) SELECT $1, $2, $3::bigint + g, $4 FROM generate_series(0, $5::int - 1) g', [kind, ref, first, bits, count]);
}

beforeAll(async () => {
  stores = await openTwoStores('audit_many_versions');
  ({ ds, pool, lite } = stores);
  counted = countQueries(pool);
  for (let v = 0; v < VERSIONS; v++)
    await both(
      `INSERT INTO logical_flow_snapshot (id, uuid, content_hash, datapaths, pipeline, table_id, stage, priority, match, actions, source, stage_hint, external_ids, first_seen, last_seen)
       VALUES (?, ?, ?, '[]', 'ingress', 1, 'ls_in_acl', 100, '1', 'next;', NULL, NULL, '{}', ?, ?)`,
      100 + v, DP_GROUP, `c${v}`, iso(T0), iso(T0),
    );
  // The ACL: three versions, each cited by one trace in each of 500 buckets (1,500 citations, so
  // listed rather than walked), the first bucket's by traces 1..6.
  for (const id of [1, 2, 3])
    await both(`INSERT INTO ovn_object (id, hash, db, tbl, uuid, name, summary, detail) VALUES (?, ?, 'OVN_Northbound', 'ACL', ?, NULL, 'ACL: drop', '{}')`, id, `h${id}`, ACL);
  for (let f = 1; f <= 3; f++)
    await both(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, '0x0', 'in_port(1)', 'drop', 1, 98, 'poller')`,
      SLOT_BASE + f, `ufid-${f}`, iso(T0 + f * 1000), iso(T0 + f * 1000 + 500),
    );
  for (let t = 1; t <= 6; t++)
    await both(
      `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, consistent, verdict_kinds, verdict, path_id, step_count, steps)
       VALUES (?, 'hv1', ?, ?, 'trace', 'br-int', '0x0', 'in_port=1', '', '', 'drop', 1, ',drop,', ?, NULL, 0, ?)`,
      SLOT_BASE + t, iso(T0 + t * 500), SLOT_BASE + Math.ceil(t / 2), JSON.stringify({ kinds: ['drop'], trace: t }), Buffer.alloc(0),
    );
  for (let v = 0; v < VERSIONS; v++) await cite(CITES_LFLOW, 100 + v, SLOT_BASE / 32, BUCKETS, 0xffffffff);
  // Version 1 in the first bucket: traces 1, 2; version 2: 3, 4; version 3: 5, 6; one more bit
  // each in 499 buckets past the traces (their traces do not exist: only the count picks the plan).
  for (const v of [1, 2, 3]) {
    await cite(CITES_HINT, v, SLOT_BASE / 32, 1, (1 << (2 * v - 1)) | (1 << (2 * v)));
    await cite(CITES_HINT, v, SLOT_BASE / 32 + 1, 499, 1 << v);
  }
});

afterAll(async () => {
  await stores?.close();
});

async function page(q: SqlReader, a: AuditQuery): Promise<{ body: string; statements: number; rows: number }> {
  counted.statements = 0;
  counted.rows = 0;
  const { body } = await readAudit(q, a);
  return { body, statements: counted.statements, rows: counted.rows };
}

it("a DP-group flow's first audit, a version a chassis: about one chunk of citation rows, not one a version; the same bytes as SQLite", async () => {
  const a: AuditQuery = { of: 'logical-flow', uuid: DP_GROUP, limit: 2 };
  const first = await page(new PgReader(pool), a);
  const onLite = await page(new SqliteReader(lite.db), a);
  expect(first.body).toEqual(onLite.body);
  expect((JSON.parse(first.body) as { items: Array<{ id: number }> }).items.map((i) => i.id - SLOT_BASE)).toEqual([3, 2]);
  expect(first.statements).toBe(2);
  // The versions' ids, one chunk of the first version's buckets (32,768 citations: over 10,000),
  // the page's flow rows (limit + 1). Before: a chunk for each of the 40 versions, 40,960 rows.
  expect(first.rows).toBeLessThanOrEqual(VERSIONS + CHUNK + a.limit + 1);
});

it("an ACL whose versions' citations take more than one chunk, yet are under 10,000: every citing trace, the same bytes as SQLite", async () => {
  const a: AuditQuery = { of: 'northbound', table: 'ACL', uuid: ACL, limit: 5 };
  const onPg = await page(new PgReader(pool), a);
  const onLite = await page(new SqliteReader(lite.db), a);
  expect(onPg.body).toEqual(onLite.body);
  const items = (JSON.parse(onPg.body) as { items: Array<{ id: number; traces: Array<{ id: number }> }> }).items;
  expect(items.map((i) => [i.id - SLOT_BASE, i.traces.map((t) => t.id - SLOT_BASE)])).toEqual([
    [3, [6, 5]],
    [2, [4, 3]],
    [1, [2, 1]],
  ]);
});
