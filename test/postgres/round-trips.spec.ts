// How many statements (round trips) a read route sends to PostgreSQL, and that the fewer give the
// same bytes as SQLite (bench/api/RESULTS-postgres.md, stop 27: on PostgreSQL each statement is a
// pg Query, its rows' parsing and a write that wakes a backend; they were most of the event
// loop's time on the audits). An audit's page: its row's versions with their first citations,
// then its flows with their traces: 2 (it was 4), whichever plan. A port's page of traces: the
// traces with their port rows: 1 (it was 2, and the port's existence probe a third: see
// test/unit/traces/port-probe.spec.ts).
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { countQueries, type QueryCounts } from '../../bench/api/postgres-lib';
import { readAudit, type AuditQuery } from '../../src/logical-flows/logical-flow-store';
import { PgReader, SqliteReader, type SqlReader } from '../../src/storage/sql';
import { CITES_HINT, CITES_LFLOW } from '../../src/traces/citation-store';
import { TraceReadStore } from '../../src/traces/trace-read-store';
import type { MigratedSqlite } from '../support/migrated-sqlite';
import { openTwoStores, T0, iso, SLOT_BASE, type TwoStores } from '../support/two-stores';

jest.setTimeout(60_000);

const ACL = '5a0c2e55-0000-4000-8000-0000000000a1';
const LFLOW = '1f100000-0000-4000-8000-000000000001';
/** Buckets of 32 citing bits each for the DP-group-like flow: 12,800 citations, over the audits' 10,000. */
const DENSE = 400;

let stores: TwoStores;
let ds: DataSource;
let pool: Pool;
let lite: MigratedSqlite;
let counted: QueryCounts;

const both = (sql: string, ...params: unknown[]): Promise<void> => stores.both(sql, ...params);

beforeAll(async () => {
  stores = await openTwoStores('round_trips');
  ({ ds, pool, lite } = stores);
  counted = countQueries(pool);
  // Two stored versions of the ACL (both cited), one of the logical flow.
  for (const id of [1, 3])
    await both(`INSERT INTO ovn_object (id, hash, db, tbl, uuid, name, summary, detail) VALUES (?, ?, 'OVN_Northbound', 'ACL', ?, NULL, 'ACL: drop', '{}')`, id, `h${id}`, ACL);
  await both(
    `INSERT INTO logical_flow_snapshot (id, uuid, content_hash, datapaths, pipeline, table_id, stage, priority, match, actions, source, stage_hint, external_ids, first_seen, last_seen)
     VALUES (7, ?, 'c7', '[]', 'ingress', 1, 'ls_in_acl', 100, '1', 'next;', NULL, NULL, '{}', ?, ?)`,
    LFLOW, iso(T0), iso(T0),
  );
  for (let f = 1; f <= 6; f++)
    await both(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, '0x0', 'in_port(1)', 'drop', 1, 98, 'poller')`,
      SLOT_BASE + f, `ufid-${f}`, iso(T0 + f * 1000), iso(T0 + f * 1000 + 500),
    );
  // Paths 1 and 2 (path 3 is cited but gone: its verdict reads null).
  for (const p of [1, 2])
    await both(`INSERT INTO path (id, chassis, created_at, updated_at, verdict) VALUES (?, 'hv1', ?, ?, ?)`, SLOT_BASE + p, iso(T0), iso(T0), JSON.stringify({ kinds: ['output'], path: p, note: 'é "q" \\' }));
  // Traces 1..12 on flow ceil(t / 2), 13 without a flow; consistent null / false / true in turn;
  // each with port rows (lsp1 in all, lsp2 as outport in the odd ones).
  for (let t = 1; t <= 13; t++) {
    const at = iso(T0 + t * 500);
    await both(
      `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, consistent, verdict_kinds, verdict, path_id, step_count, steps)
       VALUES (?, 'hv1', ?, ?, 'trace', 'br-int', '0x0', 'in_port=1', '', '', 'drop', ?, ',drop,', ?, ?, 0, ?)`,
      SLOT_BASE + t, at, t <= 12 ? SLOT_BASE + Math.ceil(t / 2) : null, [null, 0, 1][t % 3], JSON.stringify({ kinds: ['drop'], trace: t, reason: t % 2 ? 'ünïcode \n' : null }),
      t % 4 === 0 ? null : SLOT_BASE + (t % 4), Buffer.alloc(0),
    );
    await both(`INSERT INTO trace_port (trace_id, port_name, role, scope, port_uuid, binding_uuid, datapath, created_at) VALUES (?, 'lsp1', 'inport', 'pass', ?, NULL, 'ls1', ?)`, SLOT_BASE + t, `u-${t}`, at);
    await both(`INSERT INTO trace_port (trace_id, port_name, role, scope, port_uuid, binding_uuid, datapath, created_at) VALUES (?, 'lsp1', 'inport', 'path', NULL, 'b', NULL, ?)`, SLOT_BASE + t, at);
    if (t % 2) await both(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, 'lsp2', 'outport', 'pass', ?)`, SLOT_BASE + t, at);
  }
  // The ACL: version 1 cited by traces 1, 3, 4, 13, version 3 by 4, 6, 8, 9, 11, 12.
  const bits = (ts: number[]) => ts.reduce((b, t) => (b | (1 << t)) >>> 0, 0);
  await both('INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (?, 1, ?, ?)', CITES_HINT, SLOT_BASE / 32, bits([1, 3, 4, 13]));
  await both('INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (?, 3, ?, ?)', CITES_HINT, SLOT_BASE / 32, bits([4, 6, 8, 9, 11, 12]));
  // The logical flow: cited by every trace of DENSE buckets (traces past 13 do not exist: only the
  // count picks the plan), so its audit walks the flows newest first.
  for (let b = 0; b < DENSE; b++) await both('INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (?, 7, ?, ?)', CITES_LFLOW, SLOT_BASE / 32 + b, 0xffffffff);
});

afterAll(async () => {
  await stores?.close();
});

/** Every page of an audit, `limit` flows a page, following `next`, with the statements each sent to PostgreSQL. */
async function auditPages(q: SqlReader, a: AuditQuery): Promise<{ bodies: string[]; statements: number[] }> {
  const bodies: string[] = [];
  const statements: number[] = [];
  let cursor: number | undefined;
  for (;;) {
    counted.statements = 0;
    const { body } = await readAudit(q, { ...a, cursor });
    statements.push(counted.statements);
    bodies.push(body);
    const next = (JSON.parse(body) as { next: string | null }).next;
    if (!next) return { bodies, statements };
    cursor = Number(Buffer.from(next, 'base64url').toString().replace(/^id:/, ''));
  }
}

it("an ACL's audit (few citations, two versions): two statements a page, the same bytes as SQLite", async () => {
  const a: AuditQuery = { of: 'northbound', table: 'ACL', uuid: ACL, limit: 2 };
  const onPg = await auditPages(new PgReader(pool), a);
  const onLite = await auditPages(new SqliteReader(lite.db), a);
  expect(onPg.bodies).toEqual(onLite.bodies);
  expect(onPg.bodies.map((b) => (JSON.parse(b) as { items: Array<{ id: number }> }).items.map((i) => i.id - SLOT_BASE))).toEqual([[6, 5], [4, 3], [2, 1]]);
  expect(onPg.statements).toEqual([2, 2, 2]);
});

it("a logical flow cited by more than 10,000 traces (the walk): two statements a page, first and remembered, the same bytes", async () => {
  const a: AuditQuery = { of: 'logical-flow', uuid: LFLOW, limit: 4 };
  const reader = new PgReader(pool);
  const first = await auditPages(reader, a);
  const again = await auditPages(reader, a);
  const onLite = await auditPages(new SqliteReader(lite.db), a);
  expect(first.bodies).toEqual(onLite.bodies);
  expect(again.bodies).toEqual(onLite.bodies);
  expect(first.bodies.map((b) => (JSON.parse(b) as { items: Array<{ id: number }> }).items.map((i) => i.id - SLOT_BASE))).toEqual([[6, 5, 4, 3], [2, 1]]);
  expect([...first.statements, ...again.statements]).toEqual([2, 2, 2, 2]);
});

it('an uncited row: one statement, an empty page, not cited', async () => {
  counted.statements = 0;
  const r = await readAudit(new PgReader(pool), { of: 'northbound', table: 'ACL', uuid: '5a0c2e55-0000-4000-8000-0000000000ff', limit: 5 });
  expect(counted.statements).toBe(1);
  expect(r).toEqual({ body: '{"items":[],"next":null}', cited: false });
  expect(await readAudit(new SqliteReader(lite.db), { of: 'northbound', table: 'ACL', uuid: '5a0c2e55-0000-4000-8000-0000000000ff', limit: 5 })).toEqual(r);
});

it("a port's page of traces: one statement, the same pages as SQLite", async () => {
  for (const role of [undefined, 'outport'] as const) {
    const pages = async (q: SqlReader) => {
      const store = new TraceReadStore(q);
      const out: Array<{ json: string; statements: number }> = [];
      let before: { at: string; id: number } | undefined;
      for (;;) {
        counted.statements = 0;
        const page = await store.list({ portName: role ? 'lsp2' : 'lsp1', role, limit: 5, withSteps: false, before });
        out.push({ json: JSON.stringify(page), statements: counted.statements });
        if (!page.next) return out;
        const last = page.items[page.items.length - 1];
        before = { at: last.createdAt, id: last.id };
      }
    };
    const onPg = await pages(new PgReader(pool));
    const onLite = await pages(new SqliteReader(lite.db));
    expect(onPg.map((p) => p.json)).toEqual(onLite.map((p) => p.json));
    expect(onPg.map((p) => p.statements)).toEqual(onPg.map(() => 1));
    expect(onPg.length).toBe(role ? 2 : 3);
  }
});
