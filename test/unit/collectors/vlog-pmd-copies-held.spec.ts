// A flow with a copy on each of two PMDs (vlog-pmd-copies.spec.ts), while the full spool holds its
// lifetime back (lifetime-spool-bound.ts). 3c3b7cd notes the PMDs that logged a stored lifetime
// installed, so that a check reading the other PMD's copy (smaller counters, the copy read before
// having idled out) is not a reset; a held-back lifetime kept no PMD, so:
// - stored late, it was a lifetime of no PMD: the next check that read the other copy ended the live
//   flow counters_reset and began another;
// - still held back, 7719d8b's comparison read the other copy as fewer packets: the live flow's
//   lifetime was lost (lost_spool_full, never stored) and a new one begun at that check.
// Now a held-back lifetime notes its PMDs as a stored one does and counts its copies the same way
// (one owner: VlogLifetimes.counted), and stored late it keeps them. The flow_add line is a real
// capture (OVS 3.5.0); the store a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

const rowsOf = (m: MigratedSqlite) =>
  m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason, packets FROM datapath_flow ORDER BY id').all();

describe('a held-back lifetime of a flow with a copy on each of two PMDs', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  const setUp = async (prefix: string) => {
    m = await openMigratedSqlite(prefix);
    const state = { full: true };
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: { state } } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0.5), 'hv1', 'pmd-c01/id:7'));
    return { lifetimes, state, flow, t };
  };

  it("stored late, goes on when the check reads the other PMD's copy", async () => {
    const { lifetimes, state, flow, t } = await setUp('livetrace-vlog-pmd-held-late-');
    state.full = false;
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 40, Date.parse(t(12))), 'hv1'));
    // core 0's copy idled out: get-flow reads core 1's.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 43 }]);
  });

  it("still held back, is not lost when the check reads the other PMD's copy; stored with both copies counted", async () => {
    const { lifetimes, state, flow, t } = await setUp('livetrace-vlog-pmd-held-');
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 3, Date.parse(t(24))), 'hv1'));
    expect(lifetimes.heldBack).toBe(1);
    state.full = false;
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 5, Date.parse(t(25))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 45 }]);
  });
});
