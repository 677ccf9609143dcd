// A check in flight when its stored lifetime ends (a logged flow_del read meanwhile), answered with
// nothing learnt (a datapath that cannot answer, a timeout: VlogLifetimes.unknown). The answer put
// the lifetime back on the watch list whether or not it was still open, so the ended lifetime was
// checked again every max-idle for as long as the answers stayed unknown (for good beside a kernel
// datapath that cannot look flows up by UFID), its row closed. Its late answer now drops it
// (GoneChecks.again: taken and forgotten since). The flow_add line is a real capture (OVS 3.5.0,
// userspace datapath); the store is a real migrated SQLite.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { capturedFlow } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe("an ended lifetime's late 'unknown' answer", () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => {
    jest.restoreAllMocks();
    closeMigratedSqlite(m);
  });

  async function open() {
    m = await openMigratedSqlite('livetrace-vlog-ended-inflight-');
    const gone = new GoneChecks();
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), gone, new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1'));
    return { gone, lifetimes, flow, t };
  }

  it('does not put the ended lifetime back on the watch list', async () => {
    const { gone, lifetimes, flow, t } = await open();
    // Its check is taken (in flight) ...
    const [check] = gone.take(Date.parse(t(12)), 5);
    expect(check.ufid).toBe(flow.ufid);
    // ... while a logged flow_del ends it ...
    await m.writer.submit((tx) => lifetimes.deleted(tx, flow.ufid, t(12.1), 'hv1'));
    expect(m.db.prepare('SELECT removed_at AS removedAt FROM datapath_flow').all()).toEqual([{ removedAt: t(12.1) }]);
    // ... and the check answers unknown (VlogLifetimes.unknown reads the time the answer came), and so would every one after it.
    const now = jest.spyOn(Date, 'now').mockReturnValue(Date.parse(t(12.2)));
    lifetimes.unknown(check.id, check.ufid);
    const asked: number[] = [];
    for (let s = 13; s <= 600; s++) {
      now.mockReturnValue(Date.parse(t(s)));
      for (const c of gone.take(Date.now(), 5)) (asked.push(s), lifetimes.unknown(c.id, c.ufid));
    }
    expect(asked).toEqual([]);
    expect(gone.size).toBe(0);
  });

  it('an open lifetime whose check learnt nothing is still asked again', async () => {
    const { gone, lifetimes, flow, t } = await open();
    const [check] = gone.take(Date.parse(t(12)), 5);
    jest.spyOn(Date, 'now').mockReturnValue(Date.parse(t(12)));
    lifetimes.unknown(check.id, check.ufid);
    expect(gone.take(Date.parse(t(24)), 5)).toEqual([{ id: check.id, ufid: flow.ufid }]);
  });
});
