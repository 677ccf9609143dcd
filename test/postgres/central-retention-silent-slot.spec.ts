// PostgreSQL's own retention prunes a slot's ended lifetimes only up to what its shipper last said was
// traced (writer_slot.traced_through / traced_flow_id, storage/ship-synced.ts). A slot gone for good
// (its agent decommissioned) says nothing more: what it shipped after its last word was kept for ever.
// Now a slot not heard from for LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS holds nothing back.
// Real shipper (batches stepped by hand), real PostgreSQL; the round's clock is moved, not the rows.
import { centralRound } from '../../src/retention/central-retention-store';
import type { StoreService } from '../../src/storage/store.service';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const HOUR = 3_600_000;
const NOW = Date.now();
const ago = (ms: number) => new Date(NOW - ms).toISOString();

const lifetime = (s: StoreService, i: number, removedAt: string) =>
  s.writer.submit((tx) =>
    Number(
      tx
        .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, '0', 'in_port(1)', 'drop', 1, 1, 'poller')`)
        .run(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, removedAt, removedAt, removedAt).lastInsertRowid,
    ),
  );

describe('PostgreSQL retention and a writer slot gone for good (real shipper, real PostgreSQL)', () => {
  it('what a silent slot shipped after its last word is pruned once it has been silent past the bound', async () => {
    const url = await spools.pg().database('central_silent_slot');
    const s = await spools.storeOn(url, undefined, { LIVETRACE_SHIP_BATCH: '1' });
    await s.shipper!.stop(); // its batches are stepped by hand below, then none: the agent is gone
    const old = ago(48 * HOUR);
    const ids = [await lifetime(s, 0, old), await lifetime(s, 1, old)];
    // The shipper tells PostgreSQL at most once a second (ship-synced.ts NOTE_EVERY_MS): the stop's look just did.
    await new Promise((r) => setTimeout(r, 1100));
    await s.shipper!.shipSome(); // a moment taken (the first two lifetimes), the first shipped
    ids.push(await lifetime(s, 2, old), await lifetime(s, 3, old));
    await s.shipper!.shipSome(); // the second: all the moment held is shipped, PostgreSQL told
    await s.shipper!.shipSome(); // the third ships; the agent is decommissioned before it says more
    const slot = await pgRows(url, 'SELECT traced_flow_id FROM writer_slot WHERE slot = $1', [s.central!.slot]);
    expect(Number(slot[0].traced_flow_id)).toBe(ids[1]);
    const kept = async () => (await pgRows(url, 'SELECT id FROM datapath_flow ORDER BY id')).map((r) => Number(r.id));
    expect(await kept()).toEqual(ids.slice(0, 3));

    const cfg = { days: 1, keep: 0, silentSlotHours: 24 };
    // Heard from just now: the third may still have traces on their way, it stays.
    await centralRound(s.central!.pool, cfg, NOW);
    expect(await kept()).toEqual([ids[2]]);
    // A day and more later, never heard from again: it goes like any other.
    await centralRound(s.central!.pool, cfg, NOW + 25 * HOUR);
    expect(await kept()).toEqual([]);
  });
});
