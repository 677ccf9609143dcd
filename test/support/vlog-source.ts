// A VlogSourceService as it runs (LIVETRACE_POLLER=false), for unit specs of its gone-checks: it
// follows a log file in the store's folder, asks vswitchd through `call` (dpctl/get-flow, answered as
// the spec says), and writes into a real migrated SQLite. checkAt drives one check at a given time
// (Date.now mocked to it) as the service's own tick does. The captured texts the checks answer with
// (the daemon's own dpctl_error words) are here too, one copy for every such spec.
import { EventEmitter } from 'node:events';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../src/collectors/lifetime-spool-bound';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import { RETRY_MAX_MS, WRITE_ATTEMPTS } from '../../src/collectors/vlog-write-retry';
import { loadConfig } from '../../src/config/config';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../src/metrics/metrics.service';
import { UnixctlError } from '../../src/unixctl/client';
import { UpcallStore } from '../../src/upcalls/upcall-store';
import { UpcallsService } from '../../src/upcalls/upcalls.service';
import type { StoreWriter } from '../../src/storage/writer';
import { versionDir } from './captured-model';
import { closeMigratedSqlite, type MigratedSqlite } from './migrated-sqlite';
import { waitFor } from './wait';

/** vswitchd's error reply to dpctl/get-flow, as the unixctl client throws it. */
export const said = (text: string) => new UnixctlError('ovs-vswitchd', 'dpctl/get-flow', `${text}\n`);
/** dpctl/get-flow of a flow the datapath does not hold. */
export const ENOENT = said('ovs-vswitchd: getting flow (No such file or directory)');
/** A kernel datapath without UFID lookups (lib/dpif-netlink.c). */
export const NO_UFID = said('ovs-vswitchd: getting flow (Invalid argument)');
/** dpctl found no datapath of that name (lib/dpctl.c opt_dpif_open): removed under vswitchd. */
export const NO_DATAPATH = said('ovs-vswitchd: datapath not found (Invalid argument)');
export const NETDEV = { name: 'netdev@ovs-netdev', type: 'netdev' };
export const SYSTEM = { name: 'system@ovs-system', type: 'system' };
/** A vswitchd log line's time (ms). */
/** The captured OVS 3.5 vswitchd.log (icmp-allow-related), by line, and its first dpif_netdev flow_add (the main thread's). */
export const log35 = readFileSync(join(versionDir('ovs-3.5.0_ovn-25.03.0'), 'icmp-allow-related', 'vswitchd.log'), 'utf8').split('\n');
export const firstFlowAdd = log35.findIndex((l) => l.includes('|dpif_netdev|DBG|flow_add: '));
/** The kernel datapath's own log (lib/dpif.c put[create] lines), test/fixtures/documented/vlog-kernel, by line. */
export const kernelLog = readFileSync(join(__dirname, '../fixtures/documented/vlog-kernel/kernel.log'), 'utf8').split('\n');

/** log35's dpif_netdev flow_adds: the UFIDs of the flows it installed, in order. */
export const installed35 = log35.flatMap((l) => /\|dpif_netdev\|DBG\|flow_add: ufid:(\S+)/.exec(l)?.[1] ?? []);
/** log35's miss upcalls, how many. */
export const misses35 = log35.filter((l) => l.includes('|dpif_netdev|DBG|ovs-netdev: miss upcall:')).length;
/** The flow key line after each of log35's miss upcalls. */
export const missKeys35 = log35.flatMap((l, i) => (log35[i - 1]?.includes('|dpif_netdev|DBG|ovs-netdev: miss upcall:') ? [l] : []));
const flowDel = kernelLog.find((l) => l.includes('|DBG|system@ovs-system: flow_del ufid:'))!;
/** A revalidator's flow_del (kernel datapath) of a flow never installed here, at log35's time, UFID `i`: one event queued, written as nothing. */
export const flowDelOf = (i: number) => flowDel.replace(/^\S+?\|/, `${log35[0].split('|')[0]}|`).replace(/ufid:\S+/, `ufid:00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
/** vswitchd not answering the checks: a check changes nothing. */
export const vswitchdAway = async (): Promise<string> => Promise.reject(new Error('ovs-vswitchd: timed out after 10000 ms'));

export const timeOf = (line: string) => Date.parse(/^(\S+?)\|/.exec(line)![1]);
export const lifetimeRows = (m: MigratedSqlite) => m.db.prepare('SELECT removed_at AS removedAt, removal_reason AS reason FROM datapath_flow ORDER BY id').all();

/** A spec's store and source (`m`, `source`): what vlogSourceSpec closes after each test. */
export interface VlogSourceSpec {
  m: MigratedSqlite & { writer: StoreWriter };
  source?: VlogSourceService;
}

/** In a describe: the store and source each test opens, its source stopped, its store closed and the mocks restored after it. */
export function vlogSourceSpec(): VlogSourceSpec {
  const t = {} as VlogSourceSpec;
  afterEach(async () => {
    jest.restoreAllMocks();
    await t.source?.onApplicationShutdown();
    t.source = undefined;
    await closeMigratedSqlite(t.m);
  });
  return t;
}

export interface RunningSource {
  source: VlogSourceService;
  /** The source's metrics (its counters are read from the registry). */
  metrics: MetricsService;
  /** The log file it follows. */
  file: string;
  /** The spool's state as the source reads it (LifetimeSpoolBound.full): set `full` to hold new lifetimes back. */
  spool: { full: boolean };
  /**
   * Appends lines to the followed log and waits until a lifetime is stored, read when the agent's
   * clock (Date.now) says `readAt`: by default the first line's own time (vswitchd's clock and the
   * agent's agree). The gone-checks count from when a line was read, not from its time.
   */
  append(lines: string[], readAt?: number): Promise<void>;
  /** One check as the service makes it at `at` (ms): the tick takes what is due, its answer written. */
  checkAt(at: number): Promise<void>;
  /** A failed write's retries (vlog-write-retry.ts) at the service's times from `from` (ms) until it is given up; the time of the last. */
  retriesSpent(from: number): Promise<number>;
}

/**
 * The service on `m` (bootstrapped: open vlog lifetimes already stored are read back), vswitchd answering through `call`;
 * `env`: more settings (LIVETRACE_VLOG_UDP); `existing`: what the log already holds when the source starts (never read).
 */
export async function startVlogSource(
  m: MigratedSqlite & { writer: StoreWriter },
  call: (command: string, args: string[]) => Promise<string>,
  datapaths: Array<{ name: string; type: string }>,
  env: Record<string, string> = {},
  existing = '',
): Promise<RunningSource> {
  const file = join(m.dir, 'ovs-vswitchd.log');
  writeFileSync(file, existing);
  const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false', LIVETRACE_VLOG_FILE: file, ...env });
  const vswitchd = Object.assign(new EventEmitter(), { call, datapath: async () => datapaths[0], datapaths: async () => datapaths });
  const spool = { full: false };
  const store = { writer: m.writer, shipper: { state: spool } };
  const metrics = new MetricsService();
  const upcallStore = new UpcallStore({ db: m.db });
  const upcalls = new UpcallsService(upcallStore, null as never, { chassisName: () => 'hv1' } as never);
  const source = new VlogSourceService(config, vswitchd as never, upcalls, store as never, new DatapathFlowStore({ db: m.db }), upcallStore, metrics, new LifetimeSpoolBound(store as never, metrics));
  await source.onApplicationBootstrap();
  const checking = () => (source as unknown as { checking: Promise<void> | null }).checking;
  const checkAt = async (at: number): Promise<void> => {
    jest.spyOn(Date, 'now').mockReturnValue(at);
    await source.settle(); // the tick takes the due check
    await checking();
    await source.settle(); // its answer written
  };
  return {
    source,
    metrics,
    file,
    spool,
    append: async (lines, readAt = timeOf(lines[0])) => {
      jest.spyOn(Date, 'now').mockReturnValue(readAt);
      appendFileSync(file, [...lines, ''].join('\n'));
      await waitFor('the lifetime stored', async () => {
        await source.settle();
        return lifetimeRows(m).length > 0;
      });
    },
    checkAt,
    retriesSpent: async (from) => {
      let at = from;
      for (let i = 1; i < WRITE_ATTEMPTS; i++) await checkAt((at += RETRY_MAX_MS));
      return at;
    },
  };
}
