// A flow with one copy on a PMD and one in the userspace datapath's non-PMD table (vlog-pmd-copies.ts
// copyHolder). In lib/dpif-netdev.c the non-PMD "thread" (NON_PMD_CORE_ID) is a dp_netdev_pmd_thread
// with a flow_table of its own (dp_netdev_configure_pmd), used by the main thread for the ports no PMD
// polls (dpif_netdev_run) and by any thread executing a packet (dpif_netdev_execute: a packet-out that
// recirculates); its flow_add lines carry no thread (the main thread: `dpif_netdev|DBG|flow_add`).
// dpctl/get-flow walks poll_threads, the non-PMD one among them (dpif_netdev_flow_get), and answers
// the first copy found. The source counted PMD threads only, so such a flow was one copy, and a check
// reading the PMD's copy after the main thread's idled out (fewer packets) ended the live flow
// counters_reset and began another. The main thread's line is the capture's own (OVS 3.5.0,
// icmp-allow-related: a main-thread flow_add); the PMD's is that line as a PMD logs it (the thread
// as in the routed capture's `dpif_netdev(pmd-c01/id:5)`). The store is a real migrated SQLite.
import { EventEmitter } from 'node:events';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { UpcallsService } from '../../../src/upcalls/upcalls.service';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { waitFor } from '../../support/wait';
import type { StoreWriter } from '../../../src/storage/writer';

const log = readFileSync(join(versionDir('ovs-3.5.0_ovn-25.03.0'), 'icmp-allow-related', 'vswitchd.log'), 'utf8').split('\n');
const first = log.findIndex((l) => l.includes('|dpif_netdev|DBG|flow_add: '));
/** The main thread's flow_add and its `flow match:` line, as captured. */
const mainLines = log.slice(first, first + 2);
/** The same two lines as PMD core 1 logs them (its own message counter). */
const pmdLines = mainLines.map((l, i) => l.replace(/^([^|]*)\|\d+\|dpif_netdev\|/, `$1|${String(5 + i).padStart(5, '0')}|dpif_netdev(pmd-c01/id:5)|`));
const rowsOf = (m: MigratedSqlite) =>
  m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason, packets FROM datapath_flow ORDER BY id').all();

describe('vlog lifetimes of a flow with a copy on a PMD and one on the main thread', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let source: VlogSourceService | undefined;
  afterEach(async () => {
    await source?.onApplicationShutdown();
    source = undefined;
    closeMigratedSqlite(m);
  });

  it('the source reads both flow_add lines as two copies (stored with the lifetime)', async () => {
    expect(mainLines[0]).toContain('flow_add: ufid:');
    expect(mainLines[1]).toContain('|dpif_netdev|DBG|flow match:');
    m = await openMigratedSqlite('livetrace-vlog-pmd-main-source-');
    const file = join(m.dir, 'ovs-vswitchd.log');
    writeFileSync(file, '');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: file });
    const call = async () => {
      throw new Error('not asked'); // checks come a max-idle later: never within the spec
    };
    const dp = { name: 'netdev@ovs-netdev', type: 'netdev' };
    const vswitchd = Object.assign(new EventEmitter(), { call, datapath: async () => dp, datapaths: async () => [dp] });
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const metrics = new MetricsService();
    const upcallStore = new UpcallStore({ db: m.db });
    const upcalls = new UpcallsService(upcallStore, null as never, { chassisName: () => 'hv1' } as never);
    source = new VlogSourceService(config, vswitchd as never, upcalls, store as never, new DatapathFlowStore({ db: m.db }), upcallStore, metrics, new LifetimeSpoolBound(store as never, metrics));
    await source.onApplicationBootstrap();
    const copies = () => m.db.prepare('SELECT pmd_copies AS c FROM datapath_flow').all() as Array<{ c: string | null }>;
    // The line after them pushes the last record out (the parser holds it).
    appendFileSync(file, [...pmdLines, ...mainLines, log[first + 2], ''].join('\n'));
    await waitFor('the lines read', async () => {
      await source!.settle();
      return copies().length > 0;
    });
    await source.settle();
    const stored = copies();
    expect(stored).toHaveLength(1);
    expect(JSON.parse(stored[0].c ?? 'null')).toMatchObject({ p: ['pmd-c01/id:5', 'main'] });
  });

  it("go on when the main thread's copy idled out and get-flow reads the PMD's", async () => {
    m = await openMigratedSqlite('livetrace-vlog-pmd-main-');
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'main'));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0.5), 'hv1', 'pmd-c01/id:5'));
    // get-flow reads the non-PMD copy first (poll_threads' order), 40 packets.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    // It idled out; the PMD's copy is read (3 packets), then counts on.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 5, Date.parse(t(36))), 'hv1'));
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: null, reason: null, packets: 45 }]);
  });

  it('a flow the main thread alone installed is one copy: falling counters end it counters_reset, as before', async () => {
    m = await openMigratedSqlite('livetrace-vlog-pmd-main-one-');
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: null } as never, new MetricsService()));
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'main'));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0.5), 'hv1', 'main'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1'));
    expect(rowsOf(m)).toEqual([
      { firstSeen: t(0), removedAt: t(24), reason: 'counters_reset', packets: 40 },
      { firstSeen: t(24), removedAt: null, reason: null, packets: 3 },
    ]);
  });
});
