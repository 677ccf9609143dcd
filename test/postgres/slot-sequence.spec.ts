// A spool's ids are never given twice. At every start enterSlot set each id sequence to the
// highest id of the slot's own rows (ownSequence), lowering it below ids already given when the newest
// rows were gone: with PostgreSQL keeping a longer history than the spool (LIVETRACE_CENTRAL_RETENTION_*:
// the spool prunes locally, muted, PostgreSQL keeps the rows), a quiet agent that had pruned all its
// traces and was restarted gave its next rows the ids of rows PostgreSQL still held, and the shipper
// overwrote them (an upsert by key). Without a central retention, ids stopped growing with time.
import { SLOT_BITS } from '../../src/storage/spool';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const newPath = (verdict: string) => `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-05T00:00:00Z', 'u0', '${verdict}')`;

describe('a spool’s id sequences across a restart (real PostgreSQL)', () => {
  it('rows pruned locally (PostgreSQL keeps them), then a restart: the next row takes a new id, PostgreSQL’s rows stay as they were', async () => {
    const url = await spools.pg().database('slot_sequence');
    const file = newSpool();
    const s = await storeOn(url, file);
    const ids = await s.writer.submit((tx) => ['{"old":1}', '{"old":2}', '{"old":3}'].map((v) => Number(tx.stmt(newPath(v)).run().lastInsertRowid)));
    await s.shipper!.synced(30_000);
    // The spool's own retention: deleted locally with the triggers muted, PostgreSQL keeps them.
    await s.writer.submit((tx) => {
      tx.stmt('INSERT OR IGNORE INTO ship_mute ("on") VALUES (1)').run();
      tx.stmt('DELETE FROM path').run();
      tx.stmt('DELETE FROM ship_mute').run();
    });
    await s.onApplicationShutdown();

    const again = await storeOn(url, file);
    const next = await again.writer.submit((tx) => Number(tx.stmt(newPath('{"new":1}')).run().lastInsertRowid));
    await again.shipper!.synced(30_000);
    expect(Math.floor(next / 2 ** SLOT_BITS)).toBe(s.central!.slot);
    expect(next).toBeGreaterThan(ids[2]);
    expect((await pgRows(url, 'SELECT verdict FROM path ORDER BY id')).map((r) => r.verdict)).toEqual(['{"old":1}', '{"old":2}', '{"old":3}', '{"new":1}']);
  });
});
