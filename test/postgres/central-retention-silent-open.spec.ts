// A lifetime that never ended goes with PostgreSQL's retention only once its agent is gone for good.
// An agent decommissioned leaves its live lifetimes open in PostgreSQL: they were never pruned (only an
// ended lifetime was), and the API listed them as live flows of that chassis for ever. Now a writer
// slot silent past LIVETRACE_CENTRAL_RETENTION_SILENT_SLOT_HOURS has its open lifetimes cut by their
// last_seen like its ended ones (uncited, with their recirculation edges); a slot heard from keeps its
// own, however old. Real shippers, real PostgreSQL; the slot's silence is its heard_at moved back.
import { Logger } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { PoolClient } from 'pg';
import { centralRound } from '../../src/retention/central-retention-store';
import { pruneCentralUntraced } from '../../src/retention/central-untraced-store';
import { CentralHealthIndicator } from '../../src/health/central.health';
import { MetricsService } from '../../src/metrics/metrics.service';
import type { StoreService } from '../../src/storage/store.service';
import { pgRows, tracedUp, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';
import { withClockOff } from '../support/clock';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const HOUR = 3_600_000;
const NOW = Date.now();
const ago = (ms: number) => new Date(NOW - ms).toISOString();

/** A lifetime as the poller writes one, still installed (removed_at NULL), last seen `lastSeen`. */
const open = (s: StoreService, chassis: string, i: number, lastSeen: string) =>
  s.writer.submit((tx) =>
    Number(
      tx
        .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES (?, ?, ?, ?, NULL, '0', 'in_port(1)', 'recirc(0x1)', 1, 1, 'poller')`)
        .run(chassis, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, lastSeen, lastSeen).lastInsertRowid,
    ),
  );
const edge = (s: StoreService, parent: number, child: number) =>
  s.writer.submit((tx) => void tx.stmt('INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)').run(parent, child, '0x1'));

/** Two agents, each with two open lifetimes two days old linked by an edge, all in PostgreSQL and told traced. */
async function twoAgents(db: string) {
  const url = await spools.pg().database(db);
  const gone = await spools.storeOn(url, undefined, { LIVETRACE_CHASSIS: 'hv-gone' });
  const live = await spools.storeOn(url, undefined, { LIVETRACE_CHASSIS: 'hv-live' });
  const old = ago(48 * HOUR);
  const goneIds = [await open(gone, 'hv-gone', 1, old), await open(gone, 'hv-gone', 2, old)];
  const liveIds = [await open(live, 'hv-live', 3, old), await open(live, 'hv-live', 4, old)];
  await edge(gone, goneIds[0], goneIds[1]);
  await edge(live, liveIds[0], liveIds[1]);
  for (const s of [gone, live]) await tracedUp(s, url);
  await gone.shipper!.stop(); // decommissioned: it says nothing more
  // ...for 30 hours, as far as PostgreSQL knows (both of what it counts as heard).
  await pgRows(url, 'UPDATE writer_slot SET heard_at = $2, traced_through = $2 WHERE slot = $1', [gone.central!.slot, ago(30 * HOUR)]);
  const flows = async () => (await pgRows(url, 'SELECT id FROM datapath_flow ORDER BY id')).map((r) => Number(r.id));
  const edges = async () => (await pgRows(url, 'SELECT parent_id FROM recirc_edge ORDER BY parent_id')).map((r) => Number(r.parent_id));
  return { url, gone, live, goneIds, liveIds, flows, edges };
}

describe('PostgreSQL retention and the open lifetimes of a writer slot gone for good (real shippers, real PostgreSQL)', () => {
  it('prunes the silent slot’s old open lifetimes and their edges, keeps the live slot’s as old', async () => {
    const { live, goneIds, liveIds, flows, edges } = await twoAgents('central_silent_open');
    expect(await flows()).toEqual([...goneIds, ...liveIds]);
    await live.shipper!.synced(); // the live one is heard (its shipper runs)

    // Without a silence bound nothing is known gone: every open lifetime stays.
    await centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 0 }, NOW);
    expect(await flows()).toEqual([...goneIds, ...liveIds]);

    const r = await centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, NOW);
    expect(await flows()).toEqual(liveIds);
    expect(await edges()).toEqual([liveIds[0]]);
    expect(r.datapathFlows).toBe(2);
  });

  it('keeps a silent slot’s open lifetime last seen inside the age limit', async () => {
    const { url, gone, live, goneIds, liveIds, flows } = await twoAgents('central_silent_open_recent');
    // The agent saw its second lifetime an hour before it went silent: 31 hours ago, under the 2-day limit.
    await pgRows(url, 'UPDATE datapath_flow SET last_seen = $2 WHERE id = $1', [goneIds[1], ago(31 * HOUR)]);
    await centralRound(live.central!.pool, { days: 2, keep: 0, silentSlotHours: 24 }, NOW + HOUR);
    expect(await flows()).toEqual([goneIds[1], ...liveIds]);
    expect((await pgRows(url, 'SELECT slot FROM writer_slot WHERE slot = $1', [gone.central!.slot])).length).toBe(1);
  });

  // Every process with PostgreSQL may win the round's lock, an agent among them; heard_at is PostgreSQL's
  // clock (ship-synced.ts), so the bound must be too: by the round's own clock, one running 3 days ahead
  // took every live slot for silent and pruned the live agents' open lifetimes.
  it('a round whose clock runs ahead takes no live slot for gone', async () => {
    const { live, liveIds, flows } = await twoAgents('central_silent_open_ahead');
    await live.shipper!.synced();
    // The round's process's clock.
    await withClockOff(72 * HOUR, () => centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, Date.now()));
    expect(await flows()).toEqual(liveIds);
  });

  // The walk picks a batch, then takes it under FOR UPDATE in its own statement: an agent back in between
  // (its batch shipped a lifetime seen just now, its heard_at not yet told) kept that lifetime open and
  // silent, and it went despite its last_seen. The re-check takes the cut too.
  it('keeps a lifetime whose last_seen moved past the cut between the walk and its deletion', async () => {
    const { url, live, goneIds, liveIds, flows } = await twoAgents('central_silent_open_race');
    const c = await live.central!.pool.connect();
    let back = false;
    const raced = {
      query: async (text: string, values?: unknown[]) => {
        if (!back && text.includes('FOR UPDATE OF f') && text.includes('removed_at IS NULL')) {
          back = true;
          await pgRows(url, 'UPDATE datapath_flow SET last_seen = $2 WHERE id = $1', [goneIds[0], new Date().toISOString()]);
        }
        return c.query(text, values);
      },
    } as unknown as PoolClient;
    try {
      await pruneCentralUntraced(raced, { datapathFlow: ago(24 * HOUR), upcall: null, crossCheck: null, ingestEvent: null, heardSince: ago(24 * HOUR) }, { batch: 500 });
    } finally {
      c.release();
    }
    expect(back).toBe(true);
    expect(await flows()).toEqual([goneIds[0], ...liveIds]);
  });

  // An agent silent past the bound was not gone after all (a partition of a day): what it ships next of a
  // lifetime PostgreSQL pruned is a whole row (ship-sql.ts upsert, INSERT … ON CONFLICT DO UPDATE), so the
  // lifetime is there again, as the agent holds it.
  it('an agent back after its open lifetimes were pruned ships them again whole', async () => {
    const { url, gone, live, goneIds, liveIds, flows } = await twoAgents('central_silent_open_back');
    await centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, NOW);
    expect(await flows()).toEqual(liveIds);
    // Back: its poller saw the first lifetime removed.
    const end = new Date().toISOString();
    await gone.writer.submit((tx) => void tx.stmt('UPDATE datapath_flow SET removed_at = ?, last_seen = ? WHERE id = ?').run(end, end, goneIds[0]));
    while ((await gone.shipper!.shipSome()) > 0);
    expect(await flows()).toEqual([goneIds[0], ...liveIds]);
    expect(await pgRows(url, 'SELECT chassis, ufid, removed_at, key FROM datapath_flow WHERE id = $1', [goneIds[0]])).toEqual([
      { chassis: 'hv-gone', ufid: '00000000-0000-4000-8000-000000000001', removed_at: end, key: 'in_port(1)' },
    ]);
  });

  // Back after the prune, the agent ships a trace of a lifetime it never changed since: only the trace
  // is new to PostgreSQL, and it pointed at a row gone (`GET /traces?ufid=` missed it, the audits too).
  // The prune notes what it took (pruned_lifetime); the agent's next word to PostgreSQL (ship-synced.ts)
  // hears of it and ships those lifetimes again whole, with their edges (ship-pruned.ts).
  it('a trace shipped after its lifetime was pruned finds it again (?ufid=), with its recirculation edges', async () => {
    const { url, gone, live, goneIds, liveIds, flows, edges } = await twoAgents('central_silent_open_trace');
    await centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, NOW);
    expect(await flows()).toEqual(liveIds);
    await gone.writer.submit(
      (tx) =>
        void tx
          .stmt(
            `INSERT INTO trace (chassis, created_at, datapath_flow_id, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
             VALUES ('hv-gone', ?, ?, 'trace', '0x0', 'in_port=1', 'f', 'm', 'drop', '[]', '{"kind":"drop"}', 0, ?)`,
          )
          .run(new Date().toISOString(), goneIds[1], Buffer.alloc(0)),
    );
    const byUfid = () => pgRows(url, 'SELECT t.id FROM trace t WHERE t.datapath_flow_id IN (SELECT id FROM datapath_flow WHERE ufid = $1)', ['00000000-0000-4000-8000-000000000002']);
    while ((await gone.shipper!.shipSome()) > 0);
    expect(await pgRows(url, 'SELECT chassis FROM trace WHERE datapath_flow_id = $1', [goneIds[1]])).toEqual([{ chassis: 'hv-gone' }]);
    // The shipper's own loop, as after the agent's return (its heard_at told once a second).
    await waitFor('the trace found by its lifetime’s ufid', async () => {
      while ((await gone.shipper!.shipSome()) > 0);
      return (await byUfid()).length === 1;
    }, 15_000);
    expect(await flows()).toEqual([...goneIds, ...liveIds]);
    expect(await edges()).toEqual([goneIds[0], liveIds[0]]);
    expect(await pgRows(url, 'SELECT removed_at, last_seen, key FROM datapath_flow WHERE id = $1', [goneIds[1]])).toEqual([
      { removed_at: null, last_seen: ago(48 * HOUR), key: 'in_port(1)' },
    ]);
  });

  // Both ends of an edge changed after the prune, each shipped again whole (ship-sql.ts upsert, by its
  // ship_log entry): the lifetimes came back, their edge (written once, by its child's range) did not.
  it('lifetimes changed after the prune come back with their recirculation edges', async () => {
    const { gone, live, goneIds, liveIds, flows, edges } = await twoAgents('central_silent_open_edges');
    await centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, NOW);
    expect(await edges()).toEqual([liveIds[0]]);
    const end = new Date().toISOString();
    await gone.writer.submit((tx) => void tx.stmt('UPDATE datapath_flow SET removed_at = ?, last_seen = ? WHERE id IN (?, ?)').run(end, end, goneIds[0], goneIds[1]));
    await waitFor('the pruned edge shipped again', async () => {
      while ((await gone.shipper!.shipSome()) > 0);
      return (await edges()).length === 2;
    }, 15_000);
    expect(await flows()).toEqual([...goneIds, ...liveIds]);
    expect(await edges()).toEqual([goneIds[0], liveIds[0]]);
  });

  // A copy of this spool started since renamed the slot's claim (slot-claim.ts): nothing more ships
  // from this one, whose rows under the same ids may differ from the copy's. A batch checks it
  // (stillOurs); the re-ship wrote the pruned lifetimes from the stale spool all the same. Its word on
  // the slot is not taken either (ship-synced.ts: under its own name only; before, it set the copy's
  // heard_at and traced_through, and a slot given back, slot-take.ts, had its new spool's lifetimes
  // taken for traced): it is not heard, and never learns of the pruned lifetimes.
  it('a spool whose claim a copy took since ships no pruned lifetime again', async () => {
    const { url, gone, live, liveIds, flows } = await twoAgents('central_silent_open_copy');
    await centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, NOW);
    await pgRows(url, `UPDATE writer_slot SET writer = 'agent@copy:hv-gone#00000000' WHERE slot = $1`, [gone.central!.slot]);
    const slotRow = () => pgRows(url, 'SELECT writer, heard_at, traced_through, traced_flow_id FROM writer_slot WHERE slot = $1', [gone.central!.slot]);
    const before = await slotRow();
    // Nothing to ship: the look finds nothing and the slot's update is sent (its clock a minute on: one is due).
    await withClockOff(60_000, () => gone.shipper!.shipSome());
    expect(await slotRow()).toEqual(before);
    expect(await flows()).toEqual(liveIds);
    // Kept for the copy that holds the slot now.
    expect((await pgRows(url, 'SELECT id FROM pruned_lifetime')).length).toBe(2);
  });

  // The re-ship is tried again at each update of the slot (about once a second) while PostgreSQL notes
  // pruned lifetimes of it: one that kept failing was caught and dropped without a word, for ever, and
  // traces shipped meanwhile pointed at lifetimes PostgreSQL lacked. Now its first failure is said, with
  // the slot and the error, the next ones only counted (/metrics, /health), and its success said too.
  it('a re-ship that keeps failing is said once with its slot and error, counted, and its recovery said', async () => {
    const { url, gone, live, goneIds, liveIds, flows } = await twoAgents('central_silent_open_failing');
    await centralRound(live.central!.pool, { days: 1, keep: 0, silentSlotHours: 24 }, NOW);
    expect(await flows()).toEqual(liveIds);
    // A refusal of PostgreSQL's own, as a permission or a constraint would be: the re-ship's transaction fails at its end.
    await pgRows(url, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'pruned_lifetime is read-only here'; END $$`);
    await pgRows(url, 'CREATE TRIGGER refuse BEFORE DELETE ON pruned_lifetime FOR EACH ROW EXECUTE FUNCTION refuse()');
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const log = jest.spyOn(Logger.prototype, 'log');
    const said = (spy: jest.SpyInstance) => spy.mock.calls.map(([m]) => String(m)).filter((m) => m.includes('writer slot'));
    try {
      await waitFor('three failed re-ships', async () => {
        await gone.shipper!.shipSome();
        return gone.shipper!.state.reshipFailures >= 3;
      }, 15_000);
      expect(said(warn)).toEqual([expect.stringContaining(`from writer slot ${gone.central!.slot} while it was silent could not be shipped again`)]);
      expect(said(warn)[0]).toContain('pruned_lifetime is read-only here');
      // What /metrics and /health show of it (central.health.ts, as the app builds it).
      const metrics = new MetricsService();
      const central = new CentralHealthIndicator(gone, new HealthIndicatorService(), metrics);
      const failures = async () => (await metrics.registry.getSingleMetric('livetrace_ship_reship_failures_total')!.get()).values[0].value;
      expect(await failures()).toBe(gone.shipper!.state.reshipFailures);
      expect(await failures()).toBeGreaterThanOrEqual(3);
      expect((await central.check()).central).toMatchObject({ reshipError: expect.stringContaining('pruned_lifetime is read-only here') });
      expect(await flows()).toEqual(liveIds);
      await pgRows(url, 'DROP TRIGGER refuse ON pruned_lifetime');
      await waitFor('the pruned lifetimes shipped again', async () => {
        await gone.shipper!.shipSome();
        return (await flows()).length === 4;
      }, 15_000);
      expect(await flows()).toEqual([...goneIds, ...liveIds]);
      expect(gone.shipper!.state.reshipError).toBeNull();
      expect((await central.check()).central).not.toHaveProperty('reshipError');
      expect(said(log)).toEqual([expect.stringMatching(new RegExp(`from writer slot ${gone.central!.slot} are shipped again, after \\d+ failed attempts in all`))]);
      expect(said(warn)).toHaveLength(1);
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });
});
