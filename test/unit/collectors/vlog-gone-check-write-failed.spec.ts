// A check whose answer could not be written (vlog-source.service.ts flushWrites): checkGone took it
// (GoneChecks.take unwatches the lifetime until its answer is written or it is watched again) and
// queued its answer with the batch of log events; the batch's write failed (here a real SQLITE_BUSY:
// another process on the same SQLite file holding the write lock past the busy timeout), the writer
// gave up the job, and the source only logged it. Nothing watched the lifetime again: open for ever,
// never asked again. The failed batch's answers are now written again once the lock is released
// (vlog-write-retry.ts), and a check given up (the failure outlasting the retries) is watched again,
// so a later check ends it. The captured OVS 3.5 main-thread flow_add read from a file, the daemon's
// dpctl_error texts, a real migrated SQLite, checks and retries at the service's own times. Watched
// again only while still open (a flow_del committed while the check was in flight ended it), with
// what the check knew of it (its end in the failed job forgot that).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GONE_REASON } from '../../../src/collectors/vlog-gone-check';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { ENOENT, firstFlowAdd, kernelLog, lifetimeRows, log35, NETDEV, NO_UFID, startVlogSource, SYSTEM, timeOf, vlogSourceSpec } from '../../support/vlog-source';

const [log, first, kernel] = [log35, firstFlowAdd, kernelLog];

describe('a gone-check whose answer failed to be written', () => {
  const spec = vlogSourceSpec();

  /** The lifetime of the main thread's flow_add, checked at at(12) while another writer on the file holds its lock (the writer's wait for it shortened). */
  async function checkedWhileLocked() {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-failed-', { lockWaitMs: 0 });
    const running = await startVlogSource(spec.m, async () => Promise.reject(ENOENT), [NETDEV]);
    spec.source = running.source;
    // The main thread's flow_add, its `flow match:`, and the line after them (the parser holds the last record).
    const lines = log.slice(first, first + 3);
    await running.append(lines);
    const at = (s: number) => timeOf(lines[0]) + s * 1000;
    spec.m.db.pragma('busy_timeout = 20');
    const other = new Database(spec.m.file);
    other.exec('BEGIN IMMEDIATE');
    const failed = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    await running.checkAt(at(12));
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: database is locked/));
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: null, reason: null }]); // nothing written
    return { running, at, release: () => (other.exec('ROLLBACK'), other.close()) };
  }

  it('is written again once the lock is released: the lifetime ends when the check found it gone', async () => {
    const { running, at, release } = await checkedWhileLocked();
    release();
    await running.checkAt(at(24));
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: new Date(at(12)).toISOString(), reason: GONE_REASON }]);
  });

  it('given up (the lock held past the retries), is checked again later and ends the lifetime, not left open for ever', async () => {
    const { running, at, release } = await checkedWhileLocked();
    const t = await running.retriesSpent(at(12));
    release();
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: null, reason: null }]); // given up
    for (let s = 12; s <= 60; s += 12) await running.checkAt(t + s * 1000);
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: new Date(t + 12_000).toISOString(), reason: GONE_REASON }]);
  });

  it('of a lifetime a logged flow_del ended while the check was in flight: not asked for again and again', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-failed-', { lockWaitMs: 0 });
    const lines = log.slice(first, first + 3);
    const at = (s: number) => timeOf(lines[0]) + s * 1000;
    const [, ufid, key] = /flow_add: ufid:(\S+) mega_ufid:\S+ (.*?), actions:/.exec(lines[0])!;
    const other = new Database(spec.m.file);
    let asked = 0;
    const call = async (): Promise<string> => {
      if (asked++ > 0) throw new Error('ovs-vswitchd: timed out after 10000 ms'); // vswitchd away since: nothing learnt
      // While this check is in flight lib/dpif.c logs the flow's deletion, read and committed ...
      const time = new Date(at(12.1)).toISOString();
      appendFileSync(join(spec.m.dir, 'ovs-vswitchd.log'), `${time}|00099|dpif(revalidator4)|DBG|netdev@ovs-netdev: flow_del ufid:${ufid} ${key}, packets:0, bytes:0, used:never\n${time}|00100|timeval|WARN|Unreasonably long 1000ms poll interval\n`);
      await running.source.settle();
      // ... and another writer holds the file's lock across the write of this check's answer.
      spec.m.db.pragma('busy_timeout = 20');
      other.exec('BEGIN IMMEDIATE');
      throw ENOENT;
    };
    const running = await startVlogSource(spec.m, call, [NETDEV]);
    spec.source = running.source;
    await running.append(lines);
    const failed = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    await running.checkAt(at(12));
    const t = await running.retriesSpent(at(12)); // given up
    other.exec('ROLLBACK');
    other.close();
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: database is locked/));
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: new Date(at(12.1)).toISOString(), reason: 'flow_del' }]);
    for (let s = 12; s <= 108; s += 12) await running.checkAt(t + s * 1000);
    // At most the one check the failed write lost (none: it ended), not one every max-idle for as long as vswitchd is away.
    expect(asked).toBe(1);
  });

  it("keeps what the check knew of the lifetime: a userspace flow beside a kernel datapath that cannot answer still ends", async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-failed-', { lockWaitMs: 0 });
    const call = async (_command: string, args: string[]): Promise<string> => Promise.reject(args[0] === SYSTEM.name ? NO_UFID : ENOENT);
    const running = await startVlogSource(spec.m, call, [NETDEV, SYSTEM]);
    spec.source = running.source;
    // dpif_netdev's flow_add: its flow is in the userspace datapath, which the kernel's refusal cannot veto.
    const lines = log.slice(first, first + 3);
    await running.append(lines);
    const at = (s: number) => timeOf(lines[0]) + s * 1000;
    // The first check's end is written and the COMMIT fails (as on a full disk): a deferred constraint the end breaks.
    spec.m.db.exec(`CREATE TABLE t_parent (id INTEGER PRIMARY KEY);
      CREATE TABLE t_child (p INTEGER REFERENCES t_parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER t_end AFTER UPDATE OF removed_at ON datapath_flow BEGIN INSERT INTO t_child VALUES (1); END;`);
    const failed = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    await running.checkAt(at(12));
    const t = await running.retriesSpent(at(12)); // given up
    spec.m.db.exec('DROP TRIGGER t_end');
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: FOREIGN KEY constraint failed/));
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: null, reason: null }]); // the end rolled back
    for (let s = 12; s <= 60; s += 12) await running.checkAt(t + s * 1000);
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: new Date(t + 12_000).toISOString(), reason: GONE_REASON }]);
  });

  it("forgets a lifetime the failed job made: a later one given its id is not taken for it (a kernel put's stays vetoed)", async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-failed-', { lockWaitMs: 0 });
    const call = async (_command: string, args: string[]): Promise<string> => Promise.reject(args[0] === SYSTEM.name ? NO_UFID : ENOENT);
    const running = await startVlogSource(spec.m, call, [NETDEV, SYSTEM]);
    spec.source = running.source;
    // dpif_netdev's flow_add is stored and the COMMIT fails (as on a full disk): its row and id rolled back.
    spec.m.db.exec(`CREATE TABLE t_parent (id INTEGER PRIMARY KEY);
      CREATE TABLE t_child (p INTEGER REFERENCES t_parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER t_new AFTER INSERT ON datapath_flow BEGIN INSERT INTO t_child VALUES (1); END;`);
    const failed = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    appendFileSync(join(spec.m.dir, 'ovs-vswitchd.log'), [...log.slice(first, first + 3), ''].join('\n'));
    await running.source.settle();
    await running.source.settle();
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: FOREIGN KEY constraint failed/));
    const givenUp = await running.retriesSpent(Date.now());
    spec.m.db.exec('DROP TRIGGER t_new');
    // The kernel datapath's put (lib/dpif.c) is the next lifetime stored, under the same id.
    const created = kernel.findIndex((l) => l.includes('put[create] ufid:'));
    const lines = kernel.slice(created, created + 2);
    await running.append(lines, givenUp); // read after the retries, on the agent's clock
    // A kernel that cannot look a UFID up may hold its flow: no check ends it (vlog-gone-check-userspace-line).
    for (let s = 12; s <= 72; s += 12) await running.checkAt(givenUp + s * 1000);
    expect(lifetimeRows(spec.m)).toEqual([{ removedAt: null, reason: null }]);
  });
});
