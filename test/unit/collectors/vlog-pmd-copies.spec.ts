// The vswitchd log source's checks on a userspace datapath with several PMD threads: each PMD that
// receives a flow's packets installs a copy of its own (same UFID, own counters) and logs its own
// flow_add (thread `pmd-cNN/id:M`); `dpctl/get-flow` answers one copy, the first PMD found holding
// one. A reading below the last, for a lifetime two PMDs logged installed, is the other copy once the
// copy read before idled out: the lifetime goes on, counting both. test/e2e/vlog-multi-pmd.e2e-spec.ts
// is the case on a live daemon. The flow_add line is a real capture (OVS 3.5.0); the store a real
// migrated SQLite.
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

describe('vlog lifetimes of a flow with a copy on each of two PMDs', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  const setUp = async (prefix: string) => {
    m = await openMigratedSqlite(prefix);
    return new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
  };

  it("go on when the copy get-flow read idled out and the other PMD's is read", async () => {
    const lifetimes = await setUp('livetrace-vlog-pmd-copies-');
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0.5), 'hv1', 'pmd-c01/id:7'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    // core 0's copy gone: get-flow reads core 1's (3 packets), then it counts on.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 43 }]);
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 5, Date.parse(t(36))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 45 }]);
  });

  it('end counters_reset as before when one PMD alone logged the flow installed', async () => {
    const lifetimes = await setUp('livetrace-vlog-pmd-one-');
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0.5), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(24), reason: 'counters_reset', packets: 40 },
      { firstSeen: t(24), removedAt: null, reason: null, packets: 3 },
    ]);
  });
});
