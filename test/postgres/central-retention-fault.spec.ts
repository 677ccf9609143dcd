// PostgreSQL's own retention round (central-retention-store.ts) holds one pooled connection for the
// whole round. A checked-out pg client emits 'error' when its server ends it (a restart of
// PostgreSQL, pg_terminate_backend): with no listener that event ended the process (an uncaught
// exception), where the round should just fail and the next one run. A connection that falls silent
// (a partition, a frozen host: nothing closes it) held the round, and with it every later round of
// the process (one at a time), for good: the round now runs on the shipper's guarded client
// (storage/pg-client.ts withClient), which gives a silent connection up.
import { Client } from 'pg';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { centralRound } from '../../src/retention/central-retention-store';
import { silentProxy } from '../support/silent-proxy';
import { usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

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

  it('a round whose connection falls silent mid-round fails (the connection given up), and the next round runs once PostgreSQL answers again', async () => {
    const url = await spools.pg().database('central_silent');
    const p = await silentProxy(url);
    const ds = await openPostgres(p.url);
    try {
      // The pool's connection, idle after this round, is the one that falls silent.
      expect(await centralRound(poolOf(ds), { days: 0, keep: 5 }, Date.now(), { silentMs: 2000 })).toMatchObject({ ran: true });
      p.freeze();
      const round = centralRound(poolOf(ds), { days: 0, keep: 5 }, Date.now(), { silentMs: 2000 }).then(
        () => 'ended without an error',
        (e: Error) => e.message,
      );
      // Without the guard the round never ends: the race says so instead of jest's timeout.
      let timer: NodeJS.Timeout | undefined;
      const still = new Promise<string>((r) => (timer = setTimeout(() => r('still waiting after 30 s'), 30_000)));
      expect(await Promise.race([round, still]).finally(() => clearTimeout(timer))).toMatch(/PostgreSQL sent nothing for 2 s/);
      p.heal();
      // The given-up connection ended its server side too (its advisory lock with it): a later round
      // runs. The pool's other idle connections froze as well: each is given up in turn.
      const next = await waitFor('a round to run', () => centralRound(poolOf(ds), { days: 0, keep: 5 }, Date.now(), { silentMs: 2000 }), 60_000);
      expect(next).toMatchObject({ ran: true, traces: 0 });
    } finally {
      await p.close();
      await ds.destroy();
    }
  });
  it('a round cut off by a partition after taking its lock: the server ends the session, and the lock with it, so a round of another process runs', async () => {
    // Across a real partition the server never hears the round's connection go: its session, and
    // the session-level advisory lock, stayed until its TCP keepalive (hours by default), and every
    // process's round skipped meanwhile. The round bounds how long the server keeps an idle session.
    const url = await spools.pg().database('central_partition');
    const p = await silentProxy(url);
    const cut = await openPostgres(p.url);
    const direct = await openPostgres(url);
    try {
      const round = centralRound(poolOf(cut), { days: 1, keep: 0 }, Date.now(), { silentMs: 2000, stopped: () => (p.partition(), false) }).then(
        () => 'ended without an error',
        (e: Error) => e.message,
      );
      expect(await round).toMatch(/PostgreSQL sent nothing for 2 s/);
      const next = await waitFor('another process to run a round', async () => {
        const r = await centralRound(poolOf(direct), { days: 1, keep: 0 }, Date.now());
        return r.ran ? r : undefined;
      }, 60_000);
      expect(next).toMatchObject({ ran: true });
    } finally {
      await p.close();
      await cut.destroy();
      await direct.destroy();
    }
  });
});
