// The vswitchd log source's checks keep vswitchd's own max-idle (vlog-gone-check.ts maxIdleOf, read
// from the local Open_vSwitch row's other_config:max-idle). It assumed 10 s: a check is due a
// max-idle and its margin after a flow was last used, and one that finds it still installed is due
// again no sooner than a second later. Under `other_config:max-idle=600000` (deployments raise it) an
// idle flow stays installed for ten minutes, so past 12 s of idleness every check found it still there
// and asked again a second later: ~600 get-flow calls for one idle flow, ~20 a second against vswitchd
// with many. Driven through VlogSourceService as it runs: the captured OVS 3.5 main-thread flow_add
// read from a file, a real migrated SQLite, the checks' clock (Date.now) stepped a second at a time;
// the stand-in vswitchd answers get-flow as dpctl prints it, the flow used every 8 s for 96 s and
// installed until it has been idle for the max-idle it runs with. The Open_vSwitch row is a stand-in
// for the replica (ReplicasService.ovsOtherConfig: the row's other_config).
import { EventEmitter } from 'node:events';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GONE_REASON } from '../../../src/collectors/vlog-gone-check';
import { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { UnixctlError } from '../../../src/unixctl/client';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { UpcallsService } from '../../../src/upcalls/upcalls.service';
import { versionDir } from '../../support/captured-model';
import { capturedFlow } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { waitFor } from '../../support/wait';
import type { StoreWriter } from '../../../src/storage/writer';

const log = readFileSync(join(versionDir('ovs-3.5.0_ovn-25.03.0'), 'icmp-allow-related', 'vswitchd.log'), 'utf8').split('\n');
const first = log.findIndex((l) => l.includes('|dpif_netdev|DBG|flow_add: '));
/** The main thread's flow_add, its `flow match:`, and the line after them (the parser holds the last record). */
const lines = log.slice(first, first + 3);
const T0 = Date.parse(/^(\S+?)\|/.exec(lines[0])![1]);
const ENOENT = new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', 'ovs-vswitchd: getting flow (No such file or directory)\n');
const NETDEV = { name: 'netdev@ovs-netdev', type: 'netdev' };
/** The flow's packets: one every 8 s from its install to 96 s, then none. */
const lastUsed = (s: number) => Math.min(96, Math.floor(s / 8) * 8);
const rowsOf = (m: MigratedSqlite) => m.db.prepare('SELECT removed_at AS removedAt, removal_reason AS reason FROM datapath_flow ORDER BY id').all();

describe('vswitchd log source checks under the max-idle vswitchd runs with', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let source: VlogSourceService | undefined;
  afterEach(async () => {
    await source?.onApplicationShutdown();
    source = undefined;
    jest.restoreAllMocks();
    closeMigratedSqlite(m);
  });

  /**
   * The seconds after the install at which get-flow asked for the flow over `span` seconds, and the
   * lifetime's rows. `maxIdleAt(s)`: other_config:max-idle at second s (undefined: not set), which is
   * also how long vswitchd keeps the idle flow.
   */
  async function checksOver(span: number, maxIdleAt: (s: number) => string | undefined): Promise<{ asked: number[]; rows: unknown[] }> {
    m = await openMigratedSqlite('livetrace-vlog-max-idle-');
    const file = join(m.dir, 'ovs-vswitchd.log');
    writeFileSync(file, '');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: file });
    const { flow } = capturedFlow();
    const now = jest.spyOn(Date, 'now').mockReturnValue(T0);
    const s = () => (Date.now() - T0) / 1000;
    const asked: number[] = [];
    const call = async (command: string, args: string[]) => {
      if (command !== 'dpctl/get-flow') throw ENOENT;
      asked.push(s());
      const idleMs = (s() - lastUsed(s())) * 1000;
      const set = maxIdleAt(s());
      if (idleMs >= (set && /^\d+$/.test(set) ? Number(set) : 10_000)) throw ENOENT; // idled out (vswitchd: not a number is the default)
      const packets = lastUsed(s()) / 8 + 1;
      return `ufid:${flow.ufid}, ${flow.key}, packets:${packets}, bytes:${packets * 98}, used:${(idleMs / 1000).toFixed(3)}s, actions:${flow.actions}\n`;
    };
    const vswitchd = Object.assign(new EventEmitter(), { call, datapath: async () => NETDEV, datapaths: async () => [NETDEV] });
    const replicas = { chassisName: () => 'hv1', ovsOtherConfig: (key: string) => (key === 'max-idle' ? maxIdleAt(s()) : undefined) };
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const metrics = new MetricsService();
    const upcallStore = new UpcallStore({ db: m.db });
    const upcalls = new UpcallsService(upcallStore, null as never, { chassisName: () => 'hv1' } as never);
    const flows = new DatapathFlowStore({ db: m.db });
    source = new VlogSourceService(config, vswitchd as never, upcalls, store as never, flows, upcallStore, metrics, new LifetimeSpoolBound(store as never, metrics), replicas as never);
    await source.onApplicationBootstrap();
    appendFileSync(file, [...lines, ''].join('\n'));
    await waitFor('the lifetime stored', async () => {
      await source!.settle();
      return rowsOf(m).length > 0;
    });
    const checking = () => (source as unknown as { checking: Promise<void> | null }).checking;
    for (let t = 1; t <= span; t++) {
      now.mockReturnValue(T0 + t * 1000);
      await source.settle(); // the tick takes the due checks
      await checking();
      await source.settle(); // their answers written
    }
    return { asked, rows: rowsOf(m) };
  }

  it('max-idle 600000: the idle flow still installed is asked for a max-idle after its last packet, not every second', async () => {
    const { asked, rows } = await checksOver(720, () => '600000');
    // 602 s: installed, last used at 96 s: due again at 96 + 600 + 2; then gone.
    expect(asked).toEqual([602, 698]);
    expect(rows).toEqual([{ removedAt: new Date(T0 + 698_000).toISOString(), reason: GONE_REASON }]);
  });

  it('max-idle not set (or not a number): the 10 s rhythm, a check a max-idle and its margin after each last packet', async () => {
    const expected = [12, 20, 28, 36, 44, 52, 60, 68, 76, 84, 92, 100, 108];
    expect((await checksOver(120, () => undefined)).asked).toEqual(expected);
    await source!.onApplicationShutdown();
    source = undefined;
    jest.restoreAllMocks();
    closeMigratedSqlite(m);
    expect((await checksOver(120, () => '10 min')).asked).toEqual(expected);
  });

  it('max-idle raised while the flow lives: the checks watched after the change keep the new one', async () => {
    const { asked } = await checksOver(720, (t) => (t < 30 ? undefined : '600000'));
    // The check at 28 s was watched under 10 s (due 36); the one at 36 s under 600 s (last used 32: due 634, then 698).
    expect(asked).toEqual([12, 20, 28, 36, 634, 698]);
  });
});
