// The central pool's guarded client (src/storage/pg-client.ts withClient) gives a connection back
// to the pool after a statement PostgreSQL refused on a healthy session (a statement_timeout under
// load, a bad value), and drops it only when its session may be unusable: a transaction left open
// or failed, a connection gone. Dropping it on every error cost a new connection (TCP, auth, TLS)
// for each failed statement, when the server is busiest.
import { Pool } from 'pg';
import { inTransaction, withClient } from '../../src/storage/pg-client';
import { pgPoolOptions } from '../../src/storage/postgres';
import { silentProxy } from '../support/silent-proxy';
import { usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(60_000);

const spools = usePostgresSpools();

describe('withClient and a failed statement (real PostgreSQL)', () => {
  it('keeps the connection after a refused statement; drops one whose transaction was left failed or open', async () => {
    const pool = new Pool(pgPoolOptions(await spools.pg().database('pg_client'), 1));
    const pid = () => withClient(pool, 60_000, async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    try {
      const first = await pid();
      await expect(withClient(pool, 60_000, (c) => c.query('SELECT 1 / 0'))).rejects.toThrow(/division by zero/);
      expect(await pid()).toBe(first);

      // A transaction the work left failed: the next user of the connection must not inherit it.
      await expect(
        withClient(pool, 60_000, async (c) => {
          await c.query('BEGIN');
          await c.query('SELECT 1 / 0');
        }),
      ).rejects.toThrow(/division by zero/);
      const second = await pid();
      expect(second).not.toBe(first);
      // Nor one left open by an error of the caller's own.
      await expect(
        withClient(pool, 60_000, async (c) => {
          await c.query('BEGIN');
          throw new Error('the caller failed');
        }),
      ).rejects.toThrow(/the caller failed/);
      expect(await pid()).not.toBe(second);
      expect(await withClient(pool, 60_000, async (c) => (await c.query('SELECT 2 AS n')).rows[0])).toEqual({ n: 2 });
    } finally {
      await pool.end();
    }
  });
});

describe('inTransaction, the one BEGIN/COMMIT of the central stores (real PostgreSQL)', () => {
  it('commits what the work wrote, rolls a failed work back whole, and its connection stays in the pool', async () => {
    const pool = new Pool(pgPoolOptions(await spools.pg().database('pg_client_tx'), 1));
    const pid = () => withClient(pool, 60_000, async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const rows = () => withClient(pool, 60_000, async (c) => (await c.query<{ n: number }>('SELECT n FROM tx ORDER BY n')).rows.map((r) => r.n));
    try {
      await withClient(pool, 60_000, (c) => c.query('CREATE TABLE tx (n int PRIMARY KEY)'));
      const first = await pid();
      expect(await withClient(pool, 60_000, (c) => inTransaction(c, async () => (await c.query('INSERT INTO tx VALUES (1), (2)')).rowCount))).toBe(2);
      // A statement refused after a write: neither row of this work stays, the refusal is what is thrown.
      await expect(
        withClient(pool, 60_000, (c) =>
          inTransaction(c, async () => {
            await c.query('INSERT INTO tx VALUES (3)');
            await c.query('INSERT INTO tx VALUES (1)');
          }),
        ),
      ).rejects.toThrow(/duplicate key value/);
      // Rolled back, the session is idle again: a refused statement does not cost a new connection.
      expect(await pid()).toBe(first);
      // The caller's own error after a write: rolled back too.
      await expect(
        withClient(pool, 60_000, (c) =>
          inTransaction(c, async () => {
            await c.query('INSERT INTO tx VALUES (4)');
            throw new Error('the caller failed');
          }),
        ),
      ).rejects.toThrow(/the caller failed/);
      expect(await rows()).toEqual([1, 2]);
    } finally {
      await pool.end();
    }
  });
});

describe('withClient and a session PostgreSQL ends as it hands it out (real PostgreSQL)', () => {
  // A session ended just after its start (a restart's fast shutdown, pg_terminate_backend of every
  // session, idle_session_timeout: here the last, 50 ms) while the process's event loop was busy: its
  // ReadyForQuery and the FATAL after it are read together. pg-pool hands the client out (its promise)
  // and, in the same read, the client emits 'error' before withClient has a listener on it: an
  // uncaught exception, the agent ended (random pg_terminate_backend against a shipping spool, 2 runs of 8).
  it('the work fails, the process does not, and the pool goes on', async () => {
    const url = await spools.pg().database('pg_client_ended');
    const proxy = await silentProxy(url);
    const pool = new Pool({ ...pgPoolOptions(proxy.url, 1), options: '-c idle_session_timeout=50' });
    pool.on('error', () => undefined);
    try {
      proxy.readLate(true);
      await expect(withClient(pool, 60_000, (c) => c.query('SELECT 1'))).rejects.toThrow(/idle-session timeout|not queryable/);
      proxy.readLate(false);
      expect(await withClient(pool, 60_000, async (c) => (await c.query('SELECT 2 AS n')).rows[0])).toEqual({ n: 2 });
    } finally {
      await pool.end();
      await proxy.close();
    }
  });
});
