// A lifetime of a flow with a copy on each of two PMDs, continued by the service started again
// (PollerService.seedFromStore reading the open lifetimes the previous run left). Seeded from the
// store's total alone, the lifetime could not tell the copy that left (idled out on its PMD, its
// packets still counted) from counters that fell: the next dump's copies summed below the stored
// total and the live lifetime ended counters_reset, a new one begun, on every restart (an upgrade)
// of a DPDK host's service. The copies' counters are stored with the lifetime (pmd_copies), and the
// restarted poller goes on from them. Captured OVS 3.1 lines (test/support/pmd-copies-dump.ts); the
// store a real migrated SQLite.
import { pmdCopiesText, pmdCounts, restartedPoller } from '../../support/pmd-copies-dump';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe('the poller started again, a lifetime with a copy on each of two PMDs', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  let dump = '';
  const rows = () => m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason, packets, bytes FROM datapath_flow ORDER BY id').all();
  /** A run of the service: a poller on the store, which picks up the lifetimes left open as at its start. */
  const run = () => restartedPoller(m, () => dump);
  const counts = pmdCounts;

  it('goes on after one copy had left, its packets still counted', async () => {
    m = await openMigratedSqlite('livetrace-poller-pmd-restart-');
    const before = run();
    dump = pmdCopiesText({ 0: 19, 1: 2 });
    await before.cycle();
    const [{ firstSeen }] = rows() as Array<{ firstSeen: string }>;
    // Core 0's copy idled out; core 1's carries on.
    dump = pmdCopiesText({ 1: 3 });
    await before.cycle();
    expect(rows()).toEqual([{ firstSeen, removedAt: null, reason: null, ...counts(19 + 3) }]);

    const after = run();
    dump = pmdCopiesText({ 1: 5 });
    await after.cycle();
    expect(rows()).toEqual([{ firstSeen, removedAt: null, reason: null, ...counts(19 + 5) }]);
    // A copy on core 0 again: counted on top, as without the restart.
    dump = pmdCopiesText({ 0: 1, 1: 6 });
    await after.cycle();
    expect(rows()).toEqual([{ firstSeen, removedAt: null, reason: null, ...counts(19 + 1 + 6) }]);
  });

  it('goes on when both copies were there at the restart and one left after it', async () => {
    m = await openMigratedSqlite('livetrace-poller-pmd-restart-both-');
    const before = run();
    dump = pmdCopiesText({ 0: 19, 1: 2 });
    await before.cycle();
    const [{ firstSeen }] = rows() as Array<{ firstSeen: string }>;
    const after = run();
    dump = pmdCopiesText({ 1: 4 });
    await after.cycle();
    expect(rows()).toEqual([{ firstSeen, removedAt: null, reason: null, ...counts(19 + 4) }]);
  });

  it('ends counters_reset when no copy went on, as without the restart', async () => {
    m = await openMigratedSqlite('livetrace-poller-pmd-restart-reset-');
    const before = run();
    dump = pmdCopiesText({ 0: 19, 1: 2 });
    await before.cycle();
    dump = pmdCopiesText({ 1: 3 });
    await before.cycle();
    const after = run();
    dump = pmdCopiesText({ 1: 1 });
    await after.cycle();
    expect(rows()).toMatchObject([{ reason: 'counters_reset', ...counts(19 + 3) }, { removedAt: null, ...counts(1) }]);
  });
});
