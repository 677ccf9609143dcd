// Falling counters (a check in the datapath finds fewer packets than the lifetime counted) end a vlog
// lifetime as counters_reset and begin a new one, first seen at that check (7b2e750): the flow was
// deleted without a log line and installed again under the same UFID. Two defects of that path:
// - the new lifetime was given the old one's stored actions, not those the check's dpctl/get-flow
//   printed: a flow installed again with other actions (its flow_add line dropped by the log's rate
//   limit, or not read yet) was recorded with actions it no longer had;
// - a lifetime the full spool held back (lifetime-spool-bound.ts) was never compared: a smaller
//   count simply replaced the one it held, and once there was room it was stored as one lifetime
//   first seen at its log line, carrying the new flow's counters. It is now treated as a stored one
//   is: the held-back lifetime ended (lost: no row, as one ended before there was room) and the flow
//   found is a new one, first seen at the check, held back in turn.
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

describe('a check that finds fewer packets than its lifetime counted', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it("begins the new lifetime with the actions the check read, not the old lifetime's", async () => {
    m = await openMigratedSqlite('livetrace-vlog-reset-actions-');
    const { flow, t } = capturedFlow();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const reinstalled = 'ct(zone=12,nat),recirc(0x7)';
    expect(reinstalled).not.toBe(flow.actions);

    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    // Deleted unlogged and installed again with other actions (no flow_add line read): 3 packets since.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(30)), reinstalled), 'hv1'));
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(30), reason: 'counters_reset', packets: 40, actions: flow.actions },
      { firstSeen: t(30), removedAt: null, reason: null, packets: 3, actions: reinstalled },
    ]);
    // Its flow_add line, read late, is the lifetime already begun (installed then), not a third one.
    await m.writer.submit((tx) => lifetimes.installed(tx, { ...flow, actions: reinstalled }, t(25), 'hv1'));
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(30), reason: 'counters_reset', packets: 40, actions: flow.actions },
      { firstSeen: t(25), removedAt: null, reason: null, packets: 3, actions: reinstalled },
    ]);
  });

  it('ends a lifetime the full spool held back as it ends a stored one, and the flow found is a new lifetime', async () => {
    m = await openMigratedSqlite('livetrace-vlog-reset-held-');
    const { flow, t } = capturedFlow();
    const metrics = new MetricsService();
    const state = { full: true };
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: { state } } as never, metrics));
    const outcomes = async () => Object.fromEntries(((await metrics.registry.getSingleMetric('livetrace_datapath_flow_writes_total')?.get())?.values ?? []).map((v) => [v.labels.outcome, v.value]));

    // Held back (spool full), checked installed with 40 packets: still held.
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 40, Date.parse(t(12))), 'hv1'));
    expect(lifetimes.heldBack).toBe(1);
    // Deleted unlogged and installed again: 3 packets at the next check, the spool still full.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 3, Date.parse(t(30))), 'hv1'));
    expect(lifetimes.heldBack).toBe(1);
    // Room: the flow still installed (4 packets) is stored as first seen at the check that found it anew.
    state.full = false;
    expect(lifetimes.catchUp()).toBe(false);
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -2, 4, Date.parse(t(31))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(30), removedAt: null, reason: null, packets: 4, actions: flow.actions }]);
    // The first lifetime ended before there was room: lost, as any held-back lifetime that ended.
    expect(await outcomes()).toMatchObject({ dropped_spool_full: 2, lost_spool_full: 1, stored_late: 1 });
  });

  it("held back, with the deletion and install lines read after the check (kernel datapath): one new lifetime, begun at the install", async () => {
    m = await openMigratedSqlite('livetrace-vlog-reset-held-race-');
    const { flow, t } = capturedFlow();
    const state = { full: true };
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: { state } } as never, new MetricsService()));

    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 40, Date.parse(t(12))), 'hv1'));
    // Deleted at 20 s and installed again at 21 s; the check at 30 s is applied before those lines.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 3, Date.parse(t(30))), 'hv1'));
    await m.writer.submit((tx) => {
      lifetimes.deleted(tx, flow.ufid, t(20), 'hv1');
      lifetimes.installed(tx, flow, t(21), 'hv1');
    });
    expect(lifetimes.heldBack).toBe(1);
    state.full = false;
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -2, 4, Date.parse(t(31))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(21), removedAt: null, reason: null, packets: 4, actions: flow.actions }]);
  });
});
