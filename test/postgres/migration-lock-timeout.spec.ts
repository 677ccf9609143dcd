// The PostgreSQL migrations' session on a real PostgreSQL (storage/pg-migrate.ts): no statement
// timeout (the pool's 30 s failed a long migration at every start, for ever), a short lock timeout
// instead, so a migration waiting for a table another session holds does not keep every later reader
// of that table queued behind it (it gives way and tries again), a concurrent index build not cut
// short by that lock timeout, the pool's settings back afterwards; and `npm run migration:run` takes
// the same advisory lock as every start (the typeorm CLI took none). "Waiting" and "blocked" are
// states read in pg_stat_activity and pg_locks, not times.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from '../../src/storage/pg-index';
import { migrateUnderLock, MIGRATION_LOCK } from '../../src/storage/pg-migrate';
import { openPostgres, pgDataSourceOptions } from '../../src/storage/postgres';
import { ROOT } from '../support/app';
import { connect as client, migratedBefore, usePostgres } from '../support/postgres';
import { waitFor } from '../support/wait';

jest.setTimeout(180_000);

const HEARD_AT = 'PgWriterSlotHeardAt1797100000000';
const cluster = usePostgres();

/** A promise's outcome, readable while it runs. */
function watch<T>(p: Promise<T>): { state: () => 'running' | 'done' | string; value: Promise<T> } {
  let state = 'running';
  const value = p.then(
    (v) => ((state = 'done'), v),
    (e: Error) => {
      state = `failed: ${e.message}`;
      throw e;
    },
  );
  value.catch(() => undefined);
  return { state: () => state, value };
}

const pidOf = async (c: Client) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;

/** The session (not `admin`) whose statement matches `re` waits for a lock. */
const waitingOn = (admin: Client, re: string, running: () => string) =>
  waitFor(`a statement ~ ${re} waiting for a lock`, async () => {
    if (running() !== 'running') throw new Error(`the migrations ended first: ${running()}`);
    const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE query ~* $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`, [re]);
    return rows[0]?.pid as number | undefined;
  });

const settings = async (qr: QueryRunner) => {
  const [r] = (await qr.query(`SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout`)) as Array<Record<string, string>>;
  return r;
};

describe('PostgreSQL migrations: no statement timeout, a short lock timeout, tried again', () => {
  it("a migration whose table another transaction holds does not keep that table's readers waiting, and runs once it is let go", async () => {
    const url = await migratedBefore(cluster(), 'migration_lock_queue', HEARD_AT);
    const admin = await client(url);
    const holder = await client(url); // an open transaction that read writer_slot (ACCESS SHARE)
    const reader = await client(url);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM writer_slot');
      const start = watch(openPostgres(url, 2, { lockTimeoutMs: 200, attempts: 1000 }));
      // The agent's start: its ALTER TABLE queued for writer_slot's ACCESS EXCLUSIVE behind the holder.
      await waitingOn(admin, '^ALTER TABLE "writer_slot"', start.state);
      // Another session's read of writer_slot, while the holder still holds it.
      const readerPid = await pidOf(reader);
      const read = watch(reader.query('SELECT count(*) FROM writer_slot'));
      await waitFor(
        'the read done while the holder holds writer_slot',
        async () => {
          if (start.state() !== 'running') throw new Error(`the start ended: ${start.state()}`);
          return read.state() === 'done';
        },
        90_000,
      ).catch(async (err: Error) => {
        const { rows } = await admin.query('SELECT pg_blocking_pids($1) AS by', [readerPid]);
        throw new Error(`${err.message} (start ${start.state()}, read blocked by ${JSON.stringify(rows[0].by)})`);
      });
      // Done while the migration is still on: it gave way (not cancelled at a statement timeout, which
      // would have failed the start), and nobody is blocked behind it now.
      expect(start.state()).toBe('running');
      const { rows: blocked } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0 AND pid = $1`, [readerPid]);
      expect(blocked[0].n).toBe(0);
      await holder.query('COMMIT');
      await (await start.value).destroy();
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'writer_slot' AND column_name = 'heard_at'`);
      expect(rows[0].n).toBe(1);
      expect((await admin.query('SELECT name FROM migrations WHERE name = $1', [HEARD_AT])).rows).toHaveLength(1);
    } finally {
      await holder.end();
      await reader.end();
      await admin.end();
    }
  });

  it('a migration runs without statement timeout, an index built concurrently waits past the lock timeout, and the pool gets its settings back', async () => {
    const url = await cluster().database('migration_settings');
    await (await openPostgres(url, 1)).destroy();
    const admin = await client(url);
    const batch = await client(url);
    const seen: Record<string, Record<string, string>> = {};
    class SeenInTransaction1899000000000 implements MigrationInterface {
      name = 'SeenInTransaction1899000000000';
      async up(qr: QueryRunner) {
        seen.inTransaction = await settings(qr);
      }
      async down() {}
    }
    class BuildsConcurrently1899000000100 implements MigrationInterface {
      name = 'BuildsConcurrently1899000000100';
      transaction = false;
      async up(qr: QueryRunner) {
        await createIndexConcurrently(qr, 'idx_t_cic', 'ON "t_cic" ("id")');
        seen.afterBuild = await settings(qr);
      }
      async down() {}
    }
    const ds = new DataSource({ ...pgDataSourceOptions(url, 1), migrations: [SeenInTransaction1899000000000, BuildsConcurrently1899000000100] });
    await ds.initialize();
    try {
      await admin.query('CREATE TABLE t_cic (id int)');
      // A shipper's batch in flight: the concurrent build waits for it to end.
      await batch.query('BEGIN');
      await batch.query('INSERT INTO t_cic VALUES (1)');
      // One try only: a build ended by the lock timeout would fail the run.
      const run = watch(migrateUnderLock(ds, { lockTimeoutMs: 100, attempts: 1 }));
      const builder = await waitingOn(admin, '^CREATE INDEX CONCURRENTLY "idx_t_cic"', run.state);
      // Still waiting, per the server's clock, well past the 100 ms lock timeout.
      await waitFor('the build waiting 1 s', async () => {
        if (run.state() !== 'running') throw new Error(`the migrations ended first: ${run.state()}`);
        const { rows } = await admin.query(`SELECT now() - query_start > interval '1 second' AS long FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [builder]);
        if (!rows.length) throw new Error('the build no longer waits');
        return rows[0].long as boolean;
      });
      await batch.query('COMMIT');
      await run.value;
      expect(seen).toEqual({
        inTransaction: { statement_timeout: '0', lock_timeout: '100ms' },
        afterBuild: { statement_timeout: '0', lock_timeout: '100ms' },
      });
      const { rows } = await admin.query(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = 'idx_t_cic'::regclass`);
      expect(rows).toEqual([{ valid: true }]);
      // The one connection of the pool is the one the migrations ran on: back to the pool's settings.
      expect((await ds.query(`SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout`))[0]).toEqual({ statement_timeout: '30s', lock_timeout: '0' });
    } finally {
      await batch.end();
      await admin.end();
      await ds.destroy();
    }
  });

  it("a migration that PostgreSQL ends as a deadlock's victim (a shipper's batch holding one of its tables, then waiting for another) is rolled back and tried again, not the start failed", async () => {
    const url = await cluster().database('migration_deadlock');
    const admin = await client(url);
    const batch = await client(url);
    class TwoTables1899000000200 implements MigrationInterface {
      name = 'TwoTables1899000000200';
      async up(qr: QueryRunner) {
        await qr.query('ALTER TABLE "dl_a" ADD COLUMN "x" int');
        await qr.query('ALTER TABLE "dl_b" ADD COLUMN "x" int');
      }
      async down() {}
    }
    await admin.query('CREATE TABLE dl_a (id int)');
    await admin.query('CREATE TABLE dl_b (id int)');
    // The deadlock is found by the session that waited first, once its deadlock_timeout is up: the
    // migration (3 s: time for the batch to start waiting too); the batch never looks (1 h).
    await admin.query(`ALTER DATABASE migration_deadlock SET deadlock_timeout = '3s'`);
    const ds = new DataSource({ ...pgDataSourceOptions(url, 1), migrations: [TwoTables1899000000200] });
    await ds.initialize();
    try {
      await batch.query(`SET deadlock_timeout = '1h'`);
      await batch.query('BEGIN');
      await batch.query('INSERT INTO dl_b VALUES (1)');
      // A lock timeout well past the deadlock check: the deadlock is what ends the migration's wait.
      const run = watch(migrateUnderLock(ds, { lockTimeoutMs: 60_000, attempts: 3 }));
      await waitingOn(admin, '^ALTER TABLE "dl_b"', run.state);
      // The batch goes on into the table the migration has altered: each waits for the other.
      const insert = watch(batch.query('INSERT INTO dl_a VALUES (2)'));
      await waitFor("the batch's insert done, or the migrations ended", () => insert.state() !== 'running' || run.state() !== 'running', 90_000);
      // The migration gave way (its transaction rolled back, the batch went on) and is tried again.
      expect({ migrations: run.state(), batch: insert.state() }).toEqual({ migrations: 'running', batch: 'done' });
      await batch.query('COMMIT');
      await run.value;
      const { rows } = await admin.query(`SELECT table_name AS t FROM information_schema.columns WHERE table_name IN ('dl_a', 'dl_b') AND column_name = 'x' ORDER BY 1`);
      expect(rows.map((r) => r.t)).toEqual(['dl_a', 'dl_b']);
      expect((await admin.query('SELECT name FROM migrations')).rows).toEqual([{ name: 'TwoTables1899000000200' }]);
      expect((await admin.query('SELECT (SELECT count(*) FROM dl_a)::int AS a, (SELECT count(*) FROM dl_b)::int AS b')).rows).toEqual([{ a: 1, b: 1 }]);
    } finally {
      await batch.end();
      await admin.end();
      await ds.destroy();
    }
  });

  it("a migration session whose lock timeout cannot be set gives its connection back with the pool's statement timeout and the advisory lock let go", async () => {
    const url = await cluster().database('migration_bad_setting');
    const ds = new DataSource({ ...pgDataSourceOptions(url, 1), migrations: [] });
    await ds.initialize();
    try {
      // Past PostgreSQL's range for lock_timeout (INT_MAX ms): the SET after statement_timeout = 0 fails.
      await expect(migrateUnderLock(ds, { lockTimeoutMs: 2 ** 31, attempts: 1 })).rejects.toThrow(/lock_timeout|outside the valid range/);
      // The pool's one connection is the one the migrations took: not left without a statement timeout.
      expect((await ds.query(`SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout`))[0]).toEqual({ statement_timeout: '30s', lock_timeout: '0' });
      expect((await ds.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`))[0].n).toBe(0);
    } finally {
      await ds.destroy();
    }
  });

  it('npm run migration:run waits for the advisory lock a starting process holds, then migrates', async () => {
    const url = await cluster().database('migration_cli');
    const starting = await client(url); // a process's start-up migrations, holding the lock
    const admin = await client(url);
    try {
      await starting.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
      let out = '';
      const cli = spawn('npm', ['run', '--silent', 'migration:run'], { cwd: ROOT, env: { ...process.env, LIVETRACE_DB: url }, stdio: ['ignore', 'pipe', 'pipe'] });
      cli.stdout.on('data', (d) => (out += d));
      cli.stderr.on('data', (d) => (out += d));
      const exit = watch(new Promise<number | null>((r) => cli.on('exit', (code) => r(code))));
      try {
        await waitFor(
          'migration:run asking for the migrations lock',
          async () => {
            if (exit.state() !== 'running') throw new Error(`migration:run ended while the lock was held: ${out}`);
            const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ~ $1 AND pid NOT IN ($2, pg_backend_pid())`, [`advisory_lock\\(${MIGRATION_LOCK}\\)`, await pidOf(starting)]);
            return rows[0].n > 0;
          },
          90_000,
        );
        expect((await admin.query(`SELECT to_regclass('migrations') AS t`)).rows[0].t).toBeNull();
        await starting.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
        expect(await exit.value).toBe(0);
      } finally {
        if (exit.state() === 'running') cli.kill();
      }
      const files = readdirSync(join(ROOT, 'migrations/postgres')).filter((f) => f.endsWith('.ts'));
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM migrations');
      expect(rows[0].n).toBe(files.length);
    } finally {
      await starting.end();
      await admin.end();
    }
  });
});
