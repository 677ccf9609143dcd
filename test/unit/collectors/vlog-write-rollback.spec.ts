// A write job of the vswitchd log source rolled back after it ran (a statement failing inside the
// transaction, or the transaction at its end: a real SQLITE_FULL, test/support/disk-full.ts),
// replayed alone by the writer and then written again after a wait (vlog-write-retry.ts). What the
// job did in memory must be undone with its rows (VlogLifetimes.rolledBack), or the replay writes
// something else than the first run would have. A lifetime the full spool held back, stored late once
// there was room (storeLate): its in-memory entry was removed by the rolled-back run, so the replay
// of its check found nothing to store and committed nothing: the lifetime lost for good, no error
// said, though the write was retried. A stored lifetime a flow_del ended (end() forgets its gone-check
// watch) in a job whose write was given up (failing past its retries): its row still open, nothing
// watched it, open for ever. Upcalls were counted (livetrace_vlog_upcalls_total) at each run of the
// job: the rolled-back one, the writer's replay, each retry; so were the spool bound's lifetime
// outcomes (livetrace_datapath_flow_writes_total: stored_late, ...). A PMD's copy noted in a
// rolled-back run was known at the replay, which wrote no pmd_copies: a restart knew one copy. The captured OVS 3.5 main-thread flow_add read from a file,
// dpctl/get-flow answering its flow as installed, a real migrated SQLite.
import { appendFileSync } from 'node:fs';
import { GONE_REASON } from '../../../src/collectors/vlog-gone-check';
import { RETRY_FIRST_MS, RETRY_MAX_MS } from '../../../src/collectors/vlog-write-retry';
import { diskFull } from '../../support/disk-full';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { ENOENT, firstFlowAdd, lifetimeRows, log35, NETDEV, startVlogSource, timeOf, vlogSourceSpec } from '../../support/vlog-source';

// The main thread's flow_add, its `flow match:`, and the line after them (the parser holds the last record).
const lines = log35.slice(firstFlowAdd, firstFlowAdd + 3);
const [, , match, actions] = /flow_add: ufid:(\S+) mega_ufid:\S+ (.*), actions:(.*)$/.exec(lines[0])!;
const ufid = /flow_add: ufid:(\S+)/.exec(lines[0])![1];
/** dpctl/get-flow's line for it (no -m: port numbers; the flow_add's actions). */
const dumped = `ufid:${ufid}, ${match}, packets:1, bytes:98, used:0.500s, actions:${actions}`;
const at = (s: number) => timeOf(lines[0]) + s * 1000;

describe('a vlog write job rolled back after it ran', () => {
  const spec = vlogSourceSpec();

  const refuse = () => spec.m.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON datapath_flow BEGIN ${diskFull(spec.m).now} END`);
  const accept = () => spec.m.db.exec('DROP TRIGGER refuse');
  const firstSeen = () => spec.m.db.prepare('SELECT ufid, first_seen AS firstSeen FROM datapath_flow').all();

  it('of a held-back lifetime stored late: stored once the write succeeds, not lost', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-rollback-');
    const running = await startVlogSource(spec.m, async () => dumped, [NETDEV]);
    spec.source = running.source;
    const failed = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    const heldBack = async () => (await running.metrics.registry.getSingleMetric('livetrace_vlog_lifetimes_held_back')!.get()).values[0].value;

    running.spool.full = true;
    appendFileSync(running.file, [...lines, ''].join('\n'));
    await spec.source.settle();
    expect(await heldBack()).toBe(1);
    expect(lifetimeRows(spec.m)).toEqual([]);

    // Room again: checked at once and found installed, its row's INSERT refused.
    running.spool.full = false;
    refuse();
    await running.checkAt(at(1));
    expect(lifetimeRows(spec.m)).toEqual([]);

    accept();
    await running.checkAt(at(1) + RETRY_MAX_MS);
    expect(firstSeen()).toEqual([{ ufid, firstSeen: lines[0].split('|')[0] }]);
    expect(await heldBack()).toBe(0);
    // Written again, as the failure said (the writer's replay of the job alone failed too).
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: database or disk is full; \d+ written again/));
  });

  it('of a flow_del given up: its lifetime is still checked, and ends when found gone, not open for ever', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-rollback-');
    const running = await startVlogSource(spec.m, async () => Promise.reject(ENOENT), [NETDEV]);
    spec.source = running.source;
    const failed = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    await running.append(lines);
    // The flow_del's end is written and the transaction fails at its end: the disk full.
    spec.m.db.exec(`CREATE TRIGGER t_end AFTER UPDATE OF removed_at ON datapath_flow BEGIN ${diskFull(spec.m).atEnd} END;`);
    const time = new Date(at(5)).toISOString();
    const key = /flow_add: ufid:\S+ mega_ufid:\S+ (.*?), actions:/.exec(lines[0])![1];
    appendFileSync(running.file, `${time}|00099|dpif(revalidator4)|DBG|netdev@ovs-netdev: flow_del ufid:${ufid} ${key}, packets:0, bytes:0, used:never\n${time}|00100|timeval|WARN|Unreasonably long 1000ms poll interval\n`);
    await running.checkAt(at(5));
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: database or disk is full/));
    const t = await running.retriesSpent(at(5)); // the flow_del given up
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^dropped \d+ log events never stored.*flow_del: 1/));
    spec.m.db.exec('DROP TRIGGER t_end');
    for (let s = 12; s <= 60; s += 12) await running.checkAt(t + s * 1000);
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: expect.any(String), reason: GONE_REASON }]);
  });

  it('counts its upcalls once, when they are stored, not at each run of the job', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-rollback-');
    const running = await startVlogSource(spec.m, async () => Promise.reject(ENOENT), [NETDEV]);
    spec.source = running.source;
    jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    const misses = log35.filter((l) => l.includes('|dpif_netdev|DBG|ovs-netdev: miss upcall:')).length;
    // The upcalls' transaction fails at its end (the disk full) once, then succeeds.
    spec.m.db.exec(`CREATE TRIGGER t_up AFTER INSERT ON upcall BEGIN ${diskFull(spec.m).atEnd} END;`);
    appendFileSync(running.file, log35.join('\n'));
    await running.checkAt(timeOf(log35[0]));
    expect(spec.m.db.prepare('SELECT COUNT(*) AS n FROM upcall').get()).toEqual({ n: 0 });
    spec.m.db.exec('DROP TRIGGER t_up');
    await running.checkAt(timeOf(log35[0]) + RETRY_MAX_MS);
    expect(spec.m.db.prepare('SELECT COUNT(*) AS n FROM upcall').get()).toEqual({ n: misses });
    const counted = (await running.metrics.registry.getSingleMetric('livetrace_vlog_upcalls_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    expect(counted).toBe(misses);
  });

  it('counts a lifetime stored late once, when it is stored, not at each run of the job', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-rollback-');
    const running = await startVlogSource(spec.m, async () => dumped, [NETDEV]);
    spec.source = running.source;
    jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    const outcomes = async () =>
      Object.fromEntries((await running.metrics.registry.getSingleMetric('livetrace_datapath_flow_writes_total')!.get()).values.map((v) => [v.labels.outcome, v.value]));

    running.spool.full = true;
    appendFileSync(running.file, [...lines, ''].join('\n'));
    await spec.source.settle();
    expect(await outcomes()).toEqual({ dropped_spool_full: 1 });

    // Room again: checked at once and found installed, stored late; its transaction fails at its end once (the disk full).
    running.spool.full = false;
    spec.m.db.exec(`CREATE TRIGGER t_late AFTER INSERT ON datapath_flow BEGIN ${diskFull(spec.m).atEnd} END;`);
    await running.checkAt(at(1));
    expect(lifetimeRows(spec.m)).toEqual([]);
    spec.m.db.exec('DROP TRIGGER t_late');
    await running.checkAt(at(1) + RETRY_MAX_MS);
    expect(firstSeen()).toEqual([{ ufid, firstSeen: lines[0].split('|')[0] }]);
    expect(await outcomes()).toEqual({ dropped_spool_full: 1, stored_late: 1 });
  });

  it('of a lifetime held back in it: held back and counted once, as the replay holds it back again', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-rollback-');
    // Checks find the flow installed: nothing lost by them.
    const running = await startVlogSource(spec.m, async () => dumped, [NETDEV]);
    spec.source = running.source;
    jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    const dropped = async () => (await running.metrics.registry.getSingleMetric('livetrace_datapath_flow_writes_total')!.get()).values.find((v) => v.labels.outcome === 'dropped_spool_full')?.value;
    const heldBack = async () => (await running.metrics.registry.getSingleMetric('livetrace_vlog_lifetimes_held_back')!.get()).values[0].value;
    await running.append(lines);
    // Spool full: the flow_del's end is written (its transaction fails at its end once, the disk
    // full) and the flow installed again after it is a new lifetime, held back, in the same job.
    running.spool.full = true;
    spec.m.db.exec(`CREATE TRIGGER t_end AFTER UPDATE OF removed_at ON datapath_flow BEGIN ${diskFull(spec.m).atEnd} END;`);
    const time = new Date(at(5)).toISOString();
    const key = /flow_add: ufid:\S+ mega_ufid:\S+ (.*?), actions:/.exec(lines[0])![1];
    const again = lines.map((l) => l.replace(/^\S+?\|/, `${new Date(at(6)).toISOString()}|`));
    appendFileSync(running.file, [`${time}|00099|dpif(revalidator4)|DBG|netdev@ovs-netdev: flow_del ufid:${ufid} ${key}, packets:0, bytes:0, used:never`, ...again, ''].join('\n'));
    await running.checkAt(at(6));
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: null, reason: null }]);
    spec.m.db.exec('DROP TRIGGER t_end');
    await running.checkAt(at(6) + RETRY_MAX_MS);
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: time, reason: 'flow_del' }]);
    expect(await heldBack()).toBe(1);
    expect(await dropped()).toBe(1);
  });

  it("of a PMD's copy noted in it: the replay writes the copies, as the rolled-back run did", async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-rollback-');
    const running = await startVlogSource(spec.m, async () => dumped, [NETDEV]);
    spec.source = running.source;
    jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    const copies = () => spec.m.db.prepare('SELECT pmd_copies AS c FROM datapath_flow').all() as Array<{ c: string | null }>;
    await running.append(lines); // the main thread's copy: one, no pmd_copies
    expect(copies()).toEqual([{ c: null }]);
    // The same flow_add as PMD core 1 logs it (as vlog-pmd-copies-main.spec.ts): its copies' transaction fails at its end once (the disk full).
    spec.m.db.exec(`CREATE TRIGGER t_copies AFTER UPDATE OF pmd_copies ON datapath_flow BEGIN ${diskFull(spec.m).atEnd} END;`);
    const pmd = lines.slice(0, 2).map((l, i) => l.replace(/^([^|]*)\|\d+\|dpif_netdev\|/, `$1|${String(5 + i).padStart(5, '0')}|dpif_netdev(pmd-c01/id:5)|`));
    appendFileSync(running.file, [...pmd, lines[2], ''].join('\n'));
    await running.checkAt(at(5)); // the upcall linker let the flow_add go (its wait past)
    spec.m.db.exec('DROP TRIGGER t_copies');
    // Written again a second later (RETRY_FIRST_MS), before the flow's next check would write its copies from memory.
    await running.checkAt(at(5) + RETRY_FIRST_MS);
    expect(JSON.parse(copies()[0].c ?? 'null')).toMatchObject({ p: expect.arrayContaining(['main', 'pmd-c01/id:5']) });
  });
});
