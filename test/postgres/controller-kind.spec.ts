// Migration PgControllerKind on a real PostgreSQL: trace rows shipped by the code before it (real
// captured passes of every pair, test/support/controller-kind-rows.ts) become byte for byte what
// verdictJson writes now, as the SQLite migration makes them (test/integration/storage/controller-kind.spec.ts).
import type { DataSource } from 'typeorm';
import { openPostgres } from '../../src/storage/postgres';
import { controllerKindRows } from '../support/controller-kind-rows';
import { startPostgres, TestPostgres } from '../support/postgres';

jest.setTimeout(180_000);

let pg: TestPostgres;
let ds: DataSource;

beforeAll(async () => {
  pg = startPostgres();
  ds = await openPostgres(await pg.database('controller_kind'), 2);
});

afterAll(async () => {
  await ds?.destroy();
  pg?.stop();
});

it("fills the controller kind (and a log copy's copy) of rows shipped before it", async () => {
  const ran = async () => ((await ds.query('SELECT name FROM migrations')) as Array<{ name: string }>).map((r) => r.name);
  while ((await ran()).includes('PgControllerKind1796800000000')) await ds.undoLastMigration({ transaction: 'all' });
  const rows = controllerKindRows();
  expect(rows.some((r) => r.before.kinds !== r.now.kinds)).toBe(true);
  let id = 0;
  for (const r of rows) {
    await ds.query(
      `INSERT INTO trace (id, chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ($1, 'hv1', '2026-12-06T06:00:00.000Z', 'trace', '0x0', '', '', '', '', $2, $3, 0, '\\x')`,
      [++id, r.before.kinds, r.before.verdict],
    );
  }
  await ds.runMigrations(); // mode 'each' (pgDataSourceOptions): PgTracePortRoleIndexes runs outside a transaction
  expect(await ds.query('SELECT verdict_kinds AS kinds, verdict FROM trace ORDER BY id')).toEqual(rows.map((r) => r.now));
});
