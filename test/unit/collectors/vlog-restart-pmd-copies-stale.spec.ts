// The vswitchd log source started again on a lifetime whose pmd_copies no longer describe its
// counters (poller-restart-pmd-copies-stale.spec.ts for the poller). Every write of this source
// sets the counters with the copies that count them (retired + the copy read last), but an agent
// before f1042cb, run on the same spool in between (a rollback), updates the counters alone and
// leaves the JSON of the last newer run: read back, the copy read last was that run's, and the
// lifetime's packets fell with no end (90 -> 50 below). A JSON that does not add up to the row's
// counters is read as none: the total alone. Its one legitimate lag, counters a check held back
// while the spool was full and a PMD noted once it has room, before the tick writes them, is closed
// by writing those counters with the copies then. The flow_add line is a real capture (OVS 3.5.0);
// the store a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

const rowsOf = (m: MigratedSqlite) => m.db.prepare('SELECT removed_at AS removedAt, removal_reason AS reason, packets, bytes FROM datapath_flow ORDER BY id').all();
/** foundInstalled's bytes a packet. */
const counts = (packets: number) => ({ packets, bytes: packets * 98 });

describe('vlog lifetime of a flow with a copy on each of two PMDs, its pmd_copies behind its counters at a restart', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  const state = { full: false };
  const run = () =>
    new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: { state } } as never, new MetricsService()));

  it("an older agent's run updated the counters alone: the copies read as none, its packets never fall", async () => {
    m = await openMigratedSqlite('livetrace-vlog-pmd-stale-');
    state.full = false;
    const before = run();
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => before.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => before.installed(tx, flow, t(0.5), 'hv1', 'pmd-c01/id:7'));
    await m.writer.submit((tx) => before.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    // The older agent's run: it read 90 on core 0's copy and wrote it with its statement
    // (DatapathFlowStore.update before f1042cb).
    m.db.prepare('UPDATE datapath_flow SET last_seen = ?, packets = ?, bytes = ?, used = ? WHERE id = ?').run(t(24), 90, 90 * 98, '0.500s', 1);
    const after = run();
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 50, Date.parse(t(36))), 'hv1'));
    // The total alone: 50 < 90, ended counters_reset with its 90 kept, as for a row with no pmd_copies.
    expect(rowsOf(m)).toEqual([
      { removedAt: t(36), reason: 'counters_reset', ...counts(90) },
      { removedAt: null, reason: null, ...counts(50) },
    ]);
  });

  it('a PMD noted once the spool has room, before the held counters are written: both written, the restart goes on', async () => {
    m = await openMigratedSqlite('livetrace-vlog-pmd-stale-held-');
    state.full = false;
    const before = run();
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => before.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    state.full = true;
    await m.writer.submit((tx) => before.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(0.2))), 'hv1'));
    state.full = false;
    // Core 1's flow_add, written before the tick's held write; then the service stops.
    await m.writer.submit((tx) => before.installed(tx, flow, t(0.5), 'hv1', 'pmd-c01/id:7'));
    const after = run();
    // core 0's copy idled out: get-flow reads core 1's.
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ removedAt: null, reason: null, ...counts(43) }]);
  });
});
