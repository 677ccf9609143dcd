// Migration PgControllerKind on a real PostgreSQL leaves a row shipped with no kind (a 'mixed' pass
// to ovn-controller and out of a port with no logical port, as the code before 2f4a6ca stored it)
// valid JSON, as it was, the same as the SQLite migration (integration storage/controller-kind-unmapped.spec.ts).
import type { DataSource } from 'typeorm';
import type { Verdict } from '../../src/correlation/types';
import { openPostgres } from '../../src/storage/postgres';
import { verdictJson } from '../../src/traces/trace-record';
import { startPostgres, TestPostgres } from '../support/postgres';
import { packetNodes, VERDICT_VERSIONS } from '../support/verdict-fixtures';

jest.setTimeout(180_000);

let pg: TestPostgres;
let ds: DataSource;

beforeAll(async () => {
  pg = startPostgres();
  ds = await openPostgres(await pg.database('controller_kind_unmapped'), 2);
});

afterAll(async () => {
  await ds?.destroy();
  pg?.stop();
});

it('leaves a row shipped with no kind valid JSON, as it was', async () => {
  const ran = async () => ((await ds.query('SELECT name FROM migrations')) as Array<{ name: string }>).map((r) => r.name);
  while ((await ran()).includes('PgControllerKind1796800000000')) await ds.undoLastMigration({ transaction: 'all' });
  const before = VERDICT_VERSIONS.map((version) => {
    const v = packetNodes(version, 'unresolved-next-hop').find((n) => n.trace.verdict.kind === 'controller')!.trace.verdict;
    const flood: Verdict = { ...v, kind: 'mixed', outputs: [], unmappedOutputs: ['eth1'] };
    return JSON.stringify({ ...verdictJson(flood), kinds: [] });
  });
  let id = 0;
  for (const verdict of before) {
    await ds.query(
      `INSERT INTO trace (id, chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ($1, 'hv1', '2026-12-06T06:00:00.000Z', 'trace', '0x0', '', '', '', '', ',,', $2, 0, '\\x')`,
      [++id, verdict],
    );
  }
  await ds.runMigrations(); // mode 'each' (pgDataSourceOptions): PgTracePortRoleIndexes runs outside a transaction
  const got = (await ds.query('SELECT verdict_kinds AS kinds, verdict FROM trace ORDER BY id')) as Array<{ kinds: string; verdict: string }>;
  for (const g of got) expect(() => JSON.parse(g.verdict)).not.toThrow();
  expect(got).toEqual(before.map((verdict) => ({ kinds: ',,', verdict })));
});
