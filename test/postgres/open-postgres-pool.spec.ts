// openPostgres with the smallest pool the configuration allows (LIVETRACE_PG_POOL=1), on a real
// PostgreSQL: the migrations' advisory lock and the migrations share the one connection. Held on one
// connection and the migrations asking the pool for a second, the start waited for itself until the
// pool's 5 s connect timeout, which pgUnreachable reads as PostgreSQL away: an agent with a spool
// went on tracing offline for good, an api instance never started.
import { Client } from 'pg';
import { openPostgres } from '../../src/storage/postgres';
import { startPostgres, TestPostgres } from '../support/postgres';

jest.setTimeout(120_000);

let pg: TestPostgres;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg?.stop());

it('a pool of one connection migrates a new database, and gives the lock back for the next start', async () => {
  const url = await pg.database('open_pool_one');
  const first = await openPostgres(url, 1);
  const second = await openPostgres(url, 1).finally(() => first.destroy());
  try {
    const admin = new Client({ connectionString: url });
    await admin.connect();
    try {
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM migrations WHERE name = 'PgTracePortRoleIndexes1796900000000'`);
      expect(rows[0].n).toBe(1);
      // Nobody keeps the migrations' lock: a pooled connection that did would hold up every later start.
      const held = await admin.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 7946710`);
      expect(held.rows[0].n).toBe(0);
    } finally {
      await admin.end();
    }
  } finally {
    await second.destroy();
  }
});
