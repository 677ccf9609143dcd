// One log event whose write always fails (a row the store refuses: a constraint it violates) in a
// batch of good ones. The source writes a batch in one job, so the job failed whole and the failure
// was taken as a passing one (vlog-write-retry.ts): every event of the batch, and everything read
// after it, waited 1+2+4+8+16 s and then, sharing the bad one's attempts, the good ones were given up
// with it. Now a failure that is not a passing one (not SQLITE_BUSY, a full disk, ...) splits the
// batch, written again at once: the good events land in the same round, in order, and only the bad
// one is given up, counted by kind. No log line was found whose write throws (what the write code
// refuses, such as a recirc_id wider than 32 bits, is refused when the line is read), so the refusal
// is the store's own: a real SQLite trigger refusing one upcall's row (SQLITE_CONSTRAINT_TRIGGER, as a
// CHECK would). The captured OVS 3.5 vswitchd.log (six misses and their six dpif_netdev flow_adds)
// read from a file, a real migrated SQLite, the source's one round driven by settle().
import { appendFileSync } from 'node:fs';
import { RETRY_FIRST_MS } from '../../../src/collectors/vlog-write-retry';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { installed35, log35, missKeys35, NETDEV, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const log = log35;
/** The third miss (recirc_id(0x2)): its row refused, the misses before and after it not. */
const bad = missKeys35[2];

describe('a batch of log events one of which always fails to be written', () => {
  const spec = vlogSourceSpec();

  const lifetimes = () => spec.m.db.prepare('SELECT ufid FROM datapath_flow ORDER BY id').all().map((r) => (r as { ufid: string }).ufid);
  const upcallKeys = () => spec.m.db.prepare('SELECT key FROM upcall ORDER BY id').all().map((r) => (r as { key: string }).key);

  it('writes the good events in the same round and gives up the bad one alone, counted by kind', async () => {
    expect(missKeys35).toHaveLength(6);
    expect(bad).toMatch(/^recirc_id\(0x2\),/);
    spec.m = await openMigratedSqlite('livetrace-vlog-write-poison-');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    expect(bad).not.toContain("'");
    spec.m.db.exec(`CREATE TRIGGER refuse_one BEFORE INSERT ON upcall WHEN NEW.key = '${bad}' BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: upcall'); END`);
    // Past the upcall linker's wait: the whole log is one batch.
    jest.spyOn(Date, 'now').mockReturnValue(timeOf(log[0]) + 10_000);
    const errors = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    appendFileSync(running.file, log.join('\n'));
    await spec.source.settle(); // one round: no retry's wait has passed

    expect(errors).toHaveBeenCalledWith(expect.stringMatching(/CHECK constraint failed: upcall/));
    expect(lifetimes()).toEqual(installed35);
    expect(new Set(upcallKeys())).toEqual(new Set(missKeys35.filter((k) => k !== bad)));
    expect(upcallKeys()).toHaveLength(missKeys35.length - 1);
    const dropped = Object.fromEntries(((await running.metrics.registry.getSingleMetric('livetrace_vlog_events_dropped_total')?.get())?.values ?? []).map((v) => [v.labels.kind, v.value]));
    expect(dropped).toEqual({ upcall: 1 });
    expect(errors).toHaveBeenCalledWith(expect.stringMatching(/^dropped 1 log events never stored.*\(upcall: 1\)$/));
    // Nothing waits for a retry, and the upcalls written are counted once.
    expect((spec.source as unknown as { queue: unknown[] }).queue).toEqual([]);
    const counted = (await running.metrics.registry.getSingleMetric('livetrace_vlog_upcalls_total')!.get()).values.reduce((n, v) => n + v.value, 0);
    expect(counted).toBe(missKeys35.length - 1);
  });

  // The batch's first event bad too: its first event failing alone and the rest failing as well is
  // what a store refusing every row shows (vlog-write-store-refuses.spec), kept for the retry once. A
  // wait later, failing alone again, it is given up; the next attempt starts with a good event, and
  // the other bad one is found as above: nothing good given up, a line for the batches written apart.
  it('gives up a bad first event and another bad one behind it, a wait or two later, and nothing good', async () => {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-poison-');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    spec.m.db.exec(`CREATE TRIGGER refuse_one BEFORE INSERT ON upcall WHEN NEW.key = '${bad}' BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: upcall'); END`);
    let now = timeOf(log[0]) + 10_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const errors = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    const queue = (spec.source as unknown as { queue: unknown[] }).queue;
    // The batch's first event: the first flow_add's lifetime (its upcall waits for it in the linker).
    spec.m.db.exec(`CREATE TRIGGER refuse_first BEFORE INSERT ON datapath_flow WHEN NEW.ufid = '${installed35[0]}' BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: datapath_flow'); END`);
    appendFileSync(running.file, log.join('\n'));
    await spec.source.settle();
    // Nothing written: taken as the store's failure, all kept.
    expect(upcallKeys()).toEqual([]);
    expect(lifetimes()).toEqual([]);
    expect(queue).toHaveLength(missKeys35.length + installed35.length);
    for (let i = 0; i < 2; i++) {
      now += RETRY_FIRST_MS * 2 ** i;
      await spec.source.settle();
    }
    expect(lifetimes()).toEqual(installed35.slice(1));
    expect(new Set(upcallKeys())).toEqual(new Set(missKeys35.filter((k) => k !== bad)));
    expect(upcallKeys()).toHaveLength(missKeys35.length - 1);
    expect(queue).toEqual([]);
    const dropped = Object.fromEntries(((await running.metrics.registry.getSingleMetric('livetrace_vlog_events_dropped_total')?.get())?.values ?? []).map((v) => [v.labels.kind, v.value]));
    expect(dropped).toEqual({ flow: 1, upcall: 1 });
    // Two batches written apart within DROP_LOG_MS: one line, the first; the second held for the next.
    expect(errors.mock.calls.filter(([m]) => m.startsWith('log events written apart'))).toHaveLength(1);
  });
});
