// The bytes of a vlog lifetime whose copy read before left (vlog-pmd-copies.spec.ts) when no copy had
// been read yet in this run: a lifetime begun by a check (counters fallen: its counters are the
// check's), then two PMDs' flow_add lines, then a check reading the other copy. counted() retired
// the packets the lifetime had (its stored total) but no bytes (the copy read last's, none), so the
// lifetime's bytes fell (294 -> 196) while its packets went on (3 -> 5). Now the bytes retire as
// the packets do, from the same total. The flow_add line is a real capture (OVS 3.5.0); the store a
// real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

/** foundInstalled's bytes a packet. */
const counts = (packets: number) => ({ packets, bytes: packets * 98 });

describe('vlog lifetime of two PMD copies, no copy read yet when the other copy is read', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it('counts the bytes of the copy that left as its packets', async () => {
    m = await openMigratedSqlite('livetrace-vlog-pmd-bytes-');
    const l = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => l.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => l.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    // Deleted unlogged and installed again: a new lifetime (id 2) with the check's counters.
    await m.writer.submit((tx) => l.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    await m.writer.submit((tx) => l.installed(tx, flow, t(25), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => l.installed(tx, flow, t(26), 'hv1', 'pmd-c01/id:7'));
    // core 0's copy (the 3 packets) idled out: get-flow reads core 1's.
    await m.writer.submit((tx) => l.checked(tx, foundInstalled(flow, 2, 2, Date.parse(t(36))), 'hv1'));
    const rows = m.db.prepare('SELECT removal_reason AS reason, packets, bytes FROM datapath_flow ORDER BY id').all();
    expect(rows).toEqual([
      { reason: 'counters_reset', ...counts(40) },
      { reason: null, ...counts(3 + 2) },
    ]);
  });
});
