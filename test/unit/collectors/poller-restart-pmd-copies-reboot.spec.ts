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
import { pmdCopiesText, pmdCounts, restartedPoller } from '../../support/pmd-copies-dump';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe('the poller started again on the lifetimes of an ovs-vswitchd that restarted meanwhile', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  let dump = '';
  const rows = () => m.db.prepare('SELECT removal_reason AS reason, packets, bytes FROM datapath_flow ORDER BY id').all();
  /** A run of the service against the ovs-vswitchd of `pid`. */
  const run = (pid: number) => restartedPoller(m, () => dump, pid);
  const counts = pmdCounts;

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
