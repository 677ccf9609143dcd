// A batch of log events whose write the writer gave up (vlog-source.service.ts flushWrites; here a
// real SQLITE_BUSY: another process on the same SQLite file holding the write lock past the busy
// timeout, as several agents sharing one file do). The batch's installs (flow lifetimes) and upcalls
// were only logged as failed and lost for good, though the lock is usually released a moment later.
// They are now written again, first, after a wait (vlog-write-retry.ts), and given up only once the
// failure outlasted the retries: counted by kind (livetrace_vlog_events_dropped_total) and logged,
// later batches written as before. The captured OVS 3.5 vswitchd.log (six misses and their six
// dpif_netdev flow_adds) read from a file, a real migrated SQLite, the retries at the service's own
// times (Date.now set past each wait). While the retry waited, every event read meanwhile was queued
// with no bound (MAX_UNWRITTEN was only applied at the next failure): a log flood during a held lock
// grew memory past it. The oldest beyond it are now given up as they are read, the failed batch first.
import { appendFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MAX_UNWRITTEN, RETRY_MAX_MS, WRITE_ATTEMPTS } from '../../../src/collectors/vlog-write-retry';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { flowDelOf, installed35, log35, misses35, NETDEV, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const log = log35;

describe('a batch of log events whose write failed', () => {
  const spec = vlogSourceSpec();

  const lifetimes = () => spec.m.db.prepare('SELECT ufid FROM datapath_flow ORDER BY id').all().map((r) => (r as { ufid: string }).ufid);
  const upcalls = () => spec.m.db.prepare('SELECT u.ufid FROM upcall u JOIN datapath_flow f ON f.id = u.datapath_flow_id ORDER BY u.id').all().map((r) => (r as { ufid: string }).ufid);

  /** The spec.source on `spec.m`, the log read while another connection holds the file's write lock: the first write fails. */
  async function readWhileLocked() {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-retry-', { lockWaitMs: 0 });
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    let now = timeOf(log[0]);
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const errors = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    spec.m.db.pragma('busy_timeout = 20');
    const other = new Database(spec.m.file);
    other.exec('BEGIN IMMEDIATE');
    appendFileSync(running.file, log.join('\n'));
    await spec.source.settle();
    expect(errors).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: database is locked/));
    expect(lifetimes()).toEqual([]);
    return {
      running,
      errors,
      /** The retry's wait passed: the next write is due. */
      later: () => (now += RETRY_MAX_MS),
      release: () => {
        other.exec('ROLLBACK');
        other.close();
      },
    };
  }

  it('is written again once the lock is released: its lifetimes and their upcalls are stored', async () => {
    expect(installed35).toHaveLength(6);
    const { later, release } = await readWhileLocked();
    release();
    later();
    await spec.source!.settle();
    expect(lifetimes()).toEqual(installed35);
    expect(upcalls()).toHaveLength(misses35);
    expect(new Set(upcalls())).toEqual(new Set(installed35));
  });

  it('waits with at most MAX_UNWRITTEN events queued: a flood read meanwhile gives up the oldest, the failed batch first, counted by kind', async () => {
    const { running, errors, later, release } = await readWhileLocked();
    const queued = () => (spec.source as unknown as { queue: unknown[] }).queue.length;
    const batch = installed35.length + misses35;
    expect(queued()).toBe(batch); // the failed batch, back at the head
    const over = 100;
    const dels = Array.from({ length: MAX_UNWRITTEN - 2 * batch + over }, (_, i) => flowDelOf(i));
    for (let part = 0; part < 4; part++) {
      appendFileSync(running.file, `\n${dels.slice((part * dels.length) / 4, ((part + 1) * dels.length) / 4).join('\n')}`);
      await spec.source!.settle();
      expect(queued()).toBeLessThanOrEqual(MAX_UNWRITTEN);
    }
    // The same installs read again, last: queued behind the flood, the bound full.
    appendFileSync(running.file, `\n${log.join('\n')}`);
    await spec.source!.settle();
    expect(queued()).toBe(MAX_UNWRITTEN);
    const dropped = Object.fromEntries(((await running.metrics.registry.getSingleMetric('livetrace_vlog_events_dropped_total')?.get())?.values ?? []).map((v) => [v.labels.kind, v.value]));
    expect(dropped).toEqual({ flow: installed35.length, upcall: misses35, flow_del: over - batch });
    expect(errors).toHaveBeenCalledWith(expect.stringMatching(new RegExp(`^dropped \\d+ log events .*\\(flow: ${installed35.length}, flow_del: \\d+, upcall: ${misses35}\\)$`)));
    // Given up in two reads, logged once: a line a read would be a line a datagram under a UDP flood.
    const dropLines = () => errors.mock.calls.map(([m]) => m).filter((m) => m.startsWith('dropped '));
    expect(dropLines()).toHaveLength(1);
    expect(lifetimes()).toEqual([]);
    // What was kept is written in the order read once the lock is released: the flood, then the installs and their upcalls.
    release();
    later();
    await spec.source!.settle();
    expect(queued()).toBe(0);
    expect(lifetimes()).toEqual(installed35);
    expect(upcalls()).toHaveLength(misses35);
    // The rest, once DROP_LOG_MS passed, in one more line: every drop counted is logged.
    const total = (m: string) => Number(/^dropped (\d+) /.exec(m)![1]);
    expect(dropLines()).toHaveLength(2);
    expect(dropLines()[1]).toMatch(/since the last such line/);
    expect(dropLines().reduce((s, m) => s + total(m), 0)).toBe(installed35.length + misses35 + over - batch);
    // 20,000 log lines read and queued: ~5 s here with a second jest worker beside it, past jest's default 5 s.
  }, 60_000);

  it('is dropped and counted by kind once the lock outlasts the retries, and later writes still land', async () => {
    const { running, errors, later, release } = await readWhileLocked();
    for (let i = 1; i < WRITE_ATTEMPTS; i++) {
      later();
      await spec.source!.settle();
    }
    const dropped = Object.fromEntries(((await running.metrics.registry.getSingleMetric('livetrace_vlog_events_dropped_total')?.get())?.values ?? []).map((v) => [v.labels.kind, v.value]));
    expect(dropped).toEqual({ flow: installed35.length, upcall: misses35 });
    expect(errors).toHaveBeenLastCalledWith(expect.stringMatching(new RegExp(`dropped ${installed35.length + misses35} log events .*flow: ${installed35.length}, upcall: ${misses35}`)));
    release();
    expect(lifetimes()).toEqual([]);
    // The same installs read again (vswitchd installing the flows anew): stored at once, nothing waits.
    appendFileSync(running.file, `\n${log.join('\n')}`);
    await spec.source!.settle();
    expect(lifetimes()).toEqual(installed35);
  });
});
