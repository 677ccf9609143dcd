// Logged rows get their turn under the byte bound (LIVETRACE_SHIP_BATCH_BYTES). A batch reads its
// claimed ranges first and its logged rows (changed after their range shipped) with what the budget
// leaves; the first row of a batch always goes. While the agent writes, each batch starts by claiming
// a new range, so a logged row larger than what the ranges leave was never the first of a batch:
// it waited for as long as the writes went on, and every logged row behind it with it.
import type { StoreService } from '../../src/storage/store.service';
import { compareSpoolWithPostgres, describeCheck } from '../support/spool-check';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const BOUND = 1024 ** 2;
const ingest = `INSERT INTO ingest_event (source, event_id, type, time, received_at, chassis, body) VALUES ('p', ?, 'upcall', 't', 't', 'hv1', ?)`;
const body = (tag: string, n: number) => JSON.stringify({ tag, pad: tag[0].repeat(n) });

async function drain(s: StoreService): Promise<void> {
  for (let i = 0; i < 100; i++) if ((await s.shipper!.shipSome()) === 0) return;
  throw new Error('the shipper did not drain in 100 batches');
}

describe('logged rows under the byte bound while new rows keep coming (real PostgreSQL)', () => {
  it('a logged row larger than what the new ranges leave still ships, and the rows behind it', async () => {
    const url = await spools.pg().database('ship_bytes_turns');
    const s = await storeOn(url, newSpool(), { LIVETRACE_SHIP_BATCH_BYTES: String(BOUND) });
    await s.shipper!.stop();
    const [big, small] = await s.writer.submit((tx) => [1, 2].map((i) => Number(tx.stmt(ingest).run(`old${i}`, body(`a${i}`, 10)).lastInsertRowid)));
    await drain(s);
    // Both changed after they shipped (logged): one of 600 kB, one small behind it.
    await s.writer.submit((tx) => {
      tx.stmt('UPDATE ingest_event SET body = ? WHERE id = ?').run(body('big', 600_000), big);
      tx.stmt('UPDATE ingest_event SET body = ? WHERE id = ?').run(body('small', 10), small);
    });
    // The agent goes on writing: 500 kB of new rows before each batch (600 + 500 kB pass the bound).
    for (let i = 0; i < 10; i++) {
      await s.writer.submit((tx) => tx.stmt(ingest).run(`new${i}`, body(`n${i}`, 500_000)));
      await s.shipper!.shipSome();
    }
    const tags = await pgRows(url, `SELECT id, body::json ->> 'tag' AS tag FROM ingest_event WHERE id = ANY($1::bigint[]) ORDER BY id`, [[big, small]]);
    expect(tags.map((r) => r.tag)).toEqual(['big', 'small']);
    await drain(s);
    const check = await compareSpoolWithPostgres(s.writer.db.name, url);
    if (check.problems.length) console.log(describeCheck(check));
    expect(check.problems).toEqual([]);
    expect(check.waiting).toBe(0);
  });
});
