// Lifetimes the full spool held back (vlog-lifetimes.ts) are kept in memory until a check in the
// datapath says whether their flow is still installed. A check that answers nothing (vswitchd away,
// a timeout, an error of its own) was simply asked again later, for good: with the spool full and
// dpctl/get-flow failing, every flow_add the log read stayed in memory. Now a held-back lifetime
// whose checks failed MAX_FAILED_CHECKS times in a row is given up, counted
// (livetrace_datapath_flow_writes_total{outcome="lost_unchecked"}), and the held-back number is a
// gauge (livetrace_vlog_lifetimes_held_back). The log and the dump lines are real captures
// (OVS 3.5.0); ovs-vswitchd's control socket is a stand-in whose every get-flow fails as a stopped
// daemon's does (connection refused).
import { EventEmitter } from 'node:events';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { UpcallsService } from '../../../src/upcalls/upcalls.service';
import { versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { waitFor } from '../../support/wait';
import type { StoreWriter } from '../../../src/storage/writer';

const dir = join(versionDir('ovs-3.5.0_ovn-25.03.0'), 'icmp-allow-related');
const log = readFileSync(join(dir, 'vswitchd.log'), 'utf8').split('\n');
const request = log.slice(0, 22);
const idle = log[41];
jest.setTimeout(90_000);

describe('lifetimes held back by a full spool whose checks keep failing', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let source: VlogSourceService | undefined;
  afterEach(async () => {
    await source?.onApplicationShutdown();
    closeMigratedSqlite(m);
  });

  it('are given up after repeated failed checks, counted, and no longer held in memory', async () => {
    m = await openMigratedSqlite('livetrace-vlog-unchecked-');
    const file = join(m.dir, 'ovs-vswitchd.log');
    writeFileSync(file, '');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: file });
    let checks = 0;
    const call = async (command: string) => {
      expect(command).toBe('dpctl/get-flow');
      checks++;
      throw Object.assign(new Error('connect ECONNREFUSED /run/openvswitch/ovs-vswitchd.1234.ctl'), { code: 'ECONNREFUSED' });
    };
    const vswitchd = Object.assign(new EventEmitter(), { call, datapath: async () => ({ name: 'netdev@ovs-netdev', type: 'netdev' }), datapaths: async () => [{ name: 'netdev@ovs-netdev', type: 'netdev' }] });
    const store = { writer: m.writer, shipper: { state: { full: true } } };
    const metrics = new MetricsService();
    const flows = new DatapathFlowStore({ db: m.db });
    const upcallStore = new UpcallStore({ db: m.db });
    const upcalls = new UpcallsService(upcallStore, null as never, { chassisName: () => 'hv1' } as never);
    source = new VlogSourceService(config, vswitchd as never, upcalls, store as never, flows, upcallStore, metrics, new LifetimeSpoolBound(store as never, metrics));
    // A check that learnt nothing is asked again a max-idle later (12 s): here at once, so that the
    // repeated failures take seconds, not minutes (the count of failures is what is under test).
    (source as unknown as { gone: { maxIdleMs: () => number } }).gone.maxIdleMs = () => -2_000;
    await source.onApplicationBootstrap();
    const counted = async (name: string, label?: string) =>
      Object.fromEntries(((await metrics.registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => [label ? v.labels[label] : '', v.value]));
    const held = () => (source as unknown as { lifetimes: { unstored: Map<string, unknown> } }).lifetimes.unstored.size;

    appendFileSync(file, [...request, idle, ''].join('\n'));
    await waitFor('the request held back', async () => (await counted('livetrace_datapath_flow_writes_total', 'outcome')).dropped_spool_full === 3);
    await waitFor('the held-back lifetimes given up', async () => held() === 0 || undefined, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${held()} still held after ${checks} failed checks`);
    });
    expect(await counted('livetrace_datapath_flow_writes_total', 'outcome')).toMatchObject({ dropped_spool_full: 3, lost_unchecked: 3 });
    expect(await counted('livetrace_vlog_lifetimes_held_back')).toEqual({ '': 0 });
    expect(m.db.prepare('SELECT COUNT(*) AS n FROM datapath_flow').get()).toEqual({ n: 0 });
  });
});
