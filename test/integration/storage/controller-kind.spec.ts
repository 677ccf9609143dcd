// Migration ControllerKind on a real migrated SQLite file: trace rows stored by the code before it
// (real captured passes of every pair, test/support/controller-kind-rows.ts) become byte for byte
// what verdictJson writes now, so GET /traces?verdict=controller finds the old gateway_mtu splits
// and logged drops too, and a row that needed nothing is left as it was.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { controllerKindRows } from '../../support/controller-kind-rows';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

jest.setTimeout(60_000);

let dir: string;
let ds: DataSource;
let db: Database;

beforeAll(async () => {
  ({ dir, ds, db } = await openMigratedSqlite('livetrace-controller-kind-', { writer: false }));
});
afterAll(() => closeMigratedSqlite({ dir, ds }));

it('fills the controller kind (and a log copy\'s copy) of rows stored before it', async () => {
  const ran = () => (db.prepare('SELECT name FROM migrations').all() as Array<{ name: string }>).map((r) => r.name);
  while (ran().includes('ControllerKind1796800000000')) await ds.undoLastMigration();
  const rows = controllerKindRows();
  // The migration has something to do: the old rows of the splits and logged drops lack it.
  expect(rows.filter((r) => r.before.kinds !== r.now.kinds).map((r) => r.name.split(' ')[1])).toEqual(Array(rows.length / 4).fill(['gateway-mtu', 'acl-drop-logged']).flat());
  const ins = db.prepare(
    `INSERT INTO trace (chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
     VALUES ('hv1', '2026-12-06T06:00:00.000Z', 'trace', '0x0', '', '', '', '', ?, ?, 0, x'')`,
  );
  for (const r of rows) ins.run(r.before.kinds, r.before.verdict);
  await ds.runMigrations();
  const got = db.prepare('SELECT verdict_kinds AS kinds, verdict FROM trace ORDER BY id').all();
  expect(got).toEqual(rows.map((r) => r.now));
});
