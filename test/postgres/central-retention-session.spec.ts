// The central retention's round sets idle_session_timeout and idle_in_transaction_session_timeout on
// its pooled session while it holds its advisory lock (central-retention-store.ts), and puts them back
// after. withClient (pg-client.ts) keeps a connection whose work failed only by a statement PostgreSQL
// refused on a healthy session: a round failed that way (a statement canceled, its statement_timeout)
// went back to the pool still carrying the round's timeouts, so the pool's other users (the shipper's
// batches, the API's reads, the session-creation lock) had the server end their session under them.
import { Client } from 'pg';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { centralRound } from '../../src/retention/central-retention-store';
import { usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

describe('PostgreSQL retention round and its session settings (real PostgreSQL)', () => {
  it('a round failed by a statement PostgreSQL canceled hands its connection back without the round\'s timeouts', async () => {
    const url = await spools.pg().database('central_session');
    const ds = await openPostgres(url);
    const locker = new Client({ connectionString: url });
    const canceler = new Client({ connectionString: url });
    try {
      await locker.connect();
      await canceler.connect();
      const pool = poolOf(ds);
      // The pool's settings as its users have them, from the connection the round will take.
      const pooled = await pool.connect();
      const pid = (await pooled.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const settings = `SELECT current_setting('idle_session_timeout') AS idle, current_setting('idle_in_transaction_session_timeout') AS "inTx"`;
      const before = (await pooled.query<{ idle: string; inTx: string }>(settings)).rows[0];
      pooled.release();
      // The round's first read of trace waits behind this lock; it is then canceled (57014: an ERROR
      // on a healthy session, outside any transaction: withClient keeps the connection).
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE trace IN ACCESS EXCLUSIVE MODE');
      const round = centralRound(pool, { days: 0, keep: 5 }, Date.now()).then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      for (let i = 0; i < 200; i++) {
        const r = await canceler.query(`SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid = $1`, [pid]);
        if (r.rowCount) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await round)?.code).toBe('57014');
      await locker.query('ROLLBACK');
      const again = await pool.connect();
      try {
        // Kept or a new connection, the pool's next user gets the pool's own settings.
        expect((await again.query<{ idle: string; inTx: string }>(settings)).rows[0]).toEqual(before);
      } finally {
        again.release();
      }
    } finally {
      await locker.end().catch(() => undefined);
      await canceler.end().catch(() => undefined);
      await ds.destroy();
    }
  });
});
