// synced() (read-your-writes: a POST answers once its rows are in PostgreSQL) waits until each marked
// table is shipped up to the highest row it held when asked. A newest row deleted before its range
// was claimed (path-recorder merges a packet's newer path into its older one) left that height out of
// reach: nothing above the shipped mark was left to claim, so the call waited out its timeout and the
// POST answered 503 with nothing waiting, until some later row passed that height.
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const newPath = `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-05T00:00:00Z', 'u0', '{}')`;

describe('synced() and rows gone before they were shipped (real PostgreSQL)', () => {
  it('the newest row deleted (a merged path) before its range was claimed: synced() resolves once everything the spool holds is in PostgreSQL', async () => {
    const url = await spools.pg().database('synced_gone');
    const s = await storeOn(url, newSpool());
    await s.writer.submit((tx) => tx.stmt(newPath).run());
    await s.shipper!.synced(30_000);
    const [p1, p2] = await s.writer.submit((tx) => [Number(tx.stmt(newPath).run().lastInsertRowid), Number(tx.stmt(newPath).run().lastInsertRowid)]);
    const synced = s.shipper!.synced(5_000).then(
      () => 'synced',
      (e: Error) => e.message,
    );
    // Queued before the shipper's claim (its timer has not fired yet): p2 goes first.
    await s.writer.submit((tx) => tx.stmt('DELETE FROM path WHERE id = ?').run(p2));
    expect(await synced).toBe('synced');
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path WHERE id <= $1', [p1])).toEqual([{ n: 2 }]);
    expect(s.shipper!.state.backlog).toBe(0);
  });
});
