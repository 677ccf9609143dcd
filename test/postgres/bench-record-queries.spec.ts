// bench/api's EXPLAIN of "the SQL the api really sent" (postgres.ts, port-index.ts) records the
// statements the app's PgReader sends on its pool. Since the reads went to a checked-out client
// (storage/pg-client.ts withClient) and no longer through pool.query, the recorder saw nothing and
// the bench's EXPLAIN sections came out empty without saying so.
import { Pool } from 'pg';
import { countQueries, recordQueries } from '../../bench/api/postgres-lib';
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

// pg-service-time.ts's statements and rows a request: they read 0 while PgReader's reads went past pool.query.
it("counts the statements and rows of an app's PgReader reads, and keeps them while asked", async () => {
  const counts = countQueries(pool!);
  const reader = new PgReader(pool!);
  counts.keep = [];
  expect(await reader.all('SELECT generate_series(1, ?) AS n', 3)).toHaveLength(3);
  const kept = counts.keep;
  counts.keep = undefined;
  expect(await reader.get('SELECT ?::int AS one', 1)).toEqual({ one: 1 });
  await new Promise((r) => setImmediate(r)); // the count lands once the read has answered
  expect({ statements: counts.statements, rows: counts.rows }).toEqual({ statements: 2, rows: 4 });
  expect(kept.map((q) => q.text)).toEqual(['SELECT generate_series(1, $1) AS n']);
});
