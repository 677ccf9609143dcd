// An ovs-vswitchd restart is seen by whichever call reaches the new process first. The tracer's call
// notes the new pid and, before it announces the restart ('restarted', after asking the new process
// for its commands), the poller's dump of the new process may complete: the poller sees the pid
// change itself, ends the old lifetimes and stores the new process's flows. The announcement then
// came to a poller that had already moved on, and its handler ended every lifetime again: the new
// process's flows, just stored, closed as vswitchd_restarted and stored again at the next dump.
// One restart is handled once, by whoever sees it first. Captured dump lines (OVS 3.1); the
// control socket is a stand-in, since the two calls' order on a real daemon cannot be chosen.
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

describe('an ovs-vswitchd restart seen by the poller before it is announced', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let p: PollerService | undefined;
  afterEach(async () => {
    await p?.onApplicationShutdown();
    closeMigratedSqlite(m);
  });

  it("ends the old process's lifetimes once, and not the new process's", async () => {
    m = await openMigratedSqlite('livetrace-poller-restart-');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'true', LIVETRACE_POLL_INTERVAL_MS: '600000' });
    let dump = lines.join('\n');
    const vswitchd = Object.assign(new EventEmitter(), { currentPid: 100, call: async () => dump, callServed: async () => ({ text: dump, pid: vswitchd.currentPid }), invalidateDatapath: () => undefined });
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: null };
    p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => 'hv1' } as never, metrics, new LifetimeSpoolBound(store as never, metrics));
    const rows = () => m.db.prepare('SELECT ufid, removed_at IS NULL AS open, removal_reason AS reason FROM datapath_flow ORDER BY id').all() as Array<{ ufid: string; open: number; reason: string | null }>;
    p.onApplicationBootstrap();
    await p.cycle();
    expect(rows().filter((r) => r.open)).toHaveLength(lines.length);

    // The new process: its pid noted by another call, its announcement not made yet.
    vswitchd.currentPid = 200;
    dump = renewed.join('\n');
    await p.cycle();
    // Then the announcement.
    vswitchd.emit('restarted', 200);
    await new Promise((r) => setTimeout(r, 50));
    await m.writer.idle();

    const byUfid = new Map(rows().map((r) => [r.ufid, r]));
    for (const l of lines) expect(byUfid.get(/^ufid:(\S+),/.exec(l)![1])).toMatchObject({ open: 0, reason: 'vswitchd_restarted' });
    for (const l of renewed) expect(byUfid.get(/^ufid:(\S+),/.exec(l)![1])).toMatchObject({ open: 1, reason: null });
    expect(rows()).toHaveLength(lines.length * 2);
  });
});
