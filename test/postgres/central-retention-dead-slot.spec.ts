// A writer slot gone for good (its spool lost: a DaemonSet's emptyDir, a node reinstalled) left its
// OpenFlow rules, logical flow snapshots and OVN objects in PostgreSQL for ever: PostgreSQL's retention
// keeps them for the live slots (bounded by the OVN databases), so every lost spool of an agent that had
// traced left a full copy, and its slot was never given back (slot-take.ts wants its range empty). Now a
// slot silent past LIVETRACE_SLOT_REUSE_DAYS with no traffic row left has them deleted by the round
// (retention/central-dead-slot-store.ts), and a claim takes the slot. Real PostgreSQL, real spools
// written by TraceStore from the captured replies, the real RetentionService.
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../src/metrics/metrics.service';
import { PathStore } from '../../src/paths/path-store';
import { RetentionService } from '../../src/retention/retention.service';
import { slotRanged } from '../../src/storage/slot-take';
import { SLOT_BITS } from '../../src/storage/spool';
import type { StoreService } from '../../src/storage/store.service';
import { deadSlotSql, ID_COLUMNS, LEFTOVERS } from '../../src/retention/central-dead-slot-store';
import { centralRound } from '../../src/retention/central-retention-store';
import { unpackSteps } from '../../src/traces/step-pack';
import { TraceStore } from '../../src/traces/trace-store';
import { Client } from 'pg';
import { testConfig } from '../support/app';
import { capturedReplies } from '../support/captured-replies';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(180_000);

const spools = usePostgresSpools();
const DAY = 86_400_000;
const ago = (days: number): string => new Date(Date.now() - days * DAY).toISOString();
const base = (slot: number): bigint => BigInt(slot) << BigInt(SLOT_BITS);
const replies = capturedReplies().slice(0, 12);
const LEFT = ['of_rule', 'logical_flow_snapshot', 'ovn_object'];

/** The replies traced by `s` as the tracer writes them (a path each, a lifetime a pass, ended), `daysAgo` old. */
async function fill(s: StoreService, daysAgo: number, from = 0, to = replies.length): Promise<void> {
  const traces = new TraceStore(s);
  const at = ago(daysAgo);
  for (let i = from; i < to; i++) {
    let pathId: number | undefined;
    for (const [j, pass] of replies[i].entries())
      await s.writer.submit((tx) => {
        const flow = Number(
          tx
            .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, ?, ?, ?, 1, 1, 'poller')`)
            .run(`00000000-0000-4000-8000-${String(i * 100 + j).padStart(12, '0')}`, at, at, at, pass.recircId, pass.megaflow, pass.datapathActions).lastInsertRowid,
        );
        pathId ??= Number(tx.stmt(`INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', ?, ?, '{}')`).run(at, at).lastInsertRowid);
        traces.insert(tx, { trace: pass, chassis: 'hv1', createdAt: at, datapathFlowId: flow, pathId, portUuids: new Map() });
      });
  }
}

/** Rows of the slot's range in each leftover table, and citation rows whose ref is in it. */
async function leftovers(url: string, slot: number): Promise<Record<string, number>> {
  const [lo, hi] = [String(base(slot)), String(base(slot + 1))];
  const out: Record<string, number> = {};
  for (const t of LEFT) out[t] = Number((await pgRows(url, `SELECT count(*) AS n FROM ${t} WHERE id >= $1 AND id < $2`, [lo, hi]))[0].n);
  out.trace_citation = Number((await pgRows(url, 'SELECT count(*) AS n FROM trace_citation WHERE ref >= $1 AND ref < $2', [lo, hi]))[0].n);
  return out;
}

/** The slot's writer_slot row as its spool left it `days` ago: claimed, heard and traced through then. */
const goneSilent = (url: string, slot: number, days: number) =>
  pgRows(url, 'UPDATE writer_slot SET claimed_at = $2, heard_at = $2, traced_through = $2 WHERE slot = $1', [slot, ago(days)]);

/** A writer_slot row of a spool gone `days` ago (none of its rows written yet). */
const slotGone = (url: string, slot: number, days: number) =>
  pgRows(url, 'INSERT INTO writer_slot (slot, writer, claimed_at, heard_at, traced_through) VALUES ($1, $2, $3, $3, $3)', [slot, `agent@gone#${slot}`, ago(days)]);

/**
 * One row of `table` with `col` in the slot's range (`at`: its n-th id there): every other NOT NULL
 * column 0 or 'x', dates old (the rows are only looked for; none is over the round's limits but by age).
 */
async function rowIn(url: string, table: string, col: string, slot: number, at = 1n): Promise<void> {
  const cols = (await pgRows(
    url,
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_name = $1 AND (is_nullable = 'NO' OR column_name = $2) ORDER BY ordinal_position`,
    [table, col],
  )) as Array<{ name: string; type: string }>;
  const values = cols.map((c) => (c.name === col ? String(base(slot) + at) : /int|numeric/.test(c.type) ? '0' : 'x'));
  await pgRows(url, `INSERT INTO "${table}" (${cols.map((c) => `"${c.name}"`).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, values);
}

function retention(s: StoreService, env: Record<string, string>, metrics = new MetricsService()): RetentionService {
  return new RetentionService(s, new TraceStore(s), new PathStore(s), new DatapathFlowStore(s), testConfig({ LIVETRACE_CENTRAL_RETENTION_DAYS: '1', ...env }), metrics);
}

describe("PostgreSQL's retention and the rules, snapshots and OVN objects of a writer slot gone for good (real PostgreSQL)", () => {
  it('a slot silent past LIVETRACE_SLOT_REUSE_DAYS with no traffic row left has them deleted, its old spool refused, and the next claim takes it; a live slot keeps its own', async () => {
    const url = await spools.pg().database('dead_slot_emptied');
    const fileA = newSpool();
    const a = await spools.storeOn(url, fileA);
    const b = await spools.storeOn(url);
    expect([a.central!.slot, b.central!.slot]).toEqual([1, 2]);
    // Both traced the same packets 20 days ago: each has its own rows of the same rules (ids of its slot).
    await fill(a, 20);
    await fill(b, 20);
    await a.shipper!.synced(30_000);
    await b.shipper!.synced(30_000);
    // Nothing has been heard of a for 100 days (its spool lost, or cut off: its shipper stopped); b is live.
    await a.shipper!.stop();
    await goneSilent(url, 1, 100);
    const had = { a: await leftovers(url, 1), b: await leftovers(url, 2) };
    for (const t of [...LEFT, 'trace_citation']) expect({ t, a: had.a[t] > 0, b: had.b[t] > 0 }).toEqual({ t, a: true, b: true });

    const metrics = new MetricsService();
    // The round prunes both slots' traces (20 days old, 1 kept), then what a's traces left.
    const r = await retention(b, { LIVETRACE_SLOT_REUSE_DAYS: '90' }, metrics).centralRound();
    expect(r.traces).toBeGreaterThan(0);
    expect(Number((await pgRows(url, 'SELECT count(*) AS n FROM trace'))[0].n)).toBe(0);
    expect(await leftovers(url, 1)).toEqual({ of_rule: 0, logical_flow_snapshot: 0, ovn_object: 0, trace_citation: 0 });
    // b's rules stay: its traces are gone too, but it is heard.
    expect(await leftovers(url, 2)).toEqual({ ...had.b, trace_citation: 0 });
    const deleted = LEFT.reduce((n, t) => n + had.a[t], 0);
    expect({ leftovers: r.leftovers, deadSlots: r.deadSlots }).toEqual({ leftovers: deleted, deadSlots: 1 });
    expect(await metrics.registry.getSingleMetricAsString('livetrace_retention_central_pruned_total')).toMatch(new RegExp(`table="dead_slot_rules_snapshots_objects"[^}]*} ${deleted}$`, 'm'));

    // Its old spool, back, would cite rows deleted: what it ships next is refused, and so is it at its start.
    await a.writer.submit((tx) => tx.stmt(`INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', 't', 'u', '{}')`).run());
    await expect(a.shipper!.shipSome()).rejects.toThrow(/^writer slot 1 was given back/);
    await a.onApplicationShutdown();
    await expect(spools.storeOn(url, fileA)).rejects.toThrow(/^writer slot 1 was given back/);
    // The next new spool takes it.
    expect((await spools.storeOn(url, newSpool(), { LIVETRACE_SLOT_REUSE_DAYS: '90' })).central!.slot).toBe(1);
  });

  it('a silent slot still holding any traffic row (a trace, a lifetime, a session …) keeps everything; one heard recently, or with LIVETRACE_SLOT_REUSE_DAYS=0, too', async () => {
    const url = await spools.pg().database('dead_slot_held');
    const s = await spools.storeOn(url);
    const traffic = slotRanged(s.db).filter((t) => !LEFT.includes(t.table));
    expect(traffic.map((t) => t.table)).toEqual(expect.arrayContaining(['trace', 'path', 'datapath_flow', 'upcall', 'cross_check', 'trace_session', 'ingest_event', 'trace_port']));
    // Slot 10 + i: an OpenFlow rule and one row of traffic[i]; then one with the rule alone, silent
    // 100 days; one claimed 100 days ago but heard yesterday; one silent 30 days.
    const held = traffic.map((_, i) => 10 + i);
    const [bare, heard, recent] = [10 + traffic.length, 11 + traffic.length, 12 + traffic.length];
    for (const slot of [...held, bare, heard]) await slotGone(url, slot, 100);
    await slotGone(url, recent, 30);
    await pgRows(url, 'UPDATE writer_slot SET heard_at = $2 WHERE slot = $1', [heard, ago(1)]);
    for (const slot of [...held, bare, heard, recent]) await rowIn(url, 'of_rule', 'id', slot);
    // The traffic rows: new enough that the round's own limits keep them.
    for (const [i, t] of traffic.entries()) await rowIn(url, t.table, t.col, held[i]);
    await pgRows(url, `UPDATE trace SET created_at = $1`, [ago(0)]);
    await pgRows(url, `UPDATE datapath_flow SET removed_at = NULL, last_seen = $1`, [ago(0)]);
    for (const [t, col] of [['upcall', 'time'], ['cross_check', 'created_at'], ['ingest_event', 'received_at']]) await pgRows(url, `UPDATE ${t} SET ${col} = $1`, [ago(0)]);
    const rules = async () => (await pgRows(url, 'SELECT id FROM of_rule ORDER BY id')).map((r) => BigInt(String(r.id)) >> BigInt(SLOT_BITS));

    const off = await retention(s, { LIVETRACE_SLOT_REUSE_DAYS: '0', LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS: '0' }).centralRound();
    expect(off.leftovers ?? 0).toBe(0);
    expect(await rules()).toEqual([...held, bare, heard, recent].map(BigInt));

    const r = await retention(s, { LIVETRACE_SLOT_REUSE_DAYS: '90', LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS: '0' }).centralRound();
    expect(await rules()).toEqual([...held, heard, recent].map(BigInt));
    expect({ leftovers: r.leftovers, deadSlots: r.deadSlots }).toEqual({ leftovers: 1, deadSlots: 1 });
  });

  it("a dead slot a citation of another slot's trace points into keeps its rows (never seen: each writer cites only its own rows)", async () => {
    const url = await spools.pg().database('dead_slot_cited');
    const s = await spools.storeOn(url);
    await slotGone(url, 5, 100);
    await rowIn(url, 'logical_flow_snapshot', 'id', 5);
    // A bucket of slot 1's traces citing slot 5's snapshot.
    await pgRows(url, 'INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (0, $1, $2, 1)', [String(base(5) + 1n), String(base(1) >> 5n)]);
    const r = await retention(s, { LIVETRACE_SLOT_REUSE_DAYS: '90' }).centralRound();
    expect(r.leftovers ?? 0).toBe(0);
    expect(await leftovers(url, 5)).toEqual({ of_rule: 0, logical_flow_snapshot: 1, ovn_object: 0, trace_citation: 1 });
    expect((await pgRows(url, 'SELECT writer FROM writer_slot WHERE slot = 5'))[0].writer).toBe('agent@gone#5');
  });

  it('no column of PostgreSQL but the traces\' own steps and citations holds an id of a rule, snapshot or OVN object, and a trace cites only its own slot\'s', async () => {
    const url = await spools.pg().database('dead_slot_pointers');
    const a = await spools.storeOn(url);
    const b = await spools.storeOn(url);
    // The same packets traced on both chassis: the same rules, each stored under its writer's ids.
    await fill(a, 0);
    await fill(b, 0);
    await a.shipper!.synced(30_000);
    await b.shipper!.synced(30_000);
    const columns = await pgRows(
      url,
      `SELECT table_name || '.' || column_name AS col FROM information_schema.columns WHERE table_schema = 'public' AND data_type IN ('bigint', 'integer', 'bytea') AND table_name NOT IN ('migrations', 'meta') ORDER BY 1`,
    );
    expect(columns.map((r) => r.col)).toEqual(Object.keys(ID_COLUMNS).sort());
    expect(Object.entries(ID_COLUMNS).filter(([col, of]) => !col.startsWith(`${of}.`) && LEFTOVERS.some((t) => of.includes(t))).map(([col]) => col)).toEqual(['trace.steps', 'trace_citation.ref']);
    const slotOf = (id: number | bigint | string) => Number(BigInt(id) >> BigInt(SLOT_BITS));
    const traces = await pgRows(url, 'SELECT id, steps FROM trace');
    expect(new Set(traces.map((t) => slotOf(String(t.id))))).toEqual(new Set([1, 2]));
    const strays = traces.flatMap((t) =>
      unpackSteps(t.steps as Buffer).flatMap((st) =>
        [st.ruleId, st.lflowId, st.ownerId, st.hintId].filter((id): id is number => id !== null && slotOf(id) !== slotOf(String(t.id))).map((id) => `${t.id} -> ${id}`),
      ),
    );
    expect(strays).toEqual([]);
    const cites = await pgRows(url, 'SELECT ref, bucket FROM trace_citation');
    expect(cites.length).toBeGreaterThan(0);
    expect(cites.filter((c) => slotOf(String(c.ref)) !== slotOf(BigInt(String(c.bucket)) << 5n))).toEqual([]);
    for (const t of LEFTOVERS) expect({ t, slots: (await pgRows(url, `SELECT DISTINCT id >> ${SLOT_BITS} AS s FROM ${t} ORDER BY 1`)).map((r) => Number(r.s)) }).toEqual({ t, slots: [1, 2] });
  });

  it('a dead slot is emptied in batches, and its statements walk indexes, never a whole table', async () => {
    const url = await spools.pg().database('dead_slot_batches');
    const s = await spools.storeOn(url);
    await slotGone(url, 3, 100);
    for (let i = 1n; i <= 120n; i++) await rowIn(url, LEFTOVERS[Number(i % 3n)], 'id', 3, i);
    const batches: number[] = [];
    const ranged = slotRanged(s.db);
    const r = await centralRound(s.central!.pool, { days: 0, keep: 0, deadSlots: { days: 90, ranged } }, Date.now(), { batch: 50, onBatch: (b) => batches.push(b.leftovers ?? 0) });
    expect(batches.filter((n) => n)).toEqual([50, 50, 20]);
    expect({ leftovers: r.leftovers, deadSlots: r.deadSlots }).toEqual({ leftovers: 120, deadSlots: 1 });
    await pgRows(url, `INSERT INTO writer_slot (slot, writer, claimed_at) SELECT n, 'gone#' || n, '2020-01-01T00:00:00.000Z' FROM generate_series(10, 2000) n`);
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const sql = deadSlotSql(ranged);
      for (const [name, text, params] of [
        ['dead', sql.dead, [90]],
        ['lock', sql.lock, [90, 3]],
        ['traffic', sql.traffic, [3]],
        ['foreign', sql.foreign, [3]],
        ['citations', sql.citations, [3, 50]],
        ...sql.leftovers.map((d, i) => [`leftovers ${i}`, d, [3, 50]]),
      ] as Array<[string, string, unknown[]]>) {
        const plan = (await c.query(`EXPLAIN ${text}`, params)).rows.map((x: Record<string, unknown>) => String(x['QUERY PLAN'])).join('\n');
        // Seq scans off (the tables here are small, a seq scan the cheaper): one left is a table no index serves.
        const whole = [...plan.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]).filter((t) => t !== 'writer_slot');
        expect({ name, whole, joins: /Hash|hashed/.test(plan) }).toEqual({ name, whole: [], joins: false });
      }
    } finally {
      await c.end();
    }
  });
});
