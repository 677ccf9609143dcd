// Agents of several chassis writing one SQLite file (test/e2e/multi-chassis.e2e-spec.ts). The
// vswitchd log source started again watches the lifetimes its previous run left open, asking its
// datapath for each (dpctl/get-flow) until it is gone (VlogLifetimes.watchOpen). It watched every
// chassis's: another chassis's flow is not in this datapath, so each was asked for and ended as gone
// while still installed there. Only this chassis's are watched. Driven through VlogSourceService on
// a real migrated SQLite, the stand-in vswitchd's get-flow finding no flow, the clock stepped.
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GONE_REASON } from '../../../src/collectors/vlog-gone-check';
import { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore, type NewLifetime } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { UnixctlError } from '../../../src/unixctl/client';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { UpcallsService } from '../../../src/upcalls/upcalls.service';
import { capturedFlow } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

const ENOENT = new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', 'ovs-vswitchd: getting flow (No such file or directory)\n');
const NETDEV = { name: 'netdev@ovs-netdev', type: 'netdev' };
const HV1_UFID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const HV2_UFID = '7a2d3b4c-5e6f-4071-8b8c-0d1e2f3a4b5c';

describe('the vswitchd log source started again on a store other chassis write too', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let source: VlogSourceService | undefined;
  afterEach(async () => {
    await source?.onApplicationShutdown();
    jest.restoreAllMocks();
    closeMigratedSqlite(m);
  });

  it("asks its datapath for its own chassis's open lifetimes only, and leaves the other chassis's open", async () => {
    m = await openMigratedSqlite('livetrace-vlog-shared-');
    const { flow } = capturedFlow();
    const T0 = Date.parse('2026-12-07T00:00:00Z');
    const lifetime = (chassis: string, ufid: string): NewLifetime => ({
      chassis, ufid, firstSeen: new Date(T0 - 60_000).toISOString(), lastSeen: new Date(T0 - 60_000).toISOString(), inPort: null, recircId: '0x0',
      key: flow.key, actions: flow.actions, packets: 1, bytes: 98, used: null, source: 'vlog',
    });
    const flows = new DatapathFlowStore({ db: m.db });
    await m.writer.submit((tx) => [flows.create(tx, lifetime('hv1', HV1_UFID)), flows.create(tx, lifetime('hv2', HV2_UFID))]);

    const file = join(m.dir, 'ovs-vswitchd.log');
    writeFileSync(file, '');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: file });
    const now = jest.spyOn(Date, 'now').mockReturnValue(T0);
    const asked: string[] = [];
    const call = async (command: string, args: string[]) => {
      if (command === 'dpctl/get-flow') asked.push(args.find((a) => a.startsWith('ufid:'))!.slice(5));
      throw ENOENT;
    };
    const vswitchd = Object.assign(new EventEmitter(), { call, datapath: async () => NETDEV, datapaths: async () => [NETDEV] });
    const replicas = { chassisName: () => 'hv1', status: () => ({ synced: true }), ovsOtherConfig: () => undefined };
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const metrics = new MetricsService();
    const upcallStore = new UpcallStore({ db: m.db });
    const upcalls = new UpcallsService(upcallStore, null as never, replicas as never);
    source = new VlogSourceService(config, vswitchd as never, upcalls, store as never, flows, upcallStore, metrics, new LifetimeSpoolBound(store as never, metrics), replicas as never);
    await source.onApplicationBootstrap();
    const checking = () => (source as unknown as { checking: Promise<void> | null }).checking;
    for (let t = 1; t <= 30; t++) {
      now.mockReturnValue(T0 + t * 1000);
      await source.settle();
      await checking();
      await source.settle();
    }
    expect([...new Set(asked)]).toEqual([HV1_UFID]);
    expect(m.db.prepare('SELECT chassis, removal_reason AS reason FROM datapath_flow ORDER BY chassis').all()).toEqual([
      { chassis: 'hv1', reason: GONE_REASON },
      { chassis: 'hv2', reason: null },
    ]);
  });
});
