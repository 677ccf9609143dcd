// The shipper and a PostgreSQL that stops answering without closing the connection (a network
// partition that ate the answer, a frozen host): a TCP proxy between the spool's pool and the
// cluster forwards nothing more, the sockets stay open. The shipper must not wait on such a
// connection for good: PostgreSQL's own statement_timeout (30 s) cannot end it, and TCP keepalive
// takes about two hours to. Until then nothing shipped, the backlog and the spool-full flag stood
// still (up, backlog 0 and not full after a minute with 2,010 changes waiting: the bound dropped
// nothing however far the spool grew), /health stayed down after PostgreSQL was back, and a
// shutdown waited on the batch. Now a connection silent for SILENT_MS with a statement on it is
// dropped (the batch rolls back, as for any error) and the shipper goes on as when PostgreSQL is away.
import { DataSource } from 'typeorm';
import { openCentral } from '../../src/storage/central';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { StoreService } from '../../src/storage/store.service';
import { testConfig } from '../support/app';
import { silentProxy } from '../support/silent-proxy';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

describe('the shipper and a PostgreSQL that stops answering (real PostgreSQL behind a proxy)', () => {
  it('an unanswered batch is given up: the backlog and the bound follow the spool, and shipping resumes once PostgreSQL answers again', async () => {
    const url = await spools.pg().database('ship_blackhole');
    const p = await silentProxy(url);
    const via = p.url;
    const spool = newSpool();
    const cfg = testConfig({ LIVETRACE_DB: via, LIVETRACE_SPOOL: spool, LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv-test', LIVETRACE_SPOOL_MAX_CHANGES: '1000' });
    const ds = new DataSource({ ...dataSourceOptions(spool), migrationsRun: true });
    await ds.initialize();
    await ds.runMigrations();
    const s = new StoreService(ds, await openCentral(cfg, ds), cfg);
    // SILENT_MS is a minute; the test does not wait that long.
    (s.shipper as unknown as { opts: { silentMs: number } }).opts.silentMs = 3000;
    try {
      const newPath = `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-05T00:00:00Z', 'u0', '{}')`;
      const write = (n: number) => s.writer.submit((tx) => { for (let i = 0; i < n; i++) tx.stmt(newPath).run(); });
      await write(10);
      await s.shipper!.synced(30_000);
      // A partition finds the pool holding idle connections (a shipper's steady state); since 18e37c0
      // the migrations leave one fewer at start, so the test opens two itself rather than count on them.
      const pool = (s.shipper as unknown as { pool: import('pg').Pool }).pool;
      await Promise.all([pool.query('SELECT pg_sleep(0.05)'), pool.query('SELECT pg_sleep(0.05)')]);
      p.freeze();
      await write(10);
      // The shipper takes them up (its idle pooled connection: frozen) and waits.
      await new Promise((r) => setTimeout(r, 1000));
      await write(2000);
      const t0 = Date.now();
      // The bound must see the spool: 2,010 changes waiting, 1,000 allowed.
      // Every error the shipper reports meanwhile: the frozen pooled connection is given up as silent
      // ('sent nothing'); a later attempt on a new connection through the frozen proxy fails at
      // connect instead (pg's connection timeout), so the last error alone does not say which came.
      const errors = new Set<string>();
      const silentSeen = () => [...errors].some((e) => /sent nothing/.test(e));
      await waitFor('the spool to be full and the silent connection given up', () => {
        if (s.shipper!.state.lastError) errors.add(s.shipper!.state.lastError);
        return s.shipper!.state.full && silentSeen();
      }, 20_000).catch((e) => console.log(`after ${Date.now() - t0} ms: ${(e as Error).message}; state ${JSON.stringify(s.shipper!.state)}; errors ${JSON.stringify([...errors])}`));
      expect(s.shipper!.state).toMatchObject({ full: true, up: false, backlog: 2010 });
      expect([...errors]).toContainEqual(expect.stringMatching(/sent nothing/));
      p.heal();
      await waitFor('all 2,020 rows in PostgreSQL', async () => (await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path'))[0].n === 2020, 30_000);
      await waitFor('the shipper up again', () => s.shipper!.state.up && s.shipper!.state.backlog === 0, 10_000);
    } finally {
      // Ends the frozen connections, so the shutdown is not held by them.
      await p.close();
      await s.onApplicationShutdown().catch(() => undefined);
    }
  });
});
