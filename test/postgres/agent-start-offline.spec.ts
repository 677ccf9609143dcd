// An agent restarted while PostgreSQL is away (a reboot or an upgrade during an outage) must trace on
// into its spool, as one that lost PostgreSQL while running does (issue 19's faults), and ship when
// PostgreSQL answers. Its start opened PostgreSQL first, so it failed (ECONNREFUSED) and the process
// exited: no tracing at all until PostgreSQL was back. A spool that knows its writer slot needs nothing
// else from PostgreSQL; a new spool must claim a slot there, and an api instance reads it: those still
// fail, saying why.
import { DataSource } from 'typeorm';
import { openCentral } from '../../src/storage/central';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { SLOT_BITS } from '../../src/storage/spool';
import { emptyStats, TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { testConfig } from '../support/app';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(180_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const newPath = (verdict: string) => `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-06T00:00:00Z', 'u0', '${verdict}')`;

async function spoolOnly(file: string): Promise<DataSource> {
  const ds = new DataSource({ ...dataSourceOptions(file), migrationsRun: true });
  await ds.initialize();
  await ds.runMigrations();
  return ds;
}

describe('an agent started while PostgreSQL is away (real PostgreSQL)', () => {
  it('traces into the spool it knows, says PostgreSQL is down, and ships everything once it answers', async () => {
    const url = await spools.pg().database('start_offline');
    const file = newSpool();
    const first = await storeOn(url, file);
    const slot = first.central!.slot;
    await first.writer.submit((tx) => tx.stmt(newPath('{"before":1}')).run());
    // A session active in PostgreSQL, in this spool too (every agent's shipper copies the active ones).
    const session = await first.writer.submit((tx) =>
      new TraceSessionStore(first).insert(tx, {
        chassis: 'api', createdAt: '2026-12-06T00:00:00.000Z', bridge: 'br-int', filter: 'icmp', logicalPort: 'lsp1', maxTraces: null, durationSeconds: null,
        includeExisting: false, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null, stats: emptyStats(), perChassis: {},
      }),
    );
    await first.shipper!.synced(30_000);
    await first.onApplicationShutdown();

    spools.pg().stopServer();
    try {
      // A new spool has no slot to write under: refused, naming PostgreSQL.
      const fresh = await spoolOnly(newSpool());
      await expect(openCentral(testConfig({ LIVETRACE_DB: url, LIVETRACE_SPOOL: 'x', LIVETRACE_ROLE: 'agent' }), fresh)).rejects.toThrow(/^PostgreSQL postgres:\/\/.*ECONNREFUSED/);
      await fresh.destroy();
      // An api instance answers from PostgreSQL: refused too, even on a spool that knows its slot.
      const apiSpool = await spoolOnly(file);
      await expect(openCentral(testConfig({ LIVETRACE_DB: url, LIVETRACE_SPOOL: file, LIVETRACE_ROLE: 'api' }), apiSpool)).rejects.toThrow(/ECONNREFUSED/);
      await apiSpool.destroy();

      const again = await storeOn(url, file);
      expect(again.central!.slot).toBe(slot);
      expect(again.central!.ready).toBeDefined();
      const ids = await again.writer.submit((tx) => [1, 2, 3].map((n) => Number(tx.stmt(newPath(`{"offline":${n}}`)).run().lastInsertRowid)));
      expect(Math.floor(ids[0] / 2 ** SLOT_BITS)).toBe(slot);
      await waitFor('the shipper to say PostgreSQL is down', async () => again.shipper!.state.lastError ?? undefined, 30_000);
      // Its sessions are carried out from the spool's copies meanwhile (before: ECONNREFUSED, none until PostgreSQL answered).
      expect((await new TraceSessionStore(again).active()).map((x) => [x.id, x.logicalPort, x.state])).toEqual([[session, 'lsp1', 'active']]);
      expect(again.shipper!.state).toMatchObject({ up: false, lastError: expect.stringMatching(/ECONNREFUSED/) });
      expect(again.shipper!.state.backlog).toBeGreaterThan(0);

      spools.pg().startServer();
      await again.shipper!.synced(60_000);
      expect(again.shipper!.state.up).toBe(true);
      expect((await pgRows(url, 'SELECT id, verdict FROM path ORDER BY id')).map((r) => r.verdict)).toEqual(['{"before":1}', '{"offline":1}', '{"offline":2}', '{"offline":3}']);
      // Ids continue the slot's: the rows before the restart are PostgreSQL's as they were.
      expect((await pgRows(url, 'SELECT MIN(id)::text AS lo FROM path WHERE verdict LIKE \'{"offline"%\''))[0].lo).toBe(String(ids[0]));
    } finally {
      try {
        spools.pg().startServer();
      } catch {
        // already running
      }
    }
  });

  it('a migration that fails once PostgreSQL answers is said, holds no connections open across retries, and shipping resumes once it is mended', async () => {
    const url = await spools.pg().database('start_offline_migration');
    const file = newSpool();
    const first = await storeOn(url, file);
    await first.onApplicationShutdown();
    // One migration forgotten: run again, it fails (its function already exists). Named, not the
    // newest: later migrations need not fail when run twice.
    const [{ name }] = await pgRows(url, "DELETE FROM migrations WHERE name = 'PgPortTimeOfOldAgents1796600000100' RETURNING name");
    expect(name).toBe('PgPortTimeOfOldAgents1796600000100');

    spools.pg().stopServer();
    let again;
    try {
      again = await storeOn(url, file);
    } finally {
      spools.pg().startServer();
    }
    await again.writer.submit((tx) => tx.stmt(newPath('{"waits":1}')).run());
    const conns = () => pgRows(url, "SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = 'ovn-livetrace' AND datname = current_database()");
    await waitFor('the migration to fail', async () => (/already exists/.test(again.shipper!.state.lastError ?? '') ? true : undefined), 60_000);
    // Retries every ≤ 5 s: each failed attempt's connections are closed (before, 4-6 held open).
    await new Promise((r) => setTimeout(r, 12_000));
    expect((await conns())[0].n).toBeLessThanOrEqual(1);
    expect(again.shipper!.state.up).toBe(false);
    expect(await pgRows(url, 'SELECT verdict FROM path')).toEqual([]);

    await pgRows(url, "INSERT INTO migrations (timestamp, name) VALUES (1796600000100, 'PgPortTimeOfOldAgents1796600000100')");
    await again.shipper!.synced(60_000);
    expect(await pgRows(url, 'SELECT verdict FROM path')).toEqual([{ verdict: '{"waits":1}' }]);
  });
});
