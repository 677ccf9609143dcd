// datapath_flow.tunnel_sig on a real PostgreSQL (scripts/pg-cluster): the migration fills it for
// rows shipped before it (captured debian12 keys), and the cross-chassis link's look for arrivals
// reads the live flows of a signature from idx_dpflow_tunnel, not the receiving chassis's flows, once the table holds a flow table's
// worth of rows (20,000 on the receiver; EXPLAIN after ANALYZE).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { tunnelPushes } from '../../src/ovs/odp-tunnel';
import { signaturesReaching, tunnelSignature } from '../../src/ovs/tunnel-signature';
import { PathStore } from '../../src/paths/path-store';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { PgReader } from '../../src/storage/sql';
import { startPostgres, TestPostgres } from '../support/postgres';

jest.setTimeout(120_000);

const FIX = join(__dirname, '../fixtures/captured-multichassis/debian12');
const line = (file: string, pred: (l: string) => boolean) => {
  const l = readFileSync(join(FIX, file), 'utf8').split('\n').filter((x) => x.includes(', actions:') && pred(x))[0];
  return { key: l.slice(0, l.indexOf(', packets:')).replace(/^ufid:\S+ /, ''), actions: l.slice(l.indexOf(', actions:') + ', actions:'.length) };
};
const arrival = line('hv2.flows-m.txt', (l) => l.includes('tunnel(') && l.includes('recirc_id(0)') && l.includes('0x20001/0x7fffffff'));
const fromVm = line('hv1.flows-m.txt', (l) => l.includes('dst=50:54:00:00:00:02') && l.includes('tnl_push('));
const vmOnHv2 = line('hv2.flows-m.txt', (l) => !l.includes('tunnel('));

let pg: TestPostgres;
let ds: DataSource;

beforeAll(async () => {
  pg = startPostgres();
  ds = await openPostgres(await pg.database('tunnel_sig'), 2);
});

afterAll(async () => {
  await ds?.destroy();
  pg?.stop();
});

const insert = (id: number, key: string, sig: string | null | undefined, chassis = 'hv2') =>
  ds.query(
    `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source${sig === undefined ? '' : ', tunnel_sig'})
     VALUES ($1, $2, $3, '2026-12-05T03:00:00.000Z', '2026-12-05T03:00:00.000Z', '0x0', $4, 'drop', 1, 98, 'poller'${sig === undefined ? '' : ', $5'})`,
    [id, chassis, `u${id}`, key, ...(sig === undefined ? [] : [sig])],
  );

it('the migration fills the signature of rows shipped before it', async () => {
  const ran = async () => ((await ds.query('SELECT name FROM migrations')) as Array<{ name: string }>).map((r) => r.name);
  while ((await ran()).includes('PgTunnelSignature1796461913000')) await ds.undoLastMigration({ transaction: 'all' });
  await insert(1, arrival.key, undefined);
  await insert(2, vmOnHv2.key, undefined);
  await ds.runMigrations(); // mode 'each' (pgDataSourceOptions): PgTracePortRoleIndexes runs outside a transaction
  expect(await ds.query('SELECT id::int, tunnel_sig FROM datapath_flow ORDER BY id')).toEqual([
    { id: 1, tunnel_sig: '192.168.0.2|2|2|1' },
    { id: 2, tunnel_sig: null },
  ]);
});

it('the look for arrivals reads idx_dpflow_tunnel on a receiver holding 20,000 flows', async () => {
  // The receiver's own VM flows and, one in four, other ports' arrivals (other signatures).
  const ids: number[] = [];
  const keys: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    ids.push(100 + i);
    keys.push(i % 4 ? vmOnHv2.key : arrival.key.replace(/,0x20001\//, `,0x${(((4 + (i % 500)) << 16) | (5 + (i % 300))).toString(16)}/`));
  }
  await ds.query(
    `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source, tunnel_sig)
     SELECT id, 'hv2', 'f' || id, '2026-12-05T02:00:00.000Z', '2026-12-05T03:00:00.000Z', '0x0', key, 'drop', 1, 98, 'poller', sig
       FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(id, key, sig)`,
    [ids, keys, keys.map((k) => tunnelSignature(k, 0))],
  );
  await ds.query('ANALYZE datapath_flow');
  const seen: Array<{ sql: string; params: unknown[] }> = [];
  const reader = new PgReader(poolOf(ds));
  const recording = Object.assign(Object.create(reader) as PgReader, {
    all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
  });
  const [push] = tunnelPushes(fromVm.actions);
  const found = await new PathStore({ db: undefined as never, query: recording }).arrivals(
    { chassis: 'hv2', notChassis: 'hv1' }, signaturesReaching(push), { from: '2026-12-05T02:59:59.000Z', to: '2026-12-05T03:00:01.000Z', near: '2026-12-05T03:00:00.000Z' },
  );
  // No trace holds these flows: none is a candidate, whatever the plan.
  expect(found).toEqual({ rows: [], bounded: false, reach: { before: null, after: null } });
  // Two statements: the candidates started at or before the reference time, then those after.
  expect(seen).toHaveLength(2);
  for (const { sql, params } of seen) {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    const plan = ((await ds.query(`EXPLAIN ${text}`, params)) as Array<{ 'QUERY PLAN': string }>).map((r) => r['QUERY PLAN']);
    // The live flows by their signature; those removed since the window opened by whichever index
    // the statistics favour (idx_dpflow_live's range is as bounded here: nothing was removed).
    const live = plan.findIndex((l) => /Index (Only )?Scan (using|on) idx_dpflow_tunnel/.test(l));
    expect(live).toBeGreaterThanOrEqual(0);
    expect(plan[live + 1]).toMatch(/Index Cond: \(\(tunnel_sig = ANY .*\(chassis = 'hv2'::text\) AND \(removed_at IS NULL\)/);
    expect(plan.filter((l) => /Seq Scan on datapath_flow/.test(l))).toEqual([]);
  }
});
