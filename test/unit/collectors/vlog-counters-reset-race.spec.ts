// Falling counters end a vlog lifetime as counters_reset (7b2e750), at the check that found them.
// But a check reads the datapath now, while the log is read 200 ms at a time (and a syslog or a
// busy file later still): on the kernel datapath, which logs flow_del and put[create], a flow
// deleted and installed again just before a check has its two log lines applied after the check's
// answer. The check ended the old lifetime (counters_reset, at the check) and began one first seen
// at the check; the flow_del line, earlier than that, then ended the lifetime just begun (removed
// before it was first seen) and the put line began a third: one flow installed twice became three
// lifetimes, the real deletion's time and reason lost. A deletion logged before the open lifetime
// began ends the one before it, at its own time; an install logged before it is when the open one
// began. The flow_add line is a real capture (OVS 3.5.0); the store a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe("a check's falling counters read before the log lines of the deletion and install behind them", () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it('leave two lifetimes: the old one ended by the logged deletion, the new one begun at the logged install', async () => {
    m = await openMigratedSqlite('livetrace-vlog-reset-race-');
    const { flow, t } = capturedFlow();
    const metrics = new MetricsService();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, metrics));
    const found = (packets: number, at: number) => foundInstalled(flow, 1, packets, Date.parse(t(at)));

    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, found(40, 12), 'hv1'));
    // Deleted at 20 s and installed again at 21 s; the check at 30 s is applied before those lines.
    await m.writer.submit((tx) => lifetimes.checked(tx, found(3, 30), 'hv1'));
    await m.writer.submit((tx) => {
      lifetimes.deleted(tx, flow.ufid, t(20), 'hv1');
      lifetimes.installed(tx, flow, t(21), 'hv1');
    });

    const rows = m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason, packets FROM datapath_flow ORDER BY id').all();
    expect(rows).toEqual([
      { firstSeen: t(0), removedAt: t(20), reason: 'flow_del', packets: 40 },
      { firstSeen: t(21), removedAt: null, reason: null, packets: 3 },
    ]);
  });
});
