// datapath_flow.push_sig on a real PostgreSQL (scripts/pg-cluster): the migration fills it for rows
// shipped before it (captured debian12 actions); with 20,000 flows on the sending chassis the reverse
// cross-chassis link finds the same senders as the strpos search of the actions it replaced
// (test/support/instr-senders.ts), and its look reads idx_dpflow_push, exact values and the prefix
// ranges of a receiver whose mask wildcards a part (EXPLAIN after ANALYZE), not the sender's flows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { pushSignature, pushSignaturesSought } from '../../src/ovs/push-signature';
import { tunnelSignature } from '../../src/ovs/tunnel-signature';
import { PathBuilder } from '../../src/paths/path-builder';
import { PathStore } from '../../src/paths/path-store';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { PgReader } from '../../src/storage/sql';
import { oneChassis } from '../support/cross-chassis';
import { InstrSendersPathStore } from '../support/instr-senders';
import { startPostgres, TestPostgres } from '../support/postgres';

jest.setTimeout(180_000);

const FIX = join(__dirname, '../fixtures/captured-multichassis/debian12');
const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2', hv3: '192.168.0.3' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const line = (file: string, pred: (l: string) => boolean) => {
  const l = readFileSync(join(FIX, file), 'utf8').split('\n').filter((x) => x.includes(', actions:') && pred(x))[0];
  return { key: l.slice(0, l.indexOf(', packets:')).replace(/^ufid:\S+ /, ''), actions: l.slice(l.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, '') };
};
const toLsp2 = line('hv1.flows-m.txt', (l) => l.includes('dst=50:54:00:00:00:02') && l.includes('tnl_push('));
const routed = line('hv1.flows-m.txt', (l) => l.includes('dst=00:00:00:00:ff:01'));
const vmOnHv1 = line('hv1.stateful.flows-m.txt', (l) => l.includes('recirc(0x'));
const icmpArrival = line('hv2.flows-m.txt', (l) => l.includes('tunnel(') && l.includes('actions:vif2'));
/** The captured push to lsp2 with other port keys: another port pair's sender. */
const otherPair = (i: number) => toLsp2.actions.replace(/,0x20001\}/, `,0x${(((4 + (i % 500)) << 16) | (5 + (i % 300))).toString(16)}}`);

let pg: TestPostgres;
let ds: DataSource;

beforeAll(async () => {
  pg = startPostgres();
  ds = await openPostgres(await pg.database('push_sig'), 2);
});

afterAll(async () => {
  await ds?.destroy();
  pg?.stop();
});

const insertFlows = (rows: Array<{ id: number; chassis: string; at: number; key: string; actions: string; removed?: boolean }>) =>
  ds.query(
    `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source, tunnel_sig, push_sig)
     SELECT id, chassis, 'u' || id, first_seen, last_seen, removed_at, '0x0', key, actions, 1, 98, 'poller', tsig, psig
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
         AS u(id, chassis, first_seen, last_seen, removed_at, key, actions, tsig, psig)`,
    [
      rows.map((r) => r.id), rows.map((r) => r.chassis), rows.map((r) => iso(r.at)), rows.map((r) => iso(r.at + 50)),
      rows.map((r) => (r.removed ? iso(r.at + 50) : null)), rows.map((r) => r.key), rows.map((r) => r.actions),
      rows.map((r) => tunnelSignature(r.key, 0)), rows.map((r) => pushSignature(r.actions)),
    ],
  );

it('the migration fills the push signature of rows shipped before it', async () => {
  const ran = async () => ((await ds.query('SELECT name FROM migrations')) as Array<{ name: string }>).map((r) => r.name);
  while ((await ran()).includes('PgPushSignature1796600000000')) await ds.undoLastMigration({ transaction: 'all' });
  const insert = (id: number, actions: string) =>
    ds.query(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source)
       VALUES ($1, 'hv1', $2, '2026-12-05T03:00:00.000Z', '2026-12-05T03:00:00.000Z', '0x0', 'recirc_id(0)', $3, 1, 98, 'poller')`,
      [id, `m${id}`, actions],
    );
  await insert(1, toLsp2.actions);
  await insert(2, routed.actions);
  await insert(3, vmOnHv1.actions);
  await ds.runMigrations(); // mode 'each' (pgDataSourceOptions): PgTracePortRoleIndexes runs outside a transaction
  expect(await ds.query('SELECT id::int, push_sig FROM datapath_flow ORDER BY id')).toEqual([
    { id: 1, push_sig: '192.168.0.2|2|2|1' },
    { id: 2, push_sig: '192.168.0.3|1|1|2' },
    { id: 3, push_sig: null },
  ]);
  await ds.query('DELETE FROM datapath_flow');
});

describe('with 20,000 flows on the sending chassis', () => {
  const arrivals: number[] = [];
  // One reader for the pool (statement names are per process: src/storage/sql.ts).
  let shared: PgReader;
  const reader = () => (shared ??= new PgReader(poolOf(ds)));

  beforeAll(async () => {
    // hv1's flows over an hour: one in four pushes to lsp2's chassis for another port pair, one in
    // four the routed push, the rest its VMs' own; then 20 pings sent to lsp2, each traced on both chassis.
    const rows: Array<{ id: number; chassis: string; at: number; key: string; actions: string; removed?: boolean }> = [];
    for (let i = 0; i < 20_000; i++) {
      const actions = i % 4 === 0 ? otherPair(i) : i % 4 === 1 ? routed.actions : vmOnHv1.actions;
      rows.push({ id: 1000 + i, chassis: 'hv1', at: T0 - 3_600_000 + i * 180, key: i % 4 === 1 ? routed.key : toLsp2.key, actions, removed: i % 3 === 0 });
    }
    const traced: Array<{ id: number; chassis: string; at: number }> = [];
    for (let p = 0; p < 20; p++) {
      const at = T0 + p * 3000;
      rows.push({ id: 100 + 2 * p, chassis: 'hv1', at, key: toLsp2.key, actions: toLsp2.actions, removed: p % 2 === 1 });
      rows.push({ id: 101 + 2 * p, chassis: 'hv2', at: at + 2, key: icmpArrival.key, actions: icmpArrival.actions, removed: p % 2 === 1 });
      traced.push({ id: 100 + 2 * p, chassis: 'hv1', at }, { id: 101 + 2 * p, chassis: 'hv2', at: at + 2 });
    }
    await insertFlows(rows);
    const verdict = JSON.stringify({ kinds: ['output'], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null });
    for (const t of traced) {
      await ds.query(`INSERT INTO path (id, chassis, created_at, updated_at, verdict) VALUES ($1, $2, $3, $3, '{}')`, [t.id, t.chassis, iso(t.at)]);
      await ds.query(
        `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, path_id, step_count, steps)
         VALUES ($1, $2, $3, $1, 'trace', 'br-int', '0x0', '', '', '', '', ',output,', $4, $1, 0, ''::bytea)`,
        [t.id, t.chassis, iso(t.at), verdict],
      );
      if (t.chassis === 'hv2') arrivals.push(t.id);
    }
    await ds.query('ANALYZE datapath_flow');
  });

  it('the reverse link finds the same sender as the strpos search of the actions, for every arrival', async () => {
    const store = new PathStore({ db: undefined as never, query: reader() });
    const builder = new PathBuilder(store);
    for (const encap of [ENCAP, {}]) {
      const after = oneChassis(store, {}, encap);
      const before = oneChassis(new InstrSendersPathStore(reader()), {}, encap);
      const senders: number[] = [];
      for (const id of arrivals) {
        const built = (await builder.ofTrace(id))!;
        const [a, b] = [await after.extend(built, (x) => builder.ofTrace(x)), await before.extend(built, (x) => builder.ofTrace(x))];
        expect(JSON.stringify(a)).toBe(JSON.stringify(b));
        senders.push(Number(a?.segments[0].built.passes[0]?.id));
      }
      // Each ping's arrival is preceded by its own sender (the trace just before it).
      expect(senders).toEqual(arrivals.map((id) => id - 1));
    }
  });

  it.each([
    ['an exact receiver', tunnelSignature(icmpArrival.key, 0)!],
    ['a receiver whose mask wildcards the egress port', '192.168.0.2|2|2|*'],
  ])('the look for senders reads idx_dpflow_push: %s', async (_what, sig) => {
    const seen: Array<{ sql: string; params: unknown[] }> = [];
    const r = reader();
    const recording = Object.assign(Object.create(r) as PgReader, {
      all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), r.all(sql, ...params)),
    });
    await new PathStore({ db: undefined as never, query: recording }).senders({ chassis: 'hv1', notChassis: 'hv2' }, pushSignaturesSought(sig)!, { from: iso(T0 - 1000), to: iso(T0 + 1000), near: iso(T0) });
    // Two statements: the candidates started at or before the reference time, then those after.
    expect(seen).toHaveLength(2);
    for (const { sql, params } of seen) {
      let n = 0;
      const text = sql.replace(/\?/g, () => `$${++n}`);
      const plan = ((await ds.query(`EXPLAIN ${text}`, params)) as Array<{ 'QUERY PLAN': string }>).map((l) => l['QUERY PLAN']);
      expect(plan.filter((l) => /(Index|Index Only|Bitmap Index) Scan (using|on) idx_dpflow_push/.test(l)).length).toBeGreaterThanOrEqual(1);
      expect(plan.filter((l) => /Seq Scan on datapath_flow/.test(l))).toEqual([]);
      // Not the sender's live and recently removed flows (what the search of the actions walked).
      expect(plan.filter((l) => /idx_dpflow_live/.test(l))).toEqual([]);
    }
  });

  it('the look cuts each side of the reference start by text and returns newest first, ties by the newer id: the order SQLite gives', async () => {
    // 600 senders of the same push, ten hours later, two at each millisecond (ties), either side of `near`.
    const base = T0 + 36_000_000;
    const rows = Array.from({ length: 600 }, (_, n) => ({ id: 500_000 + n, chassis: 'hv1', at: base + Math.floor(n / 2), key: toLsp2.key, actions: toLsp2.actions }));
    await insertFlows(rows);
    await ds.query(
      `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       SELECT id, 'hv1', first_seen, id, 'trace', 'br-int', '0x0', '', '', '', '', ',output,', '{}', 0, ''::bytea FROM datapath_flow WHERE id >= 500000`,
    );
    const store = new PathStore({ db: undefined as never, query: reader() });
    const near = base + 100;
    const got = await store.senders({ chassis: 'hv1', notChassis: 'hv2' }, pushSignaturesSought(tunnelSignature(icmpArrival.key, 0)!)!, { from: iso(base - 1000), to: iso(base + 1000), near: iso(near) });
    // All 600 fit both sides' limits: newest first, ties by the newer id, as SQLite returns them.
    expect(got.bounded).toBe(false);
    expect(got.rows.map((r) => Number(r.id))).toEqual([...rows].sort((a, b) => b.at - a.at || b.id - a.id).map((r) => r.id));
  });
});
