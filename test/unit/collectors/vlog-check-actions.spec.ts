// A check that reads other actions than its lifetime's, its counters not fallen. The revalidators
// change a megaflow's actions in place when the OpenFlow tables change (ofproto-dpif-upcall.c:
// UKEY_MODIFY, a put with DPIF_FP_MODIFY and without DPIF_FP_ZERO_STATS): same UFID, counters kept.
// Its log line (dpif_netdev's flow_mod) can be dropped by the log's rate limit, and the kernel
// datapath's `put[modify]` is not read as an install: the check was the one sight of the change, and
// the lifetime went on with actions it no longer had while its counters kept growing. As the
// poller's actions_changed (datapath-diff.ts carry): the lifetime ends at the check with its own
// actions, and the flow found is a new lifetime with the actions and counters the check read.
// The flow_add line is a real capture (OVS 3.5.0); the store a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

const rowsOf = (m: MigratedSqlite) =>
  m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason, packets, actions FROM datapath_flow ORDER BY id').all();

describe('a check that reads other actions, its counters not fallen (modified in place, no log line read)', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it('ends the stored lifetime actions_changed and begins one with the actions the check read', async () => {
    m = await openMigratedSqlite('livetrace-vlog-check-actions-');
    const { flow, t } = capturedFlow();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));

    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 55, Date.parse(t(30)), 'drop'), 'hv1'));
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(30), reason: 'actions_changed', packets: 40, actions: flow.actions },
      { firstSeen: t(30), removedAt: null, reason: null, packets: 55, actions: 'drop' },
    ]);
    // Its flow_mod line, read late: the lifetime already begun (modified then), not a third one.
    await m.writer.submit((tx) => lifetimes.installed(tx, { ...flow, actions: 'drop' }, t(25), 'hv1'));
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(30), reason: 'actions_changed', packets: 40, actions: flow.actions },
      { firstSeen: t(25), removedAt: null, reason: null, packets: 55, actions: 'drop' },
    ]);
  });

  it('a held-back lifetime: lost, and the flow found is a new one with the actions the check read', async () => {
    m = await openMigratedSqlite('livetrace-vlog-check-actions-held-');
    const { flow, t } = capturedFlow();
    const state = { full: true };
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: { state } } as never, new MetricsService()));

    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 55, Date.parse(t(30)), 'drop'), 'hv1'));
    expect(lifetimes.heldBack).toBe(1);
    state.full = false;
    expect(lifetimes.catchUp()).toBe(false);
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -2, 56, Date.parse(t(31)), 'drop'), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(30), removedAt: null, reason: null, packets: 56, actions: 'drop' }]);
  });
});
