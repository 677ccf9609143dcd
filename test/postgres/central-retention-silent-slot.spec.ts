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

  // heard_at is compared with the retention's clock: written with the agent's own clock, a live agent
  // whose clock runs two days behind read as silent, and what it shipped after its last traced_through
  // went while its citing traces were still on their way. PostgreSQL's clock says when it was heard.
  it("an agent whose clock runs behind is heard when PostgreSQL heard it: its last lifetime stays", async () => {
    const url = await spools.pg().database('central_silent_slot_skew');
    const s = await spools.storeOn(url, undefined, { LIVETRACE_SHIP_BATCH: '1' });
    const real = Date.now.bind(Date);
    const behind = jest.spyOn(Date, 'now').mockImplementation(() => real() - 48 * HOUR); // the agent's clock
    const ids: number[] = [];
    try {
      await s.shipper!.stop();
      const old = ago(72 * HOUR);
      ids.push(await lifetime(s, 0, old), await lifetime(s, 1, old));
      await new Promise((r) => setTimeout(r, 1100)); // NOTE_EVERY_MS, as above
      await s.shipper!.shipSome();
      ids.push(await lifetime(s, 2, old));
      await s.shipper!.shipSome(); // PostgreSQL told: traced through the first two, heard now
      await s.shipper!.shipSome(); // the third ships, its traces still to come
      expect((await pgRows(url, 'SELECT id FROM datapath_flow ORDER BY id')).map((r) => Number(r.id))).toEqual(ids);
    } finally {
      behind.mockRestore();
    }
    await centralRound(s.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, NOW);
    expect((await pgRows(url, 'SELECT id FROM datapath_flow ORDER BY id')).map((r) => Number(r.id))).toEqual([ids[2]]);
  });

  // traced_through is the agent's clock (it is compared with the removed_at the agent wrote), and it counts
  // as heard too (an agent before heard_at sets only it): an agent whose clock ran three days ahead said
  // it was there until three days after PostgreSQL last heard it, so a decommissioned one held what it
  // shipped after its last word that much longer. PostgreSQL now bounds it by its own clock when it takes
  // it (LEAST(the agent's, now())): a lower traced_through is a weaker claim, still true.
  it('an agent whose clock runs ahead is silent a day after PostgreSQL last heard it, not a day after its clock', async () => {
    const url = await spools.pg().database('central_silent_slot_ahead');
    const s = await spools.storeOn(url, undefined, { LIVETRACE_SHIP_BATCH: '1' });
    const real = Date.now.bind(Date);
    const ahead = jest.spyOn(Date, 'now').mockImplementation(() => real() + 72 * HOUR); // the agent's clock
    const ids: number[] = [];
    try {
      await s.shipper!.stop();
      const old = ago(48 * HOUR);
      ids.push(await lifetime(s, 0, old), await lifetime(s, 1, old));
      await new Promise((r) => setTimeout(r, 1100)); // NOTE_EVERY_MS, as above
      await s.shipper!.shipSome();
      ids.push(await lifetime(s, 2, old));
      await s.shipper!.shipSome(); // PostgreSQL told: traced through the first two
      await s.shipper!.shipSome(); // the third ships; the agent is decommissioned before it says more
    } finally {
      ahead.mockRestore();
    }
    const cfg = { days: 1, keep: 0, silentSlotHours: 24 };
    await centralRound(s.central!.pool, cfg, NOW);
    expect((await pgRows(url, 'SELECT id FROM datapath_flow ORDER BY id')).map((r) => Number(r.id))).toEqual([ids[2]]);
    // 25 hours on by PostgreSQL's clock (two days before the agent's traced_through): silent, it goes.
    await centralRound(s.central!.pool, cfg, NOW + 25 * HOUR);
    expect((await pgRows(url, 'SELECT id FROM datapath_flow ORDER BY id')).map((r) => Number(r.id))).toEqual([]);
    // What it says it traced through is no later than PostgreSQL's clock when it said it.
    const [slot] = await pgRows(url, `SELECT traced_through <= heard_at AS bounded FROM writer_slot WHERE slot = $1`, [s.central!.slot]);
    expect(slot.bounded).toBe(true);
  });

  // While a backlog keeps traced_through where it is, the shipper still says it is there once a minute
  // (ship-synced.ts HEARD_EVERY_MS): a slot catching up after an outage is not silent. The shipper's
  // clock is set by hand (Date.now), the batches stepped by hand: no waiting on time.
  it('a slot shipping a backlog is heard once a minute of its clock, not at every batch', async () => {
    const url = await spools.pg().database('central_silent_slot_backlog');
    const s = await spools.storeOn(url, undefined, { LIVETRACE_SHIP_BATCH: '1' });
    let clock = Date.now();
    const clocked = jest.spyOn(Date, 'now').mockImplementation(() => clock);
    const heard = async () => (await pgRows(url, 'SELECT heard_at FROM writer_slot WHERE slot = $1', [s.central!.slot]))[0].heard_at;
    const forget = () => pgRows(url, 'UPDATE writer_slot SET heard_at = NULL WHERE slot = $1', [s.central!.slot]);
    try {
      await s.shipper!.stop(); // nothing waiting: told now
      for (let i = 0; i < 5; i++) await lifetime(s, i, ago(48 * HOUR));
      clock += 2_000;
      await s.shipper!.shipSome(); // a moment of five taken, one shipped: heard
      expect(await heard()).not.toBeNull();
      await forget();
      clock += 30_000;
      await s.shipper!.shipSome(); // half a minute on: not again
      expect(await heard()).toBeNull();
      clock += 31_000;
      await s.shipper!.shipSome(); // a minute on, traced_through still waiting on the backlog: heard
      expect(await heard()).not.toBeNull();
      expect((await pgRows(url, 'SELECT count(*)::int AS n FROM datapath_flow'))[0].n).toBe(3);
    } finally {
      clocked.mockRestore();
    }
  });
});
