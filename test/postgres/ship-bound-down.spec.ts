// The spool's bound (LIVETRACE_SPOOL_MAX_CHANGES) while PostgreSQL is away (its cluster stopped: every
// attempt refused at once). The backlog, and the `full` flag the sources stop by, were counted only
// as a shipping attempt ended, and the attempts back off to one each 5 s: a source writing as fast as
// the writer takes it went on for up to 5 s past the bound (test/postgres/faults.spec.ts measured
// 1,059–1,200 changes at the moment it said full with a bound of 1,000; an agent tracing 1,000 flows
// a second writes ~70,000 changes in 5 s). Now the writer counts at the end of each of its chunks while
// PostgreSQL is away: the spool passes its bound by at most one chunk's changes (README).
import type { WriteContext } from '../../src/storage/writer';
import { highestOwn, markKeys, shippedTables, SLOT_BITS } from '../../src/storage/spool';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const BOUND = 1000;
/** Jobs a source hands the writer at once (awaited together): a chunk holds at most these. */
const WAVE = 10;
const NEW_PATHS = 10;
const OLD_PATHS_CHANGED = 4;
/** Changes one job adds to the backlog: new paths (ids above the shipped mark) and shipped paths changed (ship_log entries). */
const PER_JOB = NEW_PATHS + OLD_PATHS_CHANGED;
const newPath = `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-08T00:00:00Z', 'u0', '{}')`;

describe('the spool bound while PostgreSQL is away (real PostgreSQL, stopped)', () => {
  it('a source that obeys `full` at write time passes the bound by at most one writer chunk, and the backlog is exact', async () => {
    const url = await spools.pg().database('ship_bound_down');
    const s = await spools.storeOn(url, newSpool(), { LIVETRACE_SPOOL_MAX_CHANGES: String(BOUND) });
    const shipper = s.shipper!;
    // Paths shipped before the outage: each job changes some of them, a ship_log entry each.
    const old = await s.writer.submit((tx) => Array.from({ length: 2000 }, () => Number(tx.stmt(newPath).run().lastInsertRowid)));
    await shipper.synced();
    expect(shipper.state).toMatchObject({ up: true, backlog: 0, full: false });

    spools.pg().stopServer();
    let restarted = false;
    try {
      await waitFor('the shipper to find PostgreSQL away', () => !shipper.state.up && shipper.state.lastError !== null, 30_000);
      // Its retries back off to one each 5 s: the window in which a count at an attempt's end let
      // writes pass the bound. Not a timing of the answer: the count asserted below is the same
      // whatever the wait, once the count follows the writes.
      await new Promise((r) => setTimeout(r, 7000));

      // A source as the lifetime writers are (lifetime-spool-bound.ts): it reads `full` inside its job.
      // One job of the third wave fails after its writes: the chunk rolls back (entries counted in it
      // gone, their seq numbers given again) and is replayed job by job, the count going on exact.
      let next = 0;
      const job = (fails: boolean) =>
        s.writer.submit((tx) => {
          if (shipper.state.full) return 0;
          for (let i = 0; i < NEW_PATHS; i++) tx.stmt(newPath).run();
          for (let i = 0; i < OLD_PATHS_CHANGED; i++) tx.stmt(`UPDATE path SET updated_at = 'u1' WHERE id = ?`).run(old[next++]);
          if (fails) throw new Error('a job of its own failure');
          return PER_JOB;
        });
      let written = 0;
      let failed = 0;
      for (let wave = 0; ; wave++) {
        const settled = await Promise.allSettled(Array.from({ length: WAVE }, (_, i) => job(wave === 2 && i === WAVE / 2)));
        failed += settled.filter((r) => r.status === 'rejected').length;
        const n = settled.reduce((a, r) => a + (r.status === 'fulfilled' ? r.value : 0), 0);
        if (!n) break;
        written += n;
        // The old paths run out long before a source that was never told full would stop on its own.
        if (next >= old.length) break;
      }
      console.log(`spool bound ${BOUND} with PostgreSQL away: ${written} changes written before the source saw it full (${written - BOUND} past it; one chunk is at most ${WAVE * PER_JOB})`);

      // Past the bound by at most one chunk: the one whose end found it reached (the chunk before it ended under it).
      expect(written - BOUND).toBeLessThan(WAVE * PER_JOB);
      expect(failed).toBe(1);
      expect(shipper.state.full).toBe(true);
      // The backlog as the shipper counts it is what was written: every change waits for PostgreSQL.
      expect(shipper.state.backlog).toBe(written);
      expect(written).toBeGreaterThanOrEqual(BOUND);

      spools.pg().startServer();
      restarted = true;
      await shipper.synced(60_000);
      expect(shipper.state).toMatchObject({ up: true, backlog: 0, full: false });
      const rows = await pgRows(url, `SELECT count(*)::int AS n, count(*) FILTER (WHERE updated_at = 'u1')::int AS changed FROM path WHERE id / $1::bigint = $2`, [2 ** SLOT_BITS, s.central!.slot]);
      expect(rows).toEqual([{ n: 2000 + (written / PER_JOB) * NEW_PATHS, changed: (written / PER_JOB) * OLD_PATHS_CHANGED }]);
    } finally {
      if (!restarted) spools.pg().startServer();
    }
  });

  it('at the end of every writer chunk while PostgreSQL is away, the one that ships the first batch when it is back too, the backlog is what the chunk\'s transaction holds', async () => {
    const url = await spools.pg().database('ship_bound_back');
    const s = await spools.storeOn(url, newSpool(), { LIVETRACE_SPOOL_MAX_CHANGES: String(BOUND) });
    const shipper = s.shipper!;
    const slot = s.central!.slot;
    const old = await s.writer.submit((tx) => Array.from({ length: 200 }, () => Number(tx.stmt(newPath).run().lastInsertRowid)));
    await shipper.synced();
    // The backlog counted from scratch in the chunk's own transaction: ship_log's entries, and each
    // marked table's rows above its shipped mark as meta holds it there.
    const marked = shippedTables(s.writer.db).filter((t) => t.mark);
    const shippedIn = (tx: WriteContext, name: string) => Number((tx.stmt('SELECT value FROM meta WHERE key = ?').get(markKeys(name).shipped) as { value: string }).value);
    const truth = (tx: WriteContext) =>
      (tx.stmt('SELECT COUNT(*) AS n FROM ship_log').get() as { n: number }).n +
      marked.reduce((n, t) => n + Math.max(0, highestOwn((sql) => tx.stmt(sql), t, slot) - shippedIn(tx, t.name)), 0);
    const pathMark = () => shippedIn({ stmt: (sql: string) => s.writer.db.prepare(sql) } as unknown as WriteContext, 'path');
    const markBefore = pathMark();
    const seen: Array<{ backlog: number; truth: number; markMoved: boolean }> = [];
    // After the shipper's own hook (registered when it was built): what it counted for this chunk.
    s.writer.onChunkRan((tx) => {
      if (shipper.state.up || shipper.state.lastError === null) return;
      seen.push({ backlog: shipper.state.backlog, truth: truth(tx), markMoved: shippedIn(tx, 'path') > markBefore });
    });

    spools.pg().stopServer();
    let restarted = false;
    try {
      await waitFor('the shipper to find PostgreSQL away', () => !shipper.state.up && shipper.state.lastError !== null, 30_000);
      // New paths (above the shipped mark: a range to ship) and shipped ones changed (ship_log entries), under the bound.
      for (let i = 0; i < 20; i++)
        await s.writer.submit((tx) => {
          for (let j = 0; j < NEW_PATHS; j++) tx.stmt(newPath).run();
          tx.stmt(`UPDATE path SET updated_at = 'u1' WHERE id = ?`).run(old[i]);
        });
      expect(shipper.state.backlog).toBe(20 * (NEW_PATHS + 1));
      spools.pg().startServer();
      restarted = true;
      await shipper.synced(60_000);
      expect(shipper.state).toMatchObject({ up: true, backlog: 0, full: false });
      // The shipper's delete of what it shipped (its marks moved in the same transaction) ran while it still knew PostgreSQL away.
      expect(seen.some((o) => o.markMoved)).toBe(true);
      expect(seen.filter((o) => o.backlog !== o.truth)).toEqual([]);
    } finally {
      if (!restarted) spools.pg().startServer();
    }
  });
});
