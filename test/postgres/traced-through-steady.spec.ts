// writer_slot.traced_through / traced_flow_id (storage/ship-synced.ts) tell PostgreSQL's retention up
// to where a spool's lifetimes have their citing traces in PostgreSQL; nothing of the slot past them is
// pruned. They are set once everything the spool held at a moment has left it. The moment was taken
// afresh before every batch and judged after that same batch: an agent whose backlog stays over one
// batch (it writes about as fast as it ships) never had a moment shipped within one batch, so PostgreSQL
// never heard, and kept its chassis's lifetimes for good. Real shipper, real PostgreSQL.
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

describe('traced_through with a steady backlog (real shipper, real PostgreSQL)', () => {
  it('advances while the backlog stays over one batch', async () => {
    const url = await spools.pg().database('traced_steady');
    const s = await spools.storeOn(url, undefined, { LIVETRACE_SHIP_BATCH: '1' });
    await s.shipper!.stop(); // its batches are stepped by hand below
    let i = 0;
    const lifetime = () =>
      s.writer.submit((tx) =>
        Number(
          tx
            .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, '0', 'in_port(1)', 'drop', 1, 1, 'poller')`)
            .run(`00000000-0000-4000-8000-${String(++i).padStart(12, '0')}`, new Date().toISOString(), new Date().toISOString(), new Date().toISOString()).lastInsertRowid,
        ),
      );
    const first = await lifetime();
    await lifetime();
    // Each batch ships one lifetime while the agent writes one more: two always wait, every one ships
    // in turn. A second apart: the shipper tells PostgreSQL at most once a second (NOTE_EVERY_MS).
    for (let k = 0; k < 6; k++) {
      await new Promise((r) => setTimeout(r, 1100));
      await lifetime();
      await s.shipper!.shipSome();
    }
    const shipped = await pgRows(url, 'SELECT count(*)::int AS n FROM datapath_flow');
    expect(shipped[0].n).toBe(6);
    const slot = await pgRows(url, 'SELECT traced_flow_id FROM writer_slot WHERE slot = $1', [s.central!.slot]);
    // Lifetimes long in PostgreSQL are known traced: the first ones at least.
    expect(slot[0].traced_flow_id === null ? null : Number(slot[0].traced_flow_id)).toBeGreaterThanOrEqual(first);
  });
});
