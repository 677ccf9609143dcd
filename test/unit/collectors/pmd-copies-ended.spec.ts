// An ended lifetime keeps no pmd_copies. The column is what a later run needs to go on with an
// open lifetime (pmd-copies-column.ts); only open ones are read back (DatapathFlowStore.open,
// openOf), so on an ended row it was dead weight, kept and shipped to PostgreSQL for as long as
// retention keeps the lifetime (a few hundred bytes with many PMDs, on rows of about 1 KB). The end's
// own UPDATE clears it. Captured OVS 3.1 dump lines (test/support/pmd-copies-dump.ts) and OVS 3.5
// flow_add (test/support/captured-vlog-flow.ts); the store a real migrated SQLite.
import { EventEmitter } from 'node:events';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { pmdCopiesText } from '../../support/pmd-copies-dump';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe('pmd_copies of an ended lifetime', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));
  const rows = () => m.db.prepare('SELECT removal_reason AS reason, pmd_copies IS NOT NULL AS copies FROM datapath_flow ORDER BY id').all();

  it('the poller: cleared when the flow is gone', async () => {
    m = await openMigratedSqlite('livetrace-pmd-copies-ended-poller-');
    let dump = pmdCopiesText({ 0: 19, 1: 2 });
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' });
    const vswitchd = Object.assign(new EventEmitter(), { currentPid: 1, call: async () => dump, callServed: async () => ({ text: dump, pid: 1 }), invalidateDatapath: () => undefined });
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => 'hv1' } as never, metrics, new LifetimeSpoolBound(store as never, metrics));
    await p.cycle();
    expect(rows()).toEqual([{ reason: null, copies: 1 }]);
    dump = '';
    await p.cycle();
    expect(rows()).toEqual([{ reason: 'gone', copies: 0 }]);
  });

  it('the vswitchd log source: cleared when a check finds the flow gone', async () => {
    m = await openMigratedSqlite('livetrace-pmd-copies-ended-vlog-');
    const l = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => l.installed(tx, flow, t(0), 'hv1', 'pmd-c00/id:6'));
    await m.writer.submit((tx) => l.installed(tx, flow, t(0.5), 'hv1', 'pmd-c01/id:7'));
    await m.writer.submit((tx) => l.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    expect(rows()).toEqual([{ reason: null, copies: 1 }]);
    await m.writer.submit((tx) => l.checked(tx, { kind: 'checked', id: 1, ufid: flow.ufid, at: Date.parse(t(24)), result: { state: 'gone' } }, 'hv1'));
    expect(rows()).toEqual([{ reason: expect.any(String), copies: 0 }]);
  });
});
