// A dump read across an ovs-vswitchd restart. With LIVETRACE_POLL_SCOPE=sessions a poll is one
// `dpctl/dump-flows filter=in_port=P` a port, one after the other: when the daemon restarts between
// two of them, the first port's flows come from the old process and the next port's call reaches the
// new one, which notes the new pid. The poller saw the pid change, ended the old lifetimes
// (vswitchd_restarted) and then stored the whole text as the new process's flows: the old process's
// flows, already ended, began again as lifetimes of a process that never had them (and ended 'gone'
// at the next dump). A dump is the flows of the process that answered it: one not all answered by
// the current process is dropped and dumped again. Captured dump lines (OVS 3.1); the control socket
// is a stand-in, since when a real daemon restarts between two calls cannot be chosen.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { VERSIONS, versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

const lines = readFileSync(join(versionDir(VERSIONS[0]), 'icmp-allow-related/dump-flows.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('ufid:'));
/** The same flows as a new process installs them: other UFIDs (its hash secret is its own). */
const renewed = lines.map((l) => l.replace(/^ufid:(.)/, (_, c: string) => `ufid:${c === 'f' ? '0' : (parseInt(c, 16) + 1).toString(16)}`));
const ufidOf = (l: string) => /^ufid:(\S+),/.exec(l)![1];

describe('a scoped dump read across an ovs-vswitchd restart', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let p: PollerService | undefined;
  afterEach(async () => {
    await p?.onApplicationShutdown();
    closeMigratedSqlite(m);
  });

  it("stores no flow of the old process as the new process's", async () => {
    m = await openMigratedSqlite('livetrace-poller-mid-dump-');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'true', LIVETRACE_POLL_INTERVAL_MS: '600000', LIVETRACE_POLL_SCOPE: 'sessions' });
    // Two ports in scope; the stand-in answers the first port's call from the old process (pid 100)
    // and, when told, restarts before the second port's call (pid 200 from then on).
    let restartAfterFirst = false;
    let calls = 0;
    const vswitchd = Object.assign(new EventEmitter(), {
      currentPid: 100,
      invalidateDatapath: () => undefined,
      async callServed(): Promise<{ text: string; pid: number }> {
        calls++;
        if (restartAfterFirst && calls % 2 === 0) {
          restartAfterFirst = false;
          vswitchd.currentPid = 200; // noted by this call, announced later
        }
        const half = calls % 2 === 1 ? 0 : 1;
        const text = (vswitchd.currentPid === 100 ? lines : renewed).filter((_, i) => i % 2 === half).join('\n');
        return { text, pid: vswitchd.currentPid };
      },
      async call(): Promise<string> {
        return (await vswitchd.callServed()).text;
      },
    });
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: null };
    const scope = { inPortScope: () => ['1', '2'] };
    p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => 'hv1' } as never, metrics, new LifetimeSpoolBound(store as never, metrics), scope);
    const rows = () => m.db.prepare('SELECT ufid, removed_at IS NULL AS open, removal_reason AS reason FROM datapath_flow ORDER BY id').all() as Array<{ ufid: string; open: number; reason: string | null }>;
    p.onApplicationBootstrap();
    await p.cycle();
    expect(rows().filter((r) => r.open)).toHaveLength(lines.length);

    restartAfterFirst = true;
    await p.cycle();
    vswitchd.emit('restarted', 200);
    await new Promise((r) => setTimeout(r, 50));
    await m.writer.idle();

    const all = rows();
    // Each old flow: its one lifetime, ended by the restart; each new flow: one open lifetime.
    for (const l of lines) expect(all.filter((r) => r.ufid === ufidOf(l))).toEqual([{ ufid: ufidOf(l), open: 0, reason: 'vswitchd_restarted' }]);
    for (const l of renewed) expect(all.filter((r) => r.ufid === ufidOf(l))).toEqual([{ ufid: ufidOf(l), open: 1, reason: null }]);
  });
});
