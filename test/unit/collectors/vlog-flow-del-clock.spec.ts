// A vlog lifetime's events come on two clocks: its log lines carry vswitchd's time, its checks
// (dpctl/get-flow) the agent's. A flow_del line was ordered against a lifetime a check had begun
// (counters fallen) by comparing the two: with vswitchd's clock minutes behind, a deletion after that
// check read as one before it, re-dated the lifetime before and left the open one open. And a vlog
// lifetime had no heard_at, so retention's QUIET_MS guard read vswitchd's time of its end: ended a
// minute ago by a clock ten minutes behind, it went under the row limit. Lines and checks are now
// ordered on the agent's clock (vlog-log-clock.ts) and heard_at says when the end was heard; the times
// shown are all vswitchd's (a check's moved by the clocks' offset). The flow is the captured OVS 3.5.0 flow_add; the store a real migrated SQLite.
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import type { CheckedItem } from '../../../src/collectors/vlog-check-answer';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { LogClock } from '../../../src/collectors/vlog-log-clock';
import { loadConfig } from '../../../src/config/config';
import { CrossCheckStore } from '../../../src/cross-checks/cross-check-store';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { IngestStore } from '../../../src/ingest/ingest-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import type { PathStore } from '../../../src/paths/path-store';
import { RetentionService } from '../../../src/retention/retention.service';
import type { StoreService } from '../../../src/storage/store.service';
import type { StoreWriter } from '../../../src/storage/writer';
import { TraceStore } from '../../../src/traces/trace-store';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const MINUTES = 10 * 60_000;
const rowsOf = (m: MigratedSqlite) => m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason FROM datapath_flow ORDER BY id').all();

describe('a vlog flow_del, vswitchd’s clock apart from the agent’s', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  /** The captured flow, its lifetimes, and `line(s, readAfter)`: a line logged `s` s after the install, heard when read `readAfter` s later on the agent's clock, vswitchd `skew` ms behind. */
  async function setUp(skew: number) {
    m = await openMigratedSqlite('livetrace-vlog-del-clock-');
    const { flow, t } = capturedFlow();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const clock = new LogClock();
    const agent = (s: number) => Date.parse(t(s)) + skew;
    const heard = (s: number, readAt = s) => clock.heard(Date.parse(t(s)), agent(readAt));
    /** A check at `s` s on the agent's clock, with the clocks' offset the service gives it. */
    const check = (packets: number, s: number): CheckedItem => ({ ...foundInstalled(flow, 1, packets, agent(s)), offset: clock.offset() });
    return { flow, t, lifetimes, agent, heard, check };
  }

  it('ends the lifetime a check began when the deletion is logged after that check, vswitchd 10 minutes behind', async () => {
    const { flow, t, lifetimes, heard, check } = await setUp(MINUTES);
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', null, false, heard(0)));
    await m.writer.submit((tx) => lifetimes.checked(tx, check(40, 12), 'hv1'));
    // Deleted unlogged and installed again: the check at 24 s begins a new lifetime.
    await m.writer.submit((tx) => lifetimes.checked(tx, check(3, 24), 'hv1'));
    // That lifetime deleted at 30 s (after the check), the line read at once.
    await m.writer.submit((tx) => lifetimes.deleted(tx, flow.ufid, t(30), 'hv1', heard(30)));
    // The check's time shown on vswitchd's clock, as the log's (vlog-log-clock.ts shownAt): 24 s.
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(24), reason: 'counters_reset' },
      { firstSeen: t(24), removedAt: t(30), reason: 'flow_del' },
    ]);
  });

  it('still ends the lifetime before a check when the deletion was logged before it and read after, vswitchd 10 minutes behind', async () => {
    const { flow, t, lifetimes, heard, check } = await setUp(MINUTES);
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', null, false, heard(0)));
    await m.writer.submit((tx) => lifetimes.checked(tx, check(40, 12), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, check(3, 30), 'hv1'));
    // Deleted at 20 s and installed again at 21 s, both lines read after the check.
    await m.writer.submit((tx) => {
      lifetimes.deleted(tx, flow.ufid, t(20), 'hv1', heard(20, 30.2));
      lifetimes.installed(tx, flow, t(21), 'hv1', null, false, heard(21, 30.2));
    });
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(20), reason: 'flow_del' },
      { firstSeen: t(21), removedAt: null, reason: null },
    ]);
  });

  it('keeps a lifetime whose deletion was heard a minute ago, vswitchd 10 minutes behind, past the row limit', async () => {
    const { flow, t, lifetimes, heard, agent } = await setUp(MINUTES);
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', null, false, heard(0)));
    await m.writer.submit((tx) => lifetimes.deleted(tx, flow.ufid, t(1), 'hv1', heard(1)));
    await m.writer.submit((tx) => lifetimes.installed(tx, { ...flow, ufid: '00000000-0000-4000-8000-000000000002' }, t(2), 'hv1', null, false, heard(2)));
    const stores = { flows: new DatapathFlowStore({ db: m.db }), upcalls: new UpcallStore({ db: m.db }), traces: new TraceStore({ db: m.db, writer: m.writer }) };
    const retention = new RetentionService(
      { db: m.db, writer: m.writer } as unknown as StoreService,
      stores.traces,
      { deleteIfEmpty: () => false } as unknown as PathStore,
      stores.flows,
      loadConfig({ LIVETRACE_DB: join(m.dir, 'db.sqlite'), LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '1' }),
      new MetricsService(),
      stores.upcalls,
      new CrossCheckStore({ db: m.db }),
      new IngestStore(),
    );
    await retention.round(agent(61));
    expect(rowsOf(m)).toHaveLength(2);
  });
});
