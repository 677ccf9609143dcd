// A shipping batch is bounded by bytes as well as rows (LIVETRACE_SHIP_BATCH_BYTES). After a long
// outage a batch of LIVETRACE_SHIP_BATCH (5,000) rows could be 5,000 ingested events of up to 2 MB
// each: ~10 GB read, encoded and sent at once. Large rows now ship in several batches, each under the
// bound unless it is one row larger than it (which still ships, alone); by range (COPY) and by key
// (logged rows), a range cut in the middle with rows of its rest changed meanwhile; nothing is lost and
// the marks end where the spool's rows do.
import { SLOT_BITS } from '../../src/storage/spool';
import type { StoreService } from '../../src/storage/store.service';
import { compareSpoolWithPostgres, describeCheck } from '../support/spool-check';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const BOUND = 1024 ** 2;
const ingest = `INSERT INTO ingest_event (source, event_id, type, time, received_at, chassis, body) VALUES ('p', ?, 'upcall', 't', 't', 'hv1', ?)`;
const newPath = `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-05T00:00:00Z', 'u0', '{}')`;
const body = (tag: string, n: number) => JSON.stringify({ tag, pad: tag[0].repeat(n) });

/** What each batch brought to PostgreSQL: the characters of ingest_event bodies new or changed in it, and how many such rows. */
async function shipCounting(s: StoreService, url: string, afterFirst?: () => Promise<unknown>): Promise<Array<{ rows: number; chars: number }>> {
  const bodies = async () => (await pgRows(url, 'SELECT id, md5(body) AS h, length(body) AS len FROM ingest_event')) as Array<{ id: string; h: string; len: number }>;
  const seen = new Map((await bodies()).map((r) => [r.id, r.h]));
  const batches: Array<{ rows: number; chars: number }> = [];
  for (let i = 0; i < 100; i++) {
    const n = await s.shipper!.shipSome();
    if (n === 0) return batches;
    const moved = (await bodies()).filter((r) => seen.get(r.id) !== r.h);
    for (const r of moved) seen.set(r.id, r.h);
    batches.push({ rows: moved.length, chars: moved.reduce((a, r) => a + r.len, 0) });
    if (i === 0) await afterFirst?.();
  }
  throw new Error('the shipper did not drain in 100 batches');
}

async function expectSame(s: StoreService, url: string): Promise<void> {
  const check = await compareSpoolWithPostgres(s.writer.db.name, url);
  if (check.problems.length) console.log(describeCheck(check));
  expect(check.problems).toEqual([]);
  expect(check.waiting).toBe(0);
  expect(s.shipper!.state.backlog).toBe(0);
}

describe('shipping batches bounded by bytes (real PostgreSQL)', () => {
  it('large rows ship in several batches, each under the bound or a single row; nothing lost, marks at the top', async () => {
    const url = await spools.pg().database('ship_bytes');
    const s = await storeOn(url, newSpool(), { LIVETRACE_SHIP_BATCH_BYTES: String(BOUND) });
    await s.shipper!.stop();
    const base = s.central!.slot * 2 ** SLOT_BITS;
    // 24 events of ~200 kB (4.8 MB), one of 3 MB (alone above the bound), paths between them.
    const ids = await s.writer.submit((tx) => {
      const out: number[] = [];
      for (let i = 0; i < 25; i++) {
        out.push(Number(tx.stmt(ingest).run(`e${i}`, body(`a${i}`, i === 12 ? 3 * BOUND : 200_000)).lastInsertRowid));
        tx.stmt(newPath).run();
      }
      return out;
    });
    expect(ids[0]).toBeGreaterThan(base);
    // After the first batch, rows already shipped and rows of the claimed range not yet shipped change.
    const batches = await shipCounting(s, url, () =>
      s.writer.submit((tx) => {
        tx.stmt('UPDATE ingest_event SET body = ? WHERE id = ?').run(body('b0', 1000), ids[0]);
        tx.stmt('UPDATE ingest_event SET body = ? WHERE id = ?').run(body('b20', 1000), ids[20]);
        tx.stmt('DELETE FROM ingest_event WHERE id = ?').run(ids[21]);
      }),
    );
    expect(batches.length).toBeGreaterThanOrEqual(5);
    for (const b of batches) expect(b.rows === 1 || b.chars <= BOUND).toBe(true);
    await expectSame(s, url);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM ingest_event')).toEqual([{ n: 24 }]);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path')).toEqual([{ n: 25 }]);
    const marks = s.db.prepare(`SELECT key, value FROM meta WHERE key IN ('ship_mark:ingest_event', 'ship_claim:ingest_event')`).all() as Array<{ key: string; value: string }>;
    expect(marks.map((m) => Number(m.value))).toEqual([ids[24], ids[24]]);

    // Every row changed after it shipped: logged, shipped by key, in batches under the bound too.
    await s.writer.submit((tx) => {
      for (const id of ids) tx.stmt('UPDATE ingest_event SET body = ? WHERE id = ?').run(body(`c${id}`, 300_000), id);
    });
    const logged = await shipCounting(s, url);
    expect(logged.length).toBeGreaterThanOrEqual(7);
    for (const b of logged) expect(b.rows === 1 || b.chars <= BOUND).toBe(true);
    await expectSame(s, url);
    expect(await pgRows(url, `SELECT COUNT(*)::int AS n FROM ingest_event WHERE body LIKE '{"tag":"c%'`)).toEqual([{ n: 24 }]);
  });
});
