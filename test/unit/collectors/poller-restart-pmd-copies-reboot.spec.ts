// The poller started again after ovs-vswitchd restarted while the service was down (a host reboot,
// an OVS upgrade with the agent's): the lifetimes it left open are of the old process, and the new
// one's flows come back with the same UFIDs (a hash of the key) and actions, counted from zero.
// Seeded from the total alone (before f1042cb), a first dump below it ended them counters_reset;
// seeded from the old process's copies (pmd_copies), any copy of the new process at or above the
// old one's on the same PMD made the lifetime go on: {0: 1000, 1: 1} then the new process's
// {0: 0, 1: 2} carried on as one lifetime of 1002 packets. The copies are now stored with the
// process they are of (boot id and pid), and the copies of another process are not carried: the
// total alone, as before the column. Captured OVS 3.1 lines (test/support/pmd-copies-dump.ts); the
// store a real migrated SQLite.
import { EventEmitter } from 'node:events';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { PMD_PACKET_BYTES, pmdCopiesText } from '../../support/pmd-copies-dump';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe('the poller started again on the lifetimes of an ovs-vswitchd that restarted meanwhile', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  let dump = '';
  const rows = () => m.db.prepare('SELECT removal_reason AS reason, packets, bytes FROM datapath_flow ORDER BY id').all();
  /** A run of the service against the ovs-vswitchd of `pid`. */
  const run = (pid: number) => {
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' });
    const vswitchd = Object.assign(new EventEmitter(), { currentPid: pid, call: async () => dump, callServed: async () => ({ text: dump, pid }), invalidateDatapath: () => undefined });
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => 'hv1' } as never, metrics, new LifetimeSpoolBound(store as never, metrics));
    (p as unknown as { seedFromStore(): void }).seedFromStore();
    return p;
  };
  const counts = (packets: number) => ({ packets, bytes: packets * PMD_PACKET_BYTES });

  it("does not carry the old process's copies: ends counters_reset, as from the total alone", async () => {
    m = await openMigratedSqlite('livetrace-poller-pmd-reboot-');
    dump = pmdCopiesText({ 0: 1000, 1: 1 });
    await run(4242).cycle();
    dump = pmdCopiesText({ 0: 0, 1: 2 });
    await run(4243).cycle();
    expect(rows()).toEqual([
      { reason: 'counters_reset', ...counts(1001) },
      { reason: null, ...counts(2) },
    ]);
  });

  it('the same process: goes on from its copies', async () => {
    m = await openMigratedSqlite('livetrace-poller-pmd-reboot-same-');
    dump = pmdCopiesText({ 0: 1000, 1: 1 });
    await run(4242).cycle();
    dump = pmdCopiesText({ 1: 2 });
    await run(4242).cycle();
    expect(rows()).toEqual([{ reason: null, ...counts(1002) }]);
  });
});
