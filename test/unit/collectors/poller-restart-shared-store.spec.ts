// Agents of several chassis writing one SQLite file (test/e2e/multi-chassis.e2e-spec.ts: writer.ts
// begins IMMEDIATE, so it is safe). An agent started again picks up the lifetimes its previous run
// left open (PollerService.seedFromStore): it picked up every chassis's, and its first dump, which
// does not hold the other chassis's flows, ended them as removed; a restart of its own ovs-vswitchd
// ended them too (vswitchd_restarted). Another chassis's flows still installed read as gone, its
// paths lost their live lifetimes. A poller continues its own chassis's lifetimes only.
import { EventEmitter } from 'node:events';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { pmdCopyLine, PMD_FLOW_UFID, restartedPoller } from '../../support/pmd-copies-dump';
import type { StoreWriter } from '../../../src/storage/writer';

const HV2_UFID = 'b5763539-c011-49aa-8b8d-9c2637873751';
/** hv1's flow (the captured line), and hv2's: the same line under another UFID, on hv2's datapath. */
const hv1Dump = pmdCopyLine(3);
const hv2Dump = pmdCopyLine(7).replace(PMD_FLOW_UFID, HV2_UFID);

describe('an agent started again on a store other chassis write too', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));
  const rows = () => m.db.prepare('SELECT chassis, ufid, removed_at AS removedAt, removal_reason AS reason FROM datapath_flow ORDER BY chassis, id').all();
  const open = (chassis: string, ufid: string) => ({ chassis, ufid, removedAt: null, reason: null });

  it("continues its own chassis's lifetimes and leaves the other chassis's open", async () => {
    m = await openMigratedSqlite('livetrace-poller-shared-');
    await restartedPoller(m, () => hv2Dump, 2, 'hv2').cycle();
    await restartedPoller(m, () => hv1Dump, 1, 'hv1').cycle();
    expect(rows()).toEqual([open('hv1', PMD_FLOW_UFID), open('hv2', HV2_UFID)]);
    // hv1's agent started again: its flow is the same lifetime, hv2's is not hv1's to end.
    await restartedPoller(m, () => hv1Dump, 1, 'hv1').cycle();
    expect(rows()).toEqual([open('hv1', PMD_FLOW_UFID), open('hv2', HV2_UFID)]);
  });

  it("ends its own lifetimes at a restart of its ovs-vswitchd, not the other chassis's", async () => {
    m = await openMigratedSqlite('livetrace-poller-shared-restart-');
    await restartedPoller(m, () => hv2Dump, 2, 'hv2').cycle();
    let pid = 1;
    await restartedPoller(m, () => hv1Dump, 1, 'hv1').cycle();
    const hv1 = restartedPoller(m, () => hv1Dump, () => pid, 'hv1');
    await hv1.cycle();
    pid = 11;
    await hv1.cycle();
    expect(rows()).toEqual([
      { chassis: 'hv1', ufid: PMD_FLOW_UFID, removedAt: expect.any(String), reason: 'vswitchd_restarted' },
      open('hv1', PMD_FLOW_UFID),
      open('hv2', HV2_UFID),
    ]);
  });
});

describe('an agent started before its local OVS database answers', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it('takes no dump until the chassis is named, then continues that chassis’s lifetimes', async () => {
    m = await openMigratedSqlite('livetrace-poller-unnamed-');
    await restartedPoller(m, () => hv1Dump, 1, 'hv1').cycle();
    const before = m.db.prepare('SELECT id, chassis FROM datapath_flow').all();
    let name: string | undefined;
    let dumps = 0;
    const p = new PollerService(
      loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' }),
      Object.assign(new EventEmitter(), { currentPid: 1, callServed: async () => (dumps++, { text: hv1Dump, pid: 1 }), invalidateDatapath: () => undefined }) as never,
      { writer: m.writer, shipper: { state: { full: false } } } as never,
      new DatapathFlowStore({ db: m.db }),
      { chassisName: () => name, status: () => ({ synced: name !== undefined }) } as never,
      new MetricsService(),
      new LifetimeSpoolBound({ writer: m.writer, shipper: { state: { full: false } } } as never, new MetricsService()),
    );
    let seeded = false;
    void p.whenSeeded().then(() => (seeded = true));
    // Named by nothing yet: a dump now would begin hv1's flow again under another name.
    expect(await p.cycle()).toBeNull();
    expect({ dumps, waiting: p.waitingForChassis, seeded, error: p.lastError }).toEqual({ dumps: 0, waiting: true, seeded: false, error: expect.stringMatching(/name this chassis/) });
    name = 'hv1';
    expect(await p.cycle()).not.toBeNull();
    expect({ dumps, waiting: p.waitingForChassis, seeded, error: p.lastError }).toEqual({ dumps: 1, waiting: false, seeded: true, error: null });
    // The same lifetime goes on: no second one under any name.
    expect(m.db.prepare('SELECT id, chassis FROM datapath_flow').all()).toEqual(before);
    expect(m.db.prepare('SELECT removed_at FROM datapath_flow').all()).toEqual([{ removed_at: null }]);
  });
});
