// The vswitchd log source's check of a flow with a copy on each of two PMDs is not put off by the
// copies' own flow_add lines. Each PMD logs a flow_add when it installs its copy (again after its
// copy idled out); `dpctl/get-flow` reads one copy. Each line used to move the lifetime's due check a
// max-idle past it, so with copies coming and going on the two PMDs the check that would have read a
// copy's burst came after that copy had idled out: its packets were never counted. The times are
// those of test/e2e/vlog-multi-pmd.e2e-spec.ts's failing run on OVS 4.0.0 (core 0's copy installed at
// 0 s, core 1's at 3.4 s, core 1 counts 30 packets at 11.2 s, core 0's copy idles out and is installed
// again at 13.2 s, core 1's idles out at 21.3 s). The flow_add line is a real capture (OVS 3.5.0);
// the store a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks, MAX_IDLE_MS } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe('vlog lifetimes of a flow whose PMD copies are installed again', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it("check when the first copy may have idled out, whatever the other copies' flow_add lines say since", async () => {
    m = await openMigratedSqlite('livetrace-vlog-pmd-due-');
    const gone = new GoneChecks();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), gone, new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    const at = (s: number) => Date.parse(t(s));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:5'));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(3.4), 'hv1', 'pmd-c01/id:6'));
    // Core 0's copy idled out; its PMD installs it again.
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(13.2), 'hv1', 'pmd-c00/id:5'));
    const firstDue = MAX_IDLE_MS / 1000 + 2;
    const due = gone.take(at(firstDue), 10);
    expect(due.map((d) => d.ufid)).toEqual([flow.ufid]);
    // get-flow reads core 1's copy, burst and all.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, due[0].id, 30, at(firstDue)), 'hv1'));
    // Core 1's copy idles out; the next check reads core 0's.
    const next = gone.take(at(24), 10);
    expect(next.map((d) => d.ufid)).toEqual([flow.ufid]);
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, next[0].id, 4, at(24)), 'hv1'));
    expect(m.db.prepare('SELECT removal_reason AS reason, packets FROM datapath_flow').all()).toEqual([{ reason: null, packets: 34 }]);
  });
});
