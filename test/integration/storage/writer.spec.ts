// The single writer on a real SQLite handle: jobs commit in submission order, a chunk ends on
// its time budget (the rest runs in the next transaction, nothing lost or reordered), the
// end-of-chunk hook runs inside every transaction, and one bad job is rejected alone.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { storeHandles } from '../../../src/storage/store.service';
import { StoreWriter } from '../../../src/storage/writer';
import { sqliteProcess } from '../../support/sqlite-process';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('StoreWriter', () => {
  let db: Database.Database;
  beforeEach(() => {
    db = new Database(':memory:');
    db.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY, tx INTEGER NOT NULL); CREATE TABLE hook (n INTEGER)');
  });
  afterEach(() => db.close());

  it('splits chunks on the time budget, in order, with the hook in every transaction', async () => {
    const w = new StoreWriter(db, { chunkSize: 500, maxChunkMs: 10 });
    let hookRuns = 0;
    w.onChunkEnd((tx) => {
      hookRuns++;
      tx.stmt('INSERT INTO hook (n) VALUES (?)').run(hookRuns);
    });
    const ids = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        w.submit((tx) => {
          busy(1);
          tx.stmt('INSERT INTO t (seq, tx) VALUES (?, ?)').run(i, w.stats.transactions);
          return i;
        }),
      ),
    );
    expect(ids).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(w.stats.committedJobs).toBe(60);
    expect(w.stats.transactions).toBeGreaterThan(2);
    expect(hookRuns).toBe(w.stats.transactions);
    expect((db.prepare('SELECT count(*) AS n FROM hook').get() as { n: number }).n).toBe(hookRuns);
    // Transaction numbers never go down along the submission order.
    const txs = (db.prepare('SELECT tx FROM t ORDER BY seq').all() as Array<{ tx: number }>).map((r) => r.tx);
    expect(txs).toEqual([...txs].sort((a, b) => a - b));
  });

  it('rejects a bad job alone and commits the others of its chunk', async () => {
    const w = new StoreWriter(db);
    const results = await Promise.allSettled(
      [1, 2, 2, 3].map((seq) => w.submit((tx) => tx.stmt('INSERT INTO t (seq, tx) VALUES (?, 0)').run(seq).changes)),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((db.prepare('SELECT seq FROM t ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq)).toEqual([1, 2, 3]);
  });
});

describe('ids cached inside a rolled-back transaction', () => {
  it('are forgotten: a later job does not reuse an id that was never committed', async () => {
    const Database = (await import('better-sqlite3')).default;
    const { StoreWriter } = await import('../../../src/storage/writer');
    const db = new Database(':memory:');
    db.exec('CREATE TABLE rule (id INTEGER PRIMARY KEY, name TEXT UNIQUE); CREATE TABLE step (rule_id INTEGER NOT NULL REFERENCES rule(id))');
    db.pragma('foreign_keys = ON');
    const writer = new StoreWriter(db);
    const cache = new Map<string, number>();
    writer.onRollback(() => cache.clear());
    const ruleId = (tx: import('../../../src/storage/writer').WriteContext, name: string) => {
      let id = cache.get(name);
      if (id === undefined) {
        id = Number(tx.stmt('INSERT INTO rule (name) VALUES (?)').run(name).lastInsertRowid);
        cache.set(name, id);
      }
      return id;
    };
    const good = writer.submit((tx) => tx.stmt('INSERT INTO step (rule_id) VALUES (?)').run(ruleId(tx, 'r1')));
    const bad = writer.submit((tx) => {
      ruleId(tx, 'r2');
      throw new Error('boom');
    });
    await expect(good).resolves.toBeDefined();
    await expect(bad).rejects.toThrow('boom');
    // r2's id was assigned inside a rolled-back transaction: it must not be used now.
    await writer.submit((tx) => tx.stmt('INSERT INTO step (rule_id) VALUES (?)').run(ruleId(tx, 'r2')));
    const dangling = db.prepare('SELECT count(*) AS n FROM step WHERE rule_id NOT IN (SELECT id FROM rule)').get() as { n: number };
    expect(dangling.n).toBe(0);
  });
});

describe('StoreWriter spanning event-loop turns (reads on another connection)', () => {
  it('keeps one transaction open while work is queued; readers see only commits; a bad job is replayed alone', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const Database = (await import('better-sqlite3')).default;
    const { storeHandles } = await import('../../../src/storage/store.service');
    const dir = mkdtempSync(join(tmpdir(), 'livetrace-writer-'));
    const main = new Database(join(dir, 'db.sqlite'));
    main.pragma('journal_mode = WAL');
    main.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY)');
    const { db: reader, writer } = storeHandles(main);
    try {
      const count = () => (reader.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
      const seenByReader: number[] = [];
      // A reader on the event loop between chunks: it must never see a partial transaction.
      const poll = setInterval(() => seenByReader.push(count()), 1);
      const jobs = Array.from({ length: 40 }, (_, i) =>
        writer.submit((tx) => {
          busy(2);
          if (i === 25) throw new Error('bad job');
          return tx.stmt('INSERT INTO t (seq) VALUES (?)').run(i).changes;
        }),
      );
      const settled = await Promise.allSettled(jobs);
      clearInterval(poll);
      expect(settled.filter((r) => r.status === 'rejected').length).toBe(1);
      expect((settled[25] as PromiseRejectedResult).reason.message).toBe('bad job');
      expect(count()).toBe(39);
      // Every count a reader saw is a committed state: nothing, or everything up to the end.
      expect(seenByReader.every((n) => n === 0 || n === 39)).toBe(true);
      expect(seenByReader.length).toBeGreaterThan(0);
    } finally {
      await writer.close();
      reader.close();
      main.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // SQLite ends the transaction itself when a statement meets SQLITE_IOERR, SQLITE_NOMEM or
  // SQLITE_FULL; a chunk hook that must not fail the chunk (shipper.ts countChunk) swallows the error.
  // The fault is injected (a hook's ROLLBACK): a real disk cannot be made to fail a read on demand.
  it('replays a chunk whose transaction SQLite ended under a hook that swallowed the error, nothing written outside a transaction', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const Database = (await import('better-sqlite3')).default;
    const dir = mkdtempSync(join(tmpdir(), 'livetrace-writer-'));
    const main = new Database(join(dir, 'db.sqlite'));
    main.pragma('journal_mode = WAL');
    main.exec('CREATE TABLE t (job INTEGER NOT NULL)');
    // As storeHandles builds a file's writer (spanTurns), one job a chunk: the transaction stays open across chunks.
    const reader = new Database(join(dir, 'db.sqlite'), { readonly: true });
    const writer = new StoreWriter(main, { spanTurns: true, chunkSize: 1 });
    let faults = 1;
    writer.onChunkRan((tx) => {
      if (!faults) return;
      faults--;
      try {
        tx.stmt('ROLLBACK').run();
        throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' });
      } catch {
        // Never the chunk's failure (as the shipper's hook does).
      }
    });
    try {
      const settled = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => writer.submit((tx) => tx.stmt('INSERT INTO t (job) VALUES (?)').run(i).changes)));
      expect(settled.filter((r) => r.status === 'rejected')).toEqual([]);
      // Each job's row once: none lost with the ended transaction, none committed alone by a later chunk and again by the replay.
      expect(reader.prepare('SELECT job, count(*) AS n FROM t GROUP BY job ORDER BY job').all()).toEqual(Array.from({ length: 6 }, (_, job) => ({ job, n: 1 })));
    } finally {
      await writer.close();
      reader.close();
      main.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Several agents on one SQLite file (LIVETRACE_ROLE=agent): another process commits while our
  // transaction is open across turns. A deferred BEGIN whose first job reads fails at the first
  // write with SQLITE_BUSY_SNAPSHOT (no busy wait applies), and a job that failed twice was lost;
  // BEGIN IMMEDIATE makes the other writer wait instead.
  it('loses no job while another process writes the same file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'livetrace-writer-')), 'db.sqlite');
    const main = new Database(file);
    main.pragma('journal_mode = WAL');
    main.pragma('busy_timeout = 5000');
    main.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY, n INTEGER NOT NULL); CREATE TABLE other (n INTEGER)');
    const other = await sqliteProcess(
      file,
      `db.pragma('busy_timeout = 5000');
       const ins = db.prepare('INSERT INTO other (n) VALUES (?)');
       process.stdout.write('ready ');
       const end = Date.now() + 1500; let n = 0;
       while (Date.now() < end) { db.exec('BEGIN IMMEDIATE'); ins.run(n++); db.exec('COMMIT'); }
       process.stdout.write(String(n));`,
      'ready',
    );
    const w = new StoreWriter(main, { spanTurns: true, maxChunkMs: 2 });
    const jobs: Array<Promise<number>> = [];
    // Jobs arrive over the other process's whole run, a few per event-loop turn.
    for (let i = 0; i < 400; i++) {
      jobs.push(
        w.submit((tx) => {
          // Read first, then write: the shape of the tracer's and the poller's jobs.
          const { c } = tx.stmt('SELECT count(*) AS c FROM t').get() as { c: number };
          return tx.stmt('INSERT INTO t (seq, n) VALUES (?, ?)').run(i, c).changes;
        }),
      );
      if (i % 4 === 3) await new Promise((r) => setTimeout(r, 3));
    }
    const results = await Promise.allSettled(jobs);
    expect(await other.exited).toBe(0);
    const otherRows = other.out().replace('ready ', '');
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(w.stats.failedJobs).toBe(0);
    expect((main.prepare('SELECT count(*) AS c FROM t').get() as { c: number }).c).toBe(400);
    expect((main.prepare('SELECT count(*) AS c FROM other').get() as { c: number }).c).toBe(Number(otherRows));
    main.close();
  });

  // Another process holds the write lock past the busy timeout: BEGIN IMMEDIATE fails with
  // SQLITE_BUSY. The chunk's jobs were replayed one transaction each, each waiting the busy timeout
  // again, synchronously: a chunk of 500 jobs stopped the event loop (API, health, sources) 500 × 5 s.
  // Then the chunk waited at the queue's head, three asks of the busy timeout (5 s, the event loop
  // stopped for each); now many short asks (LOCK_SLICE_MS), the event loop turning between them,
  // until its jobs have waited LOCK_WAIT_MS.
  describe('a write lock another process holds', () => {
    let file: string;
    let main: Database.Database;
    let holder: Database.Database;
    /** Every ask for the lock: BEGIN IMMEDIATE, a chunk's or a replayed job's. */
    let asked: number;
    /** Called after each ask for the lock that failed. */
    let onBusy: () => void;
    beforeEach(() => {
      file = join(mkdtempSync(join(tmpdir(), 'livetrace-writer-')), 'db.sqlite');
      main = new Database(file);
      main.pragma('journal_mode = WAL');
      main.pragma('busy_timeout = 50');
      main.exec('CREATE TABLE t (seq INTEGER PRIMARY KEY)');
      holder = new Database(file);
      holder.exec('BEGIN IMMEDIATE');
      asked = 0;
      onBusy = () => undefined;
      const exec = main.exec.bind(main);
      jest.spyOn(main, 'exec').mockImplementation((sql: string) => {
        if (!/BEGIN IMMEDIATE/i.test(sql)) return exec(sql);
        asked++;
        try {
          return exec(sql);
        } catch (err) {
          onBusy();
          throw err;
        }
      });
    });
    afterEach(() => {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
      main.close();
    });
    const twenty = (w: StoreWriter) => Array.from({ length: 20 }, (_, i) => w.submit((tx) => tx.stmt('INSERT INTO t (seq) VALUES (?)').run(i).changes));

    it('is asked for once a chunk, not once a job; the chunk is written once the lock is given back', async () => {
      const w = new StoreWriter(main, { lockPauseMs: 20 });
      onBusy = () => holder.inTransaction && holder.exec('ROLLBACK'); // given back after the first wait
      const results = await Promise.all(twenty(w));
      expect(results).toEqual(Array(20).fill(1));
      expect(asked).toBe(2);
      expect((main.prepare('SELECT count(*) AS c FROM t').get() as { c: number }).c).toBe(20);
      expect(w.stats.failedJobs).toBe(0);
    });

    it('held throughout its wait, fails the chunk SQLITE_BUSY, and later jobs are written', async () => {
      const w = new StoreWriter(main, { lockPauseMs: 20, lockWaitMs: 200 });
      const results = await Promise.allSettled(twenty(w));
      expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code : 'stored'))).toEqual(Array(20).fill('SQLITE_BUSY'));
      expect(asked).toBeGreaterThan(1); // the wait was several asks, not one
      expect(w.stats.failedJobs).toBe(20);
      holder.exec('ROLLBACK');
      await expect(w.submit((tx) => tx.stmt('INSERT INTO t (seq) VALUES (?)').run(100).changes)).resolves.toBe(1);
      expect(main.pragma('busy_timeout', { simple: true })).toBe(50); // the connection's own again
    });

    // A job that waited for the lock and then ran under it gets a whole wait at its next ask, not what
    // is left of the first: here each bad job's replay finds the lock taken by another (two waits of
    // one ask each), and the jobs of the first wait that ran in later chunks of the transaction kept
    // open (spanTurns) failed SQLITE_BUSY at the second's first ask, the one that began it did not.
    // Job 4 makes the time since the first wait longer than lockWaitMs.
    it('gives a job that ran since its last wait a whole wait again, whichever chunk of the transaction it ran in', async () => {
      holder.exec('ROLLBACK');
      const w = new StoreWriter(main, { spanTurns: true, chunkSize: 1, maxTxMs: 60_000, lockPauseMs: 20, lockWaitMs: 300 });
      let grab = false;
      w.onRollback(() => {
        if (grab) holder.exec('BEGIN IMMEDIATE'); // another process takes the lock as the bad job's transaction rolls back
        grab = false;
      });
      onBusy = () => holder.inTransaction && holder.exec('ROLLBACK'); // and gives it back after one ask
      const runs = new Map<number, number>();
      const put = (seq: number, opts: { failFirst?: boolean; slowFirst?: boolean } = {}) =>
        w.submit((tx) => {
          const n = (runs.get(seq) ?? 0) + 1;
          runs.set(seq, n);
          if (n === 1 && opts.slowFirst) busy(400);
          if (n === 1 && opts.failFirst) {
            grab = true;
            throw new Error(`job ${seq} fails its first run`);
          }
          return tx.stmt('INSERT INTO t (seq) VALUES (?)').run(seq).changes;
        });
      const jobs = [put(1), put(2), put(3, { failFirst: true }), put(4, { slowFirst: true }), put(5, { failFirst: true })];
      const results = await Promise.allSettled(jobs);
      expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: string }).code ?? (r.reason as Error).message : r.value))).toEqual([1, 1, 1, 1, 1]);
      expect(asked).toBeGreaterThanOrEqual(4); // both waits happened: two failed asks, then the chunks
      expect(w.stats.failedJobs).toBe(0);
    });

    // The app's writer and read connection (storeHandles), the connection's busy timeout the app's
    // (5 s), another process holding the lock. Given back when told (below), or on its own after 3 s,
    // within one ask of 5 s: the old single ask spanned the whole hold, nothing else ran until the
    // jobs had settled. Now a turn of the event loop comes while the writer waits: a read through the
    // read connection is answered, jobs queued meanwhile are written after the waiting chunk.
    it('lets the event loop turn while it waits: a read is answered, and jobs queued meanwhile follow in order', async () => {
      holder.exec('ROLLBACK');
      main.pragma('busy_timeout = 5000');
      main.exec('CREATE TABLE o (n INTEGER NOT NULL)');
      const other = await sqliteProcess(
        file,
        `db.exec('BEGIN IMMEDIATE');
         const release = () => { db.exec('ROLLBACK'); db.close(); process.exit(0); };
         process.stdin.on('data', release); setTimeout(release, 3000);
         process.stdout.write('held');`,
        'held',
      );
      const { db: reader, writer: w } = storeHandles(main);
      const put = (n: number) => w.submit((tx) => tx.stmt('INSERT INTO o (n) VALUES (?)').run(n).changes);
      let settled = false;
      const jobs = Array.from({ length: 20 }, (_, i) => put(i));
      void Promise.allSettled(jobs).then(() => (settled = true));
      /** What a read saw in a turn of the event loop between the writer's first ask and its jobs' commit. */
      let seen: number | undefined;
      const probe = setInterval(() => {
        if (asked === 0 || settled || seen !== undefined) return;
        seen = (reader.prepare('SELECT count(*) AS c FROM o').get() as { c: number }).c;
        jobs.push(...[20, 21, 22, 23, 24].map(put));
        other.child.stdin!.write('release\n');
      }, 1);
      try {
        await Promise.allSettled(jobs.slice(0, 20));
        expect(seen).toBe(0);
        expect(await Promise.all(jobs)).toEqual(Array(25).fill(1));
        expect((main.prepare('SELECT n FROM o ORDER BY rowid').all() as Array<{ n: number }>).map((r) => r.n)).toEqual(Array.from({ length: 25 }, (_, i) => i));
        expect(w.stats.failedJobs).toBe(0);
        expect(main.pragma('busy_timeout', { simple: true })).toBe(5000); // the connection's own again
        expect(await other.exited).toBe(0);
      } finally {
        clearInterval(probe);
        other.child.kill();
        await w.close();
        reader.close();
      }
    });
  });
});
