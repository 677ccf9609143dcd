// A check in the datapath is taken out of the watch list while it is in flight (vlog-gone-check.ts
// take), and its answer comes back after log lines the writer has applied meanwhile. An answer that
// learnt nothing (vswitchd's socket refused, a timeout) put the lifetime back on the watch list
// (VlogLifetimes.unknown) whether or not it still existed: a held-back lifetime lost meanwhile (its
// flow replaced, or deleted by a logged flow_del) was checked again every max-idle for as long as
// the checks failed, one more entry for each such loss, never given up (its failures were counted
// on no lifetime). The flow_add line is a real capture (OVS 3.5.0, userspace datapath); the store is
// a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { MAX_FAILED_CHECKS } from '../../../src/collectors/vlog-check-answer';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe('a check that learnt nothing, answered after its lifetime was lost', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it('does not put a lost held-back lifetime back on the watch list', async () => {
    m = await openMigratedSqlite('livetrace-vlog-inflight-');
    const { flow, time } = capturedFlow();
    const metrics = new MetricsService();
    const bound = new LifetimeSpoolBound({ shipper: { state: { full: true } } } as never, metrics);
    const gone = new GoneChecks();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), gone, bound);

    await m.writer.submit((tx) => lifetimes.installed(tx, flow, time, 'hv1'));
    expect(lifetimes.heldBack).toBe(1);
    // Its check is taken (in flight) ...
    const [check] = gone.take(Number.MAX_SAFE_INTEGER, 5);
    expect(check).toEqual({ id: -1, ufid: flow.ufid });
    // ... while a logged flow_del loses it (no row, no end) ...
    await m.writer.submit((tx) => lifetimes.deleted(tx, flow.ufid, time, 'hv1'));
    expect(lifetimes.heldBack).toBe(0);
    // ... and then the check fails, again and again (vswitchd's socket refused).
    for (let i = 0; i < MAX_FAILED_CHECKS * 2; i++) {
      lifetimes.unknown(check.id, check.ufid);
      for (const c of gone.take(Number.MAX_SAFE_INTEGER, 5)) lifetimes.unknown(c.id, c.ufid);
    }
    expect(gone.size).toBe(0);
  });
});
