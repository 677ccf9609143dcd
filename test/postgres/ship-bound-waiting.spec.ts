// The spool's bound (LIVETRACE_SPOOL_MAX_CHANGES) while a shipping attempt waits. The backlog and the
// full flag the sources drop by were counted only when an attempt ended; an agent started while
// PostgreSQL was away whose schema step, once PostgreSQL answered, waited for the migration lock
// another process held (an api of a newer version building an index CONCURRENTLY on a large table:
// minutes) never ended one: the agent went on writing past its bound, nothing dropped, and /health's
// backlog stood still. The other process's lock is held here by a connection of the test's own.
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { MIGRATION_LOCK } from '../../src/storage/pg-migrate';
import { silentProxy } from '../support/silent-proxy';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const newPath = `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-07T00:00:00Z', 'u0', '{}')`;

describe('the spool bound while an attempt waits (real PostgreSQL)', () => {
  it("an agent whose schema step waits on another's migration lock: the backlog follows the spool and the bound holds", async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const url = await spools.pg().database('ship_bound_waiting');
    const file = newSpool();
    const first = await spools.storeOn(url, file);
    await first.onApplicationShutdown();

    const proxy = await silentProxy(url);
    const holder = new Client({ connectionString: url });
    await holder.connect();
    try {
      // PostgreSQL unreachable at the start (connections hang, then time out): the agent spools.
      proxy.freeze();
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      const s = await spools.storeOn(proxy.url, file, { LIVETRACE_SPOOL_MAX_CHANGES: '1000' });
      expect(s.central!.ready).toBeDefined();
      proxy.heal();
      // Its schema step now waits for the lock: the shipper's attempt with it.
      await waitFor('the agent to wait for the migration lock', async () =>
        (await pgRows(url, `SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_try_advisory_lock(${MIGRATION_LOCK})%' AND pid <> pg_backend_pid()`)).length > 0,
      );
      await s.writer.submit((tx) => {
        for (let i = 0; i < 1500; i++) tx.stmt(newPath).run();
      });
      await waitFor('the spool to be counted full', () => s.shipper!.state.full, 15_000).catch(() => undefined);
      expect(s.shipper!.state).toMatchObject({ full: true, backlog: 1500 });
      // And it says why it waits, naming the lock's holder (it looked stuck: /health kept its last connection error).
      const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      await waitFor('the wait for the migration lock to be logged', () =>
        warn.mock.calls.some(([m]) => String(m).startsWith('waiting ') && String(m).includes(`for the migration lock: pid ${holderPid} `)), 15_000);

      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      await s.shipper!.synced(60_000);
      expect(s.shipper!.state).toMatchObject({ full: false, backlog: 0 });
      expect(await pgRows(url, 'SELECT count(*)::int AS n FROM path')).toEqual([{ n: 1500 }]);
    } finally {
      warn.mockRestore();
      await holder.end();
      await proxy.close();
    }
  });
});
