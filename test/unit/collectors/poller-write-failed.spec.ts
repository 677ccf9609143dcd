// A poll whose rows could not be written (another process held the SQLite file's write lock past
// the writer's wait: agents of several chassis, or an api and an agent, on one file). The poller
// had already applied the dump in memory, so the flows it began were taken as begun: never stored
// (later cycles only update or end a stored row), and the lifetimes it ended stayed open in the
// store for good. Now what a failed write held is written by the next cycle that can: the new
// lifetimes (first seen when they were), their counters, their ends, their recirculation edges.
// Real SQLite, the lock held by a second real connection.
import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowEvent, LiveFlow } from '../../../src/collectors/datapath-diff';
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { MAX_UNWRITTEN, PollerUnwritten } from '../../../src/collectors/poller-unwritten';
import { PollerService } from '../../../src/collectors/poller.service';
import { loadConfig } from '../../../src/config/config';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { parseDumpFlows } from '../../../src/ovs/dump-flows';
import type { StoreWriter } from '../../../src/storage/writer';
import { VERSIONS, versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

// The ICMP echo request and reply: two recirculation chains of three flows (0 → 0x1 → 0x2).
const lines = readFileSync(join(versionDir(VERSIONS[0]), 'icmp-allow-related/dump-flows.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('ufid:'));
const ufidOf = (l: string) => /^ufid:([0-9a-f-]+)/.exec(l)![1];
const bumped = (l: string) => l.replace(/packets:(\d+), bytes:(\d+)/, (_, a, b) => `packets:${Number(a) + 5}, bytes:${Number(b) + 500}`);

describe('a poll whose rows could not be written', () => {
  const opened: Array<MigratedSqlite & { writer: StoreWriter }> = [];
  afterEach(async () => {
    for (const m of opened.splice(0)) await closeMigratedSqlite(m);
  });

  /**
   * x's flow alone, then x's counters move and the five others are installed, then x and one other
   * go, then nothing changes: the store after it. `locked`: another connection holds the write lock
   * through the second and third polls.
   */
  async function polls(locked: boolean) {
    const m = await openMigratedSqlite('livetrace-poller-write-failed-', { lockWaitMs: 0 });
    opened.push(m);
    m.db.pragma('busy_timeout = 20');
    const config = loadConfig({ LIVETRACE_DB: m.file, LIVETRACE_POLLER: 'false' });
    let dump = '';
    const vswitchd = Object.assign(new EventEmitter(), { currentPid: 1, call: async () => dump, callServed: async () => ({ text: dump, pid: 1 }), invalidateDatapath: () => undefined });
    const metrics = new MetricsService();
    const store = { writer: m.writer, shipper: { state: { full: false } } };
    const p = new PollerService(config, vswitchd as never, store as never, new DatapathFlowStore({ db: m.db }), { chassisName: () => 'hv1' } as never, metrics, new LifetimeSpoolBound(store as never, metrics));
    const x = parseDumpFlows(lines.join('\n')).items.find((f) => /recirc_id\(0\)/.test(f.keyText!))!.ufid!;
    const gone = lines.map(ufidOf).find((u) => u !== x)!;

    dump = lines.find((l) => ufidOf(l) === x)!;
    await p.cycle();
    const other = new Database(m.file);
    if (locked) other.exec('BEGIN IMMEDIATE');
    const installedAt = new Date().toISOString();
    dump = lines.map((l) => (ufidOf(l) === x ? bumped(l) : l)).join('\n');
    await p.cycle();
    expect(p.lastError).toEqual(locked ? expect.stringMatching(/database is locked/) : null);
    const goneAt = new Date().toISOString();
    dump = lines.filter((l) => ![x, gone].includes(ufidOf(l))).join('\n');
    await p.cycle();
    expect(p.lastError).toEqual(locked ? expect.stringMatching(/database is locked/) : null);
    if (locked) other.exec('ROLLBACK');
    other.close();
    await p.cycle();
    expect(p.lastError).toBeNull();

    const rows = m.db.prepare('SELECT id, ufid, first_seen, removed_at, removal_reason, packets, bytes FROM datapath_flow ORDER BY ufid').all() as Array<Record<string, unknown>>;
    const ufidOfId = new Map(rows.map((r) => [r.id, r.ufid]));
    const edges = (m.db.prepare('SELECT parent_id, child_id FROM recirc_edge').all() as Array<{ parent_id: number; child_id: number }>).map((e) => `${ufidOfId.get(e.parent_id)}>${ufidOfId.get(e.child_id)}`).sort();
    return { x, gone, installedAt, goneAt, rows, edges, live: p.liveFlows().map((f) => f.ufid).sort() };
  }

  it('is written by the next poll that can: the store as if no write had failed (new lifetimes, counters, ends, edges)', async () => {
    const want = await polls(false);
    const got = await polls(true);
    const shape = (r: Record<string, unknown>) => ({ ufid: r.ufid, ended: r.removed_at !== null, reason: r.removal_reason, packets: r.packets, bytes: r.bytes });
    expect(got.rows.map(shape)).toEqual(want.rows.map(shape));
    expect(got.edges).toEqual(want.edges);
    expect(got.edges.length).toBeGreaterThan(0);
    // x ended gone, after it went (`gone` began and ended while locked: stored with its end, as above).
    const byUfid = new Map(got.rows.map((r) => [r.ufid as string, r]));
    expect(byUfid.get(got.x)).toMatchObject({ removal_reason: 'gone' });
    expect((byUfid.get(got.x)!.removed_at as string) >= got.goneAt).toBe(true);
    // The others first seen when the dump showed them, not when they could be written.
    for (const u of got.live) expect((byUfid.get(u)!.first_seen as string) >= got.installedAt && (byUfid.get(u)!.first_seen as string) < got.goneAt).toBe(true);
    // Nothing left open that the datapath no longer has.
    expect(got.rows.filter((r) => r.removed_at === null).map((r) => r.ufid).sort()).toEqual(got.live);
  });
});

describe('what failed writes hold', () => {
  it('is bounded: past MAX_UNWRITTEN ends the oldest are given up, and said', () => {
    const u = new PollerUnwritten();
    const flow = (i: number) => ({ ufid: `u${i}`, dbId: i + 1 }) as unknown as LiveFlow;
    for (let i = 0; i < MAX_UNWRITTEN + 3; i++) u.failed({ type: 'ukey_removed', flow: flow(i), reason: 'gone', at: 't' } as FlowEvent, new Set());
    expect(u.ends.size).toBe(MAX_UNWRITTEN);
    expect([...u.ends.keys()][0].ufid).toBe('u3');
    expect(u.takeGivenUp()).toBe(3);
    expect(u.takeGivenUp()).toBe(0);
  });
});
