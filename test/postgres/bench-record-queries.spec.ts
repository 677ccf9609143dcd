// bench/api's EXPLAIN of "the SQL the api really sent" (postgres.ts, port-index.ts) records the
// statements the app's PgReader sends on its pool. Since the reads went to a checked-out client
// (storage/pg-client.ts withClient) and no longer through pool.query, the recorder saw nothing and
// the bench's EXPLAIN sections came out empty without saying so.
import { Pool } from 'pg';
import { recordQueries } from '../../bench/api/postgres-lib';
import { PgReader } from '../../src/storage/sql';
import { startPostgres, TestPostgres } from '../support/postgres';

jest.setTimeout(120_000);

let pg: TestPostgres | undefined;
let pool: Pool | undefined;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(async () => {
  await pool?.end();
  pg?.stop();
});

it("records the statements an app's PgReader sends, with their values, only while on", async () => {
  pool = new Pool({ connectionString: await pg!.database('record_queries') });
  const reader = new PgReader(pool);
  const rec = recordQueries(pool);
  await reader.all('SELECT 1 AS one WHERE 2 > ?', 0);
  rec.on();
  expect(await reader.all('SELECT ? AS port WHERE 3 > ?', 'lsp1', 1)).toEqual([{ port: 'lsp1' }]);
  const seen = rec.off();
  await reader.all('SELECT 4 AS four');
  expect(seen.map((q) => ({ text: q.text, values: q.values }))).toEqual([{ text: 'SELECT $1 AS port WHERE 3 > $2', values: ['lsp1', 1] }]);
});

it('leaves pool.query working (it checks out its client with a callback)', async () => {
  const rec = recordQueries(pool!);
  rec.on();
  expect((await pool!.query({ text: 'SELECT $1::int AS n', values: [5] })).rows).toEqual([{ n: 5 }]);
  expect(rec.off().map((q) => q.text)).toEqual(['SELECT $1::int AS n']);
});
