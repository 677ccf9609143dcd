// The vswitchd log source started again (a new VlogLifetimes on the store the previous run left; the
// log is followed from its end, so the flow_add lines already read are not read again) with an open
// lifetime of a flow with a copy on each of two PMDs (vlog-pmd-copies.spec.ts). The PMDs that logged
// it installed and the copies' counters were only in memory: the restarted source knew the stored
// total alone, so a check reading the other PMD's copy (fewer packets) ended the live flow
// counters_reset and began another, on every restart (an upgrade) of a DPDK host's service. They are
// stored with the lifetime (pmd_copies) and read back at its next check. The flow_add line is a real
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

describe('vlog lifetimes of a flow with a copy on each of two PMDs, the service started again', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  /** A run of the source on the store. */
  const run = () => new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
  const installedOnBoth = async (prefix: string) => {
    m = await openMigratedSqlite(prefix);
    const before = run();
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => before.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => before.installed(tx, flow, t(0.5), 'hv1', 'pmd-c01/id:7'));
    return { before, flow, t };
  };

  it("go on when the check after the restart reads the other PMD's copy", async () => {
    const { before, flow, t } = await installedOnBoth('livetrace-vlog-restart-pmd-');
    await m.writer.submit((tx) => before.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    const after = run();
    // core 0's copy idled out: get-flow reads core 1's.
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 43 }]);
  });

  it('go on from the copy that had left before the restart, its packets still counted', async () => {
    const { before, flow, t } = await installedOnBoth('livetrace-vlog-restart-pmd-left-');
    await m.writer.submit((tx) => before.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => before.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    const after = run();
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 5, Date.parse(t(36))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 45 }]);
  });

  it('go on when both PMDs had logged it installed, no check yet, before the restart', async () => {
    const { flow, t } = await installedOnBoth('livetrace-vlog-restart-pmd-unchecked-');
    const after = run();
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 43 }]);
  });
});
