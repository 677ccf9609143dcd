// The spool's bound and the vswitchd log source (LIVETRACE_SPOOL_MAX_CHANGES, LIVETRACE_POLLER=false).
// The poller obeys it (poller-spool-full.spec.ts); the log source went on writing a lifetime for every
// flow_add and a row for every upcall past it, so traffic grew the spool. Now, by the same check and
// the same metric as the poller: while full a new lifetime is not stored (dropped_spool_full) and is
// checked in the datapath as any vlog lifetime is: one found gone is lost (lost_spool_full, no row),
// one still installed is stored once there is room with the time its log line gave (stored_late); a
// stored one's counters wait (deferred_spool_full) and its end is written all the same; an upcall
// is not stored, counted (livetrace_vlog_upcalls_dropped_total, GET /upcalls logSource).
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

// One ICMP echo request and its reply on the userspace datapath: each three upcalls and the three
// flow_add lines of its recirculation chain (0 → 0x1 → 0x2 and 0 → 0x3 → 0x4).
const dir = join(versionDir('ovs-3.5.0_ovn-25.03.0'), 'icmp-allow-related');
const log = readFileSync(join(dir, 'vswitchd.log'), 'utf8').split('\n');
const request = log.slice(0, 22);
const reply = log.slice(22, 41);
/** A line no record is made of: pushes out the record before it (the parser holds the last one). */
const idle = log[41];
/**
 * Each flow as `dpctl/get-flow` prints it: no -m, so port numbers and no dp-extra-info (lib/dpctl.c:
 * names only with verbosity), its actions the bytes the flow_add line printed (format_odp_actions, no
 * port names). dump-flows.txt was taken with -m --names: its `vif2` for 5 read as other actions.
 */
const dumped = log.flatMap((l) => {
  const m = /\|flow_add: ufid:(\S+) mega_ufid:\S+ (.*), actions:(.*)$/.exec(l);
  return m ? [`ufid:${m[1]}, ${m[2]}, packets:1, bytes:98, used:0.500s, actions:${m[3]}`] : [];
});
const ufidOf = (l: string) => /ufid:([0-9a-f-]{36})/.exec(l)![1];
const added = (lines: string[]) => lines.filter((l) => l.includes('|flow_add: ')).map(ufidOf);
const [REQ2, REQ1, REQ0] = added(request);
const [REP2, REP1, REP0] = added(reply);
const REQ0_ADD = request.slice(17, 19);
jest.setTimeout(60_000);

const delOf = (ufid: string): string => `2026-12-04T23:52:09.000Z|00099|dpif(revalidator6)|DBG|ovs-netdev: flow_del ufid:${ufid} recirc_id(0x2),in_port(4),eth_type(0x0800),ipv4(frag=no), packets:1, bytes:98, used:0.500s`;

describe('the vswitchd log source while the spool is full', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let source: VlogSourceService | undefined;
  afterEach(async () => {
    await source?.onApplicationShutdown();
    closeMigratedSqlite(m);
  });

  it('stores no new lifetime or upcall, writes ends, and stores the lifetimes still installed once there is room', async () => {
    m = await openMigratedSqlite('livetrace-vlog-full-');
    const file = join(m.dir, 'ovs-vswitchd.log');
    writeFileSync(file, '');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: file });
    // dpctl/get-flow as ovs-vswitchd answers it: the flow's dump line, or ENOENT once it is gone.
    const gone = new Set<string>();
    const packets = new Map<string, number>();
    const call = async (command: string, args: string[]) => {
      expect(command).toBe('dpctl/get-flow');
      const u = args[args.length - 1].replace(/^ufid:/, '');
      if (gone.has(u)) throw Object.assign(new Error('gone'), { text: 'ovs-vswitchd: getting flow (No such file or directory)\n' });
      const line = dumped.find((l) => ufidOf(l) === u)!;
      return line.replace(/packets:\d+, bytes:\d+/, `packets:${packets.get(u) ?? 1}, bytes:${(packets.get(u) ?? 1) * 98}`);
    };
    const vswitchd = Object.assign(new EventEmitter(), { call, datapath: async () => ({ name: 'netdev@ovs-netdev', type: 'netdev' }), datapaths: async () => [{ name: 'netdev@ovs-netdev', type: 'netdev' }] });
    const state = { full: false };
    const store = { writer: m.writer, shipper: { state } };
    const metrics = new MetricsService();
    const flows = new DatapathFlowStore({ db: m.db });
    const upcallStore = new UpcallStore({ db: m.db });
    const upcalls = new UpcallsService(upcallStore, null as never, { chassisName: () => 'hv1' } as never);
    source = new VlogSourceService(config, vswitchd as never, upcalls, store as never, flows, upcallStore, metrics, new LifetimeSpoolBound(store as never, metrics));
    await source.onApplicationBootstrap();

    const rows = () => m.db.prepare('SELECT ufid, first_seen, removed_at, removal_reason, packets FROM datapath_flow ORDER BY id').all() as Array<Record<string, unknown>>;
    const row = (u: string) => rows().find((r) => r.ufid === u);
    const upcallRows = () => (m.db.prepare('SELECT COUNT(*) AS n FROM upcall').get() as { n: number }).n;
    const counted = async (name: string, label: string) =>
      Object.fromEntries(((await metrics.registry.getSingleMetric(name)?.get())?.values ?? []).map((v) => [v.labels[label], v.value]));

    // Room: the request's three lifetimes and upcalls, each lifetime checked (installed, 1 packet).
    appendFileSync(file, [...request, idle, ''].join('\n'));
    await waitFor('the request stored and checked', () => rows().length === 3 && upcallRows() === 3 && rows().every((r) => r.packets === 1));

    // Full: the reply (three upcalls, three new flows, one of them already gone when checked), the
    // request's first pass put again (checked again: 5 packets now) and its last pass deleted.
    state.full = true;
    gone.add(REP1);
    packets.set(REQ0, 5);
    appendFileSync(file, [...reply, ...REQ0_ADD, delOf(REQ2), idle, ''].join('\n'));
    await waitFor('the reply read and its writes done', async () => {
      await source!.settle();
      return upcalls.logSource.upcalls === 6 && row(REQ2)?.removal_reason === 'flow_del';
    });
    // No new row: the three lifetimes and three upcalls stored before.
    expect(rows().map((r) => r.ufid)).toEqual([REQ2, REQ1, REQ0]);
    expect(upcallRows()).toBe(3);
    await waitFor('the reply counted as held back', async () => {
      const w = await counted('livetrace_datapath_flow_writes_total', 'outcome');
      // deferred: REQ0's check at least (any lifetime checked again while full adds one).
      return w.dropped_spool_full === 3 && w.lost_spool_full === 1 && w.deferred_spool_full >= 1;
    });
    await waitFor('its upcalls counted as dropped', async () => (await counted('livetrace_vlog_upcalls_dropped_total', 'reason')).spool_full === 3);
    expect(rows().map((r) => r.ufid)).toEqual([REQ2, REQ1, REQ0]);
    expect(upcallRows()).toBe(3);
    expect(upcalls.logSource).toMatchObject({ upcalls: 6, droppedSpoolFull: 3 });
    // The end of a stored lifetime was written (waited for above): it changes a row the spool holds.
    expect(row(REQ0)).toMatchObject({ packets: 1, removed_at: null });

    // Room again: the two reply flows still installed are stored, first seen when their log line
    // said; the one gone meanwhile never is; the held counters are written.
    state.full = false;
    await waitFor('the reply stored late', async () => (await counted('livetrace_datapath_flow_writes_total', 'outcome')).stored_late === 2);
    await waitFor('the held counters written', () => row(REQ0)!.packets === 5);
    expect(rows().map((r) => r.ufid).sort()).toEqual([REQ2, REQ1, REQ0, REP2, REP0].sort());
    for (const u of [REP2, REP0]) expect(row(u)).toMatchObject({ first_seen: '2026-12-04T23:52:08.540Z', removed_at: null, packets: 1 });
    expect(upcallRows()).toBe(3);
    // Every lifetime held back accounted for: stored late or lost.
    expect(await counted('livetrace_datapath_flow_writes_total', 'outcome')).toMatchObject({ dropped_spool_full: 3, lost_spool_full: 1, stored_late: 2 });
  });
});
