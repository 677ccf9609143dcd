// PostgreSQL's own retention round (central-retention-store.ts) holds one pooled connection for the
// whole round. A checked-out pg client emits 'error' when its server ends it (a restart of
// PostgreSQL, pg_terminate_backend): with no listener that event ended the process (an uncaught
// exception), where the round should just fail and the next one run.
import { Client } from 'pg';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { centralRound } from '../../src/retention/central-retention-store';
import { usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

describe('PostgreSQL retention and a connection PostgreSQL ends (real PostgreSQL)', () => {
  it('a round whose connection is terminated mid-statement fails; the process lives on and the next round runs', async () => {
    const url = await spools.pg().database('central_fault');
    const ds = await openPostgres(url);
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => void uncaught.push(e);
    // Jest's own handler would fail the file at once: the test counts them instead.
    const before = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    const locker = new Client({ connectionString: url });
    const killer = new Client({ connectionString: url });
    try {
      await locker.connect();
      await killer.connect();
      // The round's first read of trace waits behind this lock: a statement in flight.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE trace IN ACCESS EXCLUSIVE MODE');
      const round = centralRound(poolOf(ds), { days: 0, keep: 5 }, Date.now()).then(
        () => null,
        (e: Error) => e,
      );
      for (let i = 0; i < 100; i++) {
        const r = await killer.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()`);
        if (r.rowCount) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect((await round)?.message).toMatch(/terminat/);
      await new Promise((r) => setTimeout(r, 500));
      expect(uncaught.map((e) => e.message)).toEqual([]);
      await locker.query('ROLLBACK');
      expect(await centralRound(poolOf(ds), { days: 0, keep: 5 }, Date.now())).toMatchObject({ ran: true, traces: 0 });
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const l of before) process.on('uncaughtException', l as (e: Error) => void);
      await locker.end().catch(() => undefined);
      await killer.end().catch(() => undefined);
      await ds.destroy();
    }
  });
});
