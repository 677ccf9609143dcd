// A dump line the parser refuses (a field a newer OVS prints that no parser here knows, a mangled
// reply) is named in a warning and counted (PollCycle.parseErrors); its flow was also left out of
// the diff, so its lifetime ended 'gone' while the flow was installed, and the next dump that read it
// began a second lifetime of the same flow. A refused line's UFID now keeps its lifetime as it was.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import type { StoreWriter } from '../../../src/storage/writer';
import { VERSIONS, versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const lines = readFileSync(join(versionDir(VERSIONS[VERSIONS.length - 1]), 'icmp-allow-related/dump-flows.txt'), 'utf8').split('\n');
const flowLines = lines.filter((l) => /^\s*ufid:/.test(l));

describe('a dump line the parser refuses', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  it("keeps its flow's lifetime as it was: not ended, not begun again", async () => {
    m = await openMigratedSqlite('livetrace-poller-unread-');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' });
    let dump = lines.join('\n');
    const vswitchd = Object.assign(new EventEmitter(), { currentPid: 1, call: async () => dump, callServed: async () => ({ text: dump, pid: 1 }), invalidateDatapath: () => undefined });
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => 'hv1' } as never, metrics, new LifetimeSpoolBound(store as never, metrics));
    const rows = () => m.db.prepare('SELECT ufid, removed_at, removal_reason FROM datapath_flow ORDER BY id').all() as Array<Record<string, unknown>>;
    await p.cycle();
    expect(rows()).toHaveLength(flowLines.length);

    // One flow's line comes mangled in one dump (its counter unreadable).
    const hit = flowLines[0];
    dump = lines.map((l) => (l === hit ? l.replace(/packets:\d+/, 'packets:?') : l)).join('\n');
    const cycle = await p.cycle();
    expect(cycle?.parseErrors).toBe(1);
    dump = lines.join('\n');
    await p.cycle();
    expect(rows()).toHaveLength(flowLines.length);
    expect(rows().filter((r) => r.removed_at !== null)).toEqual([]);
  });
});
