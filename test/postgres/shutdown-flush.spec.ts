// A planned stop ships the spool's last writes (ship-stop.ts, STOP_FLUSH_MS), those the other
// modules' shutdown hooks make included: the collectors write theirs in Nest's onApplicationShutdown
// (vlog-source.service.ts: its last upcalls and lifetimes; the poller's turn under way), which runs
// before the storage's. TypeORM's module, global like the storage's, shuts down between the two and
// destroys the DataSource whose handle the spool's writer uses: the stop's last flush, made after
// it, found the spool closed and shipped none of them (a decommissioned agent never ships them).
import { IngestLifetimesService } from '../../src/ingest/ingest-lifetimes';
import { StoreService } from '../../src/storage/store.service';
import { startApp } from '../support/app';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

it("a write a module's shutdown hook makes (as the collectors' last lifetimes) is in PostgreSQL once the agent has closed", async () => {
  const url = await spools.pg().database('shutdown_flush');
  const app = await startApp({ LIVETRACE_DB: url, LIVETRACE_SPOOL: newSpool(), LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv-close', LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: '', LIVETRACE_VLOG_SET_LEVELS: 'false' });
  const store = app.get(StoreService);
  const before = await store.writer.submit((tx) => Number(tx.stmt(newPath('before')).run().lastInsertRowid));
  await store.shipper!.synced();
  // A collectors-phase hook (IngestModule shuts down with them, before the global modules) that
  // writes after its own work, as the vlog source's does.
  const ingest = app.get(IngestLifetimesService);
  const own = ingest.onApplicationShutdown.bind(ingest);
  let last = 0;
  ingest.onApplicationShutdown = async () => {
    await own();
    last = await store.writer.submit((tx) => Number(tx.stmt(newPath('at close')).run().lastInsertRowid));
  };
  await app.close();
  expect(last).toBeGreaterThan(before);
  expect(await pgRows(url, 'SELECT id, verdict FROM path ORDER BY id')).toEqual([
    { id: String(before), verdict: '{"at":"before"}' },
    { id: String(last), verdict: '{"at":"at close"}' },
  ]);
});

const newPath = (at: string) => `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv-close', '2026-12-06T00:00:00Z', 'u0', '{"at":"${at}"}')`;
