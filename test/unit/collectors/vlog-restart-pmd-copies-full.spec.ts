// A stored vlog lifetime whose second PMD logged the flow installed while the spool was full, then
// the service started again (vlog-restart-pmd-copies.spec.ts: the PMDs are read back from
// pmd_copies). notePmd does not write while the spool is full ("then with the next counters"), but
// once there was room:
// - its counters held back by a check while full were written with the JSON of that check, taken
//   before the second PMD was noted: one PMD, so NULL over the row;
// - with no counters held back, nothing wrote them at all until a check.
// Either way the restarted source knew one PMD, and its check reading the other copy (fewer packets)
// ended the live flow counters_reset. Now the PMDs noted while full are written with the held
// counters (writeHeld), as they are now. The flow_add line is a real capture (OVS 3.5.0); the store
// a real migrated SQLite.
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

describe("vlog lifetime whose second PMD's flow_add came while the spool was full, the service started again", () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  const state = { full: false };
  const run = () =>
    new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: { state } } as never, new MetricsService()));
  /** Stored on core 0's flow_add (room); `between` runs while full, before core 1's flow_add; then room, and the tick's held write. */
  const storedThenFull = async (prefix: string, between: (l: VlogLifetimes, f: ReturnType<typeof capturedFlow>) => Promise<unknown>) => {
    m = await openMigratedSqlite(prefix);
    state.full = false;
    const before = run();
    const c = capturedFlow();
    await m.writer.submit((tx) => before.installed(tx, c.flow, c.t(0), 'hv1', 'pmd-c00/id:6'));
    state.full = true;
    await between(before, c);
    await m.writer.submit((tx) => before.installed(tx, c.flow, c.t(0.5), 'hv1', 'pmd-c01/id:7'));
    state.full = false;
    // vlog-source.service.ts tick: catchUp() true queues { kind: 'held' }, written by writeHeld.
    if (before.catchUp()) await m.writer.submit((tx) => before.writeHeld(tx));
    return c;
  };

  it("go on when the check after the restart reads the other PMD's copy (counters held back by a check while full)", async () => {
    const { flow, t } = await storedThenFull('livetrace-vlog-restart-pmd-full-held-', (l, { flow, t }) =>
      m.writer.submit((tx) => l.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(0.2))), 'hv1')),
    );
    const after = run();
    // core 0's copy idled out: get-flow reads core 1's.
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 43 }]);
  });

  it("go on when the check after the restart reads the other PMD's copy (no check while full)", async () => {
    const { flow, t } = await storedThenFull('livetrace-vlog-restart-pmd-full-', () => Promise.resolve());
    const after = run();
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => after.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 43 }]);
  });
});
