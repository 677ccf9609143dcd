// An audit's page of datapath flows on PostgreSQL, read from the newest distinct flow ids first
// (logical-flow-store.ts newestFlowsOf), answers as SQLite's plan does, page by page; and a trace
// whose flow row is missing (no foreign key holds it) does not leave a page short: the plan that
// reads every row answers then.
import { readAudit } from '../../src/logical-flows/logical-flow-store';
import { PgReader, SqliteReader } from '../../src/storage/sql';
import { CITES_HINT } from '../../src/traces/citation-store';
import type { MigratedSqlite } from '../support/migrated-sqlite';
import { openTwoStores, T0, iso, SLOT_BASE, type TwoStores } from '../support/two-stores';
import type { DataSource } from 'typeorm';
import type { Pool } from 'pg';

jest.setTimeout(60_000);

const ACL = '5a0c2e55-0000-4000-8000-0000000000a1';

let stores: TwoStores;
let ds: DataSource;
let pool: Pool;
let lite: MigratedSqlite;

const both = (sql: string, ...params: unknown[]): Promise<void> => stores.both(sql, ...params);

beforeAll(async () => {
  stores = await openTwoStores('audit_flows');
  ({ ds, pool, lite } = stores);
  await both(`INSERT INTO ovn_object (id, hash, db, tbl, uuid, name, summary, detail) VALUES (1, 'h1', 'OVN_Northbound', 'ACL', ?, NULL, 'ACL: drop', '{}')`, ACL);
  // Flows 1..6, two traces each (trace t on flow ceil(t / 2)); the ACL cited by traces 1, 3, 4, 6, 8,
  // 9, 11, 12, and 13, which has no flow (an ingested pass). Ids are SLOT_BASE + n.
  for (let f = 1; f <= 6; f++)
    await both(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, '0x0', 'in_port(1)', 'drop', 1, 98, 'poller')`,
      SLOT_BASE + f, `ufid-${f}`, iso(T0 + f * 1000), iso(T0 + f * 1000 + 500),
    );
  const verdict = JSON.stringify({ kinds: ['drop'], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null });
  for (let t = 1; t <= 13; t++)
    await both(
      `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES (?, 'hv1', ?, ?, 'trace', 'br-int', '0x0', '', '', '', 'drop', ',drop,', ?, 0, ?)`,
      SLOT_BASE + t, iso(T0 + t * 500), t <= 12 ? SLOT_BASE + Math.ceil(t / 2) : null, verdict, Buffer.alloc(0),
    );
  const cited = [1, 3, 4, 6, 8, 9, 11, 12, 13].reduce((bits, t) => bits | (1 << t), 0);
  await both('INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (?, 1, ?, ?)', CITES_HINT, SLOT_BASE / 32, cited);
});

afterAll(async () => {
  await stores?.close();
});

/** Every page of the ACL's audit, `limit` flows a page, following `next`. */
async function pages(q: PgReader | SqliteReader, limit: number): Promise<string[]> {
  const out: string[] = [];
  let cursor: number | undefined;
  for (;;) {
    const { body } = await readAudit(q, { of: 'northbound', table: 'ACL', uuid: ACL, limit, cursor });
    out.push(body);
    const next = (JSON.parse(body) as { next: string | null }).next;
    if (!next) return out;
    cursor = Number(Buffer.from(next, 'base64url').toString().replace(/^id:/, ''));
  }
}

/** Every page on PostgreSQL (its statements recorded) and on SQLite: the same bytes. */
async function pagedOnBoth(): Promise<{ onPg: string[]; seen: string[] }> {
  const seen: string[] = [];
  const reader = new PgReader(pool);
  const recording = Object.assign(Object.create(reader) as PgReader, {
    all: (sql: string, ...params: unknown[]) => (seen.push(sql), reader.all(sql, ...params)),
  });
  const onPg = await pages(recording, 2);
  expect(onPg).toEqual(await pages(new SqliteReader(lite.db), 2));
  return { onPg, seen };
}

it('pages the cited flows newest first, as SQLite does, reading only the page rows', async () => {
  const { onPg, seen } = await pagedOnBoth();
  expect(onPg.map((b) => (JSON.parse(b) as { items: Array<{ id: number }> }).items.map((i) => i.id - SLOT_BASE))).toEqual([[6, 5], [4, 3], [2, 1]]);
  expect(seen.filter((s) => s.includes('SELECT f.wanted'))).toHaveLength(3);
});

it('a cited trace whose flow row is gone: the page is still whole, and the same on both', async () => {
  await both('DELETE FROM datapath_flow WHERE id = ?', SLOT_BASE + 5);
  const { onPg, seen } = await pagedOnBoth();
  expect(onPg.map((b) => (JSON.parse(b) as { items: Array<{ id: number }> }).items.map((i) => i.id - SLOT_BASE))).toEqual([[6, 4], [3, 2], [1]]);
  // The first page met the gap and was read again by the plan that reads every row; the others not.
  expect(seen.filter((s) => s.includes('SELECT d.* FROM datapath_flow d WHERE d.id IN'))).toHaveLength(1);
});
