// Writer slots given back (src/storage/slot-take.ts): a DaemonSet of agents on emptyDir spools claims a
// slot at every pod restart and node upgrade, and with slots claimed for good a database ran out of
// its 8,191 (500 nodes upgraded monthly: ~16 months) and no agent could start. A claim now takes the
// lowest slot silent for LIVETRACE_SLOT_REUSE_DAYS whose range PostgreSQL holds no row of, before a
// new one. The spool that held such a slot, back, is refused as a copy is (slot-claim.ts); running,
// it no longer tells PostgreSQL anything of the slot (ship-synced.ts).
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { MAX_SLOT, SLOT_BITS } from '../../src/storage/spool';
import { reusable, slotRanged } from '../../src/storage/slot-take';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';
import { openMigratedSqlite, closeMigratedSqlite } from '../support/migrated-sqlite';
import { withClockOff } from '../support/clock';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const DAY = 86_400_000;
const ago = (days: number): string => new Date(Date.now() - days * DAY).toISOString();
const base = (slot: number): bigint => BigInt(slot) << BigInt(SLOT_BITS);

/** writer_slot rows as left by spools gone `days` ago: claimed then, heard then (null: never heard). */
async function slotsGone(url: string, slots: number[], days: number, heard = true): Promise<void> {
  for (const slot of slots)
    await pgRows(url, 'INSERT INTO writer_slot (slot, writer, claimed_at, heard_at, traced_through, traced_flow_id) VALUES ($1, $2, $3, $4, $4, $5)', [
      slot,
      `agent@gone#${slot}`,
      ago(days + 1),
      heard ? ago(days) : null,
      heard ? String(base(slot) + 7n) : null,
    ]);
}

/**
 * One row of `table` with `col` in the slot's range: every other NOT NULL column 0 or 'x' (the rows
 * are only looked for). A bucket-like shift is not probed (slotRanged lists none).
 */
async function rowIn(url: string, table: string, col: string, slot: number): Promise<void> {
  const cols = (await pgRows(
    url,
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_name = $1 AND (is_nullable = 'NO' OR column_name = $2) ORDER BY ordinal_position`,
    [table, col],
  )) as Array<{ name: string; type: string }>;
  const values = cols.map((c) => (c.name === col ? String(base(slot) + 1n) : /int|numeric/.test(c.type) ? '0' : 'x'));
  await pgRows(url, `INSERT INTO "${table}" (${cols.map((c) => `"${c.name}"`).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, values);
}

async function probed(): Promise<Array<{ table: string; col: string }>> {
  const spool = await openMigratedSqlite('livetrace-spool-', { writer: false });
  try {
    return slotRanged(spool.db);
  } finally {
    await closeMigratedSqlite(spool);
  }
}

describe('writer slots given back (real PostgreSQL)', () => {
  it('a claim takes the lowest slot silent past LIVETRACE_SLOT_REUSE_DAYS whose range PostgreSQL holds nothing of, reset as a fresh claim; a recent one stays its own', async () => {
    const url = await spools.pg().database('slot_reuse_lowest');
    const first = await storeOn(url);
    expect(first.central!.slot).toBe(1);
    // 2: silent 100 days, never heard (a pod that crashed before it shipped: claimed_at only).
    // 3: claimed 100 days ago but heard yesterday. 4: silent 100 days. 5: 30 days.
    await slotsGone(url, [2], 100, false);
    await slotsGone(url, [3], 1);
    await pgRows(url, 'UPDATE writer_slot SET claimed_at = $1 WHERE slot = 3', [ago(100)]);
    await slotsGone(url, [4], 100);
    await slotsGone(url, [5], 30);
    // What retention took from slot 4 while it was silent, noted for its agent: gone with the slot.
    await pgRows(url, 'INSERT INTO pruned_lifetime (id) VALUES ($1)', [String(base(4) + 3n)]);
    const taken = [];
    for (let i = 0; i < 3; i++) taken.push((await storeOn(url, newSpool(), { LIVETRACE_SLOT_REUSE_DAYS: '90' })).central!.slot);
    expect(taken).toEqual([2, 4, 6]);
    const rows = await pgRows(url, 'SELECT slot, writer, claimed_at, heard_at, traced_through, traced_flow_id FROM writer_slot WHERE slot IN (2, 4) ORDER BY slot');
    for (const r of rows) {
      expect(r.writer).toMatch(/^agent@.*#/);
      expect(r.writer).not.toMatch(/gone/);
      // By PostgreSQL's clock, as heard_at is: one behind would make a fresh claim look silent.
      expect(Date.parse(String(r.claimed_at))).toBeGreaterThan(Date.now() - DAY);
    }
    // heard_at may be set again by the new spool's shipper since; traced_flow_id is its own, never the old one's.
    for (const r of rows) expect(r.traced_flow_id === null || BigInt(String(r.traced_flow_id)) !== base(Number(r.slot)) + 7n).toBe(true);
    expect(await pgRows(url, 'SELECT id FROM pruned_lifetime')).toEqual([]);
  });

  it('a silent slot still holding a row in any slot-ranged table is not given back', async () => {
    const url = await spools.pg().database('slot_reuse_held');
    await (await storeOn(url)).onApplicationShutdown();
    const tables = await probed();
    // Slot 2 + i holds one row of tables[i]; the one after them holds nothing.
    const held = tables.map((_, i) => 2 + i);
    await slotsGone(url, [...held, 2 + tables.length], 200);
    for (const [i, t] of tables.entries()) await rowIn(url, t.table, t.col, held[i]);
    expect((await storeOn(url, newSpool())).central!.slot).toBe(2 + tables.length);
  });

  it('the probes cover every table of PostgreSQL keyed by a writer\'s ids, each through an index', async () => {
    const url = await spools.pg().database('slot_reuse_tables');
    await (await storeOn(url)).onApplicationShutdown();
    const tables = await probed();
    const keyed = await pgRows(
      url,
      `SELECT c.relname AS table FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
       WHERE i.indisprimary AND n.nspname = 'public' AND format_type(a.atttypid, a.atttypmod) = 'bigint' ORDER BY 1`,
    );
    // Not probed: trace_citation's key leads with its kind (its rows go with their traces' buckets);
    // trace_session_counter's are a session's (trace_session is probed); pruned_lifetime is a note for
    // the slot's old spool, cleared with the claim.
    expect(keyed.map((r) => r.table).filter((t) => !['trace_citation', 'trace_session_counter', 'pruned_lifetime'].includes(String(t)))).toEqual(
      [...new Set(tables.map((t) => t.table))].sort(),
    );
    for (const t of tables) {
      const plan = (await pgRows(url, `EXPLAIN SELECT 1 FROM "${t.table}" WHERE "${t.col}" >= $1::bigint AND "${t.col}" < $2::bigint LIMIT 1`, ['1099511627776', '2199023255552']))
        .map((r) => String(r['QUERY PLAN']))
        .join('\n');
      expect({ table: t.table, plan }).toEqual({ table: t.table, plan: expect.stringMatching(/Index (Only )?Scan/) });
    }
    // The claim's statement: the silent slots in order, then one subplan a table run a candidate at a
    // time through its index (seq scans off: the tables here are empty, a seq scan the cheaper), never
    // a join or a hash over a whole table.
    await pgRows(url, `INSERT INTO writer_slot (slot, writer, claimed_at) SELECT n, 'gone#' || n, '2020-01-01T00:00:00.000Z' FROM generate_series(2, ${MAX_SLOT}) n`);
    const c = new Client({ connectionString: url });
    await c.connect();
    let plan: string;
    try {
      await c.query('SET enable_seqscan = off');
      plan = (await c.query(`EXPLAIN ${reusable(tables)}`, [90])).rows.map((r: Record<string, unknown>) => String(r['QUERY PLAN'])).join('\n');
    } finally {
      await c.end();
    }
    expect(plan).not.toMatch(/Join|Hash|hashed/);
    const scans = [...plan.matchAll(/(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan) (?:using \S+ )?on (\w+)/g)].map((m) => [m[2], m[1]]);
    expect(scans.filter(([table, how]) => table !== 'writer_slot' && !/^Index (Only )?Scan$/.test(how))).toEqual([]);
    expect(scans.map(([table]) => table).sort()).toEqual(['writer_slot', ...tables.map((t) => t.table)].sort());
  });

  it('LIVETRACE_SLOT_REUSE_DAYS=0 never gives a slot back; with every slot claimed, one silent and empty still lets an agent start', async () => {
    const url = await spools.pg().database('slot_reuse_full');
    await (await storeOn(url)).onApplicationShutdown();
    await slotsGone(url, [2], 400);
    expect((await storeOn(url, newSpool(), { LIVETRACE_SLOT_REUSE_DAYS: '0' })).central!.slot).toBe(3);
    // Every slot claimed (inserted: 8,191 starts would take an hour), all of them recent but 100.
    await pgRows(url, `INSERT INTO writer_slot (slot, writer, claimed_at) SELECT n, 'gone#' || n, $1 FROM generate_series(4, ${MAX_SLOT}) n WHERE n <> 100`, [ago(1)]);
    await slotsGone(url, [100], 400);
    await expect(storeOn(url, newSpool(), { LIVETRACE_SLOT_REUSE_DAYS: '0' })).rejects.toThrow(`no writer slot left (${MAX_SLOT} claimed)`);
    expect((await storeOn(url, newSpool())).central!.slot).toBe(2);
    expect((await storeOn(url, newSpool())).central!.slot).toBe(100);
    await expect(storeOn(url, newSpool())).rejects.toThrow(/no writer slot left .*LIVETRACE_SLOT_REUSE_DAYS/);
  });

  it('the spool that held a slot given back is refused when it comes back, and running it tells PostgreSQL nothing of the slot', async () => {
    const url = await spools.pg().database('slot_reuse_back');
    const file = newSpool();
    const old = await storeOn(url, file);
    expect(old.central!.slot).toBe(1);
    const [flow] = await old.writer.submit((tx) => [
      Number(
        tx
          .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv-test', 'u1', 't0', 't1', 't1', '0', 'in_port(1)', 'drop', 1, 1, 'poller')`)
          .run().lastInsertRowid,
      ),
    ]);
    await old.shipper!.synced(30_000);
    // Running, cut off for 100 days, its rows long pruned centrally: the slot is taken.
    await pgRows(url, 'DELETE FROM datapath_flow');
    await pgRows(url, 'UPDATE writer_slot SET claimed_at = $1, heard_at = $1, traced_through = $1', [ago(100)]);
    const taker = await storeOn(url, newSpool());
    expect(taker.central!.slot).toBe(1);
    const takerName = taker.db.prepare(`SELECT value FROM meta WHERE key = 'writer_id'`).pluck().get();
    await taker.onApplicationShutdown();
    // The old spool, caught up, tells what it shipped (its clock a minute on: a word is due), never
    // on the slot it no longer holds: its lifetimes are not the slot's now.
    await withClockOff(60_000, () => old.shipper!.shipSome());
    const [slot] = await pgRows(url, 'SELECT writer, traced_flow_id FROM writer_slot WHERE slot = 1');
    expect(slot.writer).toBe(takerName);
    expect(slot.traced_flow_id).not.toBe(String(flow));
    // And what it writes next is refused.
    await old.writer.submit((tx) => tx.stmt(`INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', 't', 'u', '{}')`).run());
    await expect(old.shipper!.shipSome()).rejects.toThrow(/^writer slot 1 is claimed in PostgreSQL by agent@.*, not by this spool/);
    await old.onApplicationShutdown();
    // Restarted on its spool: refused, as a copy is.
    await expect(storeOn(url, file)).rejects.toThrow(/^writer slot 1 is claimed in PostgreSQL by agent@.*, not by this spool \(agent@.*\): a copy of this spool started since/);
    const db = new Database(file);
    expect(db.prepare(`SELECT value FROM meta WHERE key = 'writer_slot'`).get()).toEqual({ value: '1' });
    db.close();
  });
});
