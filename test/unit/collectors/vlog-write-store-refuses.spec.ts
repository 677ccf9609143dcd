// A store that refuses every row of the vswitchd log source with an error the passing-failure list
// does not name (passing(): here real SQLite triggers refusing every upcall and lifetime row,
// SQLITE_CONSTRAINT_TRIGGER, as a bad migration's missing table or a trigger refusing all would).
// Such a failure was taken as items' own: the batch split and written apart at once, 2n-1 write
// jobs a batch, every item given up at once though no item was at fault, with an error line at each
// batch (a 250 ms tick). A batch no item of which could be written alone is now the store's failure:
// learnt in a few writes, kept at the queue's head for today's retry (its wait, WRITE_ATTEMPTS), and
// the events read while it is written are bounded with it (MAX_UNWRITTEN). The captured OVS 3.5
// vswitchd.log (six misses and their six dpif_netdev flow_adds) read from a file, a real migrated
// SQLite, the retries at the service's own times (Date.now set past each wait).
import { appendFileSync } from 'node:fs';
import { MAX_UNWRITTEN, RETRY_FIRST_MS, RETRY_MAX_MS, WRITE_ATTEMPTS } from '../../../src/collectors/vlog-write-retry';
import type { StoreWriter } from '../../../src/storage/writer';
import { openMigratedSqlite } from '../../support/migrated-sqlite';
import { flowDelOf, installed35, log35, misses35, NETDEV, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const log = log35;
const batch = installed35.length + misses35;

describe('a store refusing every row of a batch with an error not known as passing', () => {
  const spec = vlogSourceSpec();

  const lifetimes = () => spec.m.db.prepare('SELECT ufid FROM datapath_flow ORDER BY id').all().map((r) => (r as { ufid: string }).ufid);
  const upcallCount = () => (spec.m.db.prepare('SELECT count(*) AS n FROM upcall').get() as { n: number }).n;
  const followed = () => (spec.source as unknown as { config: { LIVETRACE_VLOG_FILE: string } }).config.LIVETRACE_VLOG_FILE;
  const queued = () => (spec.source as unknown as { queue: unknown[] }).queue.length;

  async function readIntoBrokenStore(onWrite?: (n: number) => Promise<void>) {
    spec.m = await openMigratedSqlite('livetrace-vlog-write-store-refuses-');
    const running = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = running.source;
    spec.m.db.exec(`CREATE TRIGGER refuse_upcall BEFORE INSERT ON upcall BEGIN SELECT RAISE(ABORT, 'refused by the store'); END`);
    spec.m.db.exec(`CREATE TRIGGER refuse_flow BEFORE INSERT ON datapath_flow BEGIN SELECT RAISE(ABORT, 'refused by the store'); END`);
    let now = timeOf(log[0]) + 10_000; // past the upcall linker's wait: the whole log one batch
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const errors = jest.spyOn((spec.source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    const writer: StoreWriter = spec.m.writer;
    const submit = writer.submit.bind(writer);
    let writes = 0;
    jest.spyOn(writer, 'submit').mockImplementation(async (job) => {
      await onWrite?.(++writes);
      return submit(job);
    });
    appendFileSync(running.file, log.join('\n'));
    await spec.source.settle();
    const dropped = async () => Object.fromEntries(((await running.metrics.registry.getSingleMetric('livetrace_vlog_events_dropped_total')?.get())?.values ?? []).map((v) => [v.labels.kind, v.value]));
    const lines = (start: string) => errors.mock.calls.map(([m]) => m).filter((m) => m.startsWith(start));
    return { running, dropped, lines, writes: () => writes, later: (ms: number) => (now += ms), fix: () => spec.m.db.exec('DROP TRIGGER refuse_upcall; DROP TRIGGER refuse_flow') };
  }

  it('keeps the batch for the retry, learnt in a few writes, and stores it once the store takes rows again', async () => {
    expect(batch).toBe(12);
    const b = await readIntoBrokenStore();
    expect(await b.dropped()).toEqual({});
    expect(queued()).toBe(batch);
    expect(b.writes()).toBeLessThanOrEqual(3); // the batch, its first event alone, the rest: not 2n-1
    expect(b.lines('storing ')).toHaveLength(1);
    // Ticks before the wait passed: nothing written, nothing said.
    await spec.source!.settle();
    await spec.source!.settle();
    expect(b.writes()).toBeLessThanOrEqual(3);
    expect(b.lines('storing ')).toHaveLength(1);
    b.fix();
    b.later(RETRY_FIRST_MS);
    await spec.source!.settle();
    expect(lifetimes()).toEqual(installed35);
    expect(upcallCount()).toBe(misses35);
    expect(queued()).toBe(0);
    expect(await b.dropped()).toEqual({});
  });

  it('gives the batch up, counted by kind, only once its retries are spent, a line an attempt', async () => {
    const b = await readIntoBrokenStore();
    for (let i = 1; i < WRITE_ATTEMPTS; i++) {
      expect(await b.dropped()).not.toEqual({ flow: installed35.length, upcall: misses35 });
      b.later(RETRY_MAX_MS);
      await spec.source!.settle();
    }
    expect(await b.dropped()).toEqual({ flow: installed35.length, upcall: misses35 });
    expect(queued()).toBe(0);
    expect(b.writes()).toBeLessThanOrEqual(3 * WRITE_ATTEMPTS);
    expect(b.lines('storing ').length).toBeLessThanOrEqual(WRITE_ATTEMPTS);
    expect(lifetimes()).toEqual([]);
  });

  it('keeps at most MAX_UNWRITTEN events, the batch being written counted, while a flood is read', async () => {
    const over = 100;
    let seen = -1;
    const b = await readIntoBrokenStore(async (n) => {
      if (n !== 2) return; // the batch failed whole: its first write apart, a flood read meanwhile
      appendFileSync(followed(), `\n${Array.from({ length: MAX_UNWRITTEN + over }, (_, i) => flowDelOf(i)).join('\n')}\n`);
      await spec.source!.fileFollower!.poll();
      seen = queued();
    });
    expect(seen).toBeGreaterThan(0);
    expect(seen + batch).toBeLessThanOrEqual(MAX_UNWRITTEN);
    expect(queued()).toBeLessThanOrEqual(MAX_UNWRITTEN);
    expect(await b.dropped()).toEqual({ flow_del: over + batch });
    // 20,000 log lines read and queued: seconds with a second jest worker beside it.
  }, 60_000);
});
