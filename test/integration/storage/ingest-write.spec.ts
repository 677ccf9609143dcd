// Ingested events written through the stores on a real migrated SQLite file: the ledger keeps an
// event once per (source, id) and points at the row it made; datapath-flow events continue, split
// and close the producer's own lifetimes (actions_changed, a revalidator's DELETE, a removal).
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import type { EventV1 } from '../../../src/ingest/event-schema';
import { IngestStore } from '../../../src/ingest/ingest-store';
import { IngestStores, writeEvents } from '../../../src/ingest/ingest-write';
import type { StoreWriter } from '../../../src/storage/writer';
import { TraceStore } from '../../../src/traces/trace-store';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const UFID = '11111111-2222-4333-8444-555555555555';
const KEY = 'recirc_id(0x3),in_port(2),eth_type(0x0800),ipv4(frag=no)';

describe('ingest write', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let stores: IngestStores;
  let n = 0;

  const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, s)).toISOString();
  const send = (events: Array<Record<string, unknown>>, source = 'usdt') =>
    writer.submit((tx) =>
      writeEvents(
        tx,
        events.map((e) => ({ line: ++n, event: e as unknown as EventV1, source, chassis: 'hv1' })),
        at(59),
        stores,
      ),
    );
  const lifetimes = () =>
    db.prepare('SELECT id, key, actions, packets, last_seen, removed_at, removal_reason FROM datapath_flow ORDER BY id').all() as Array<Record<string, unknown>>;
  const refOf = (id: string) => (db.prepare('SELECT ref_id FROM ingest_event WHERE event_id = ?').get(id) as { ref_id: number | null }).ref_id;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-ingest-write-', { entities: true }));
    stores = { ledger: new IngestStore(), flows: new DatapathFlowStore({ db }), upcalls: new UpcallStore({ db }), traces: new TraceStore({ db, writer }) };
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  it("continues, splits and closes the producer's lifetimes, and points each event at the lifetime it touched", async () => {
    const out = await send([
      { type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3', packets: 1 },
      { type: 'ukey_created', id: 'c2', time: at(2), ufid: UFID, key: KEY, actions: '3', packets: 5 },
      { type: 'ukey_updated', id: 'u1', time: at(3), ufid: UFID, actions: 'drop' },
      { type: 'ukey_revalidated', id: 'r1', time: at(4), ufid: UFID, result: 'KEEP' },
      { type: 'ukey_revalidated', id: 'r2', time: at(5), ufid: UFID, result: 'DELETE', reason: 'FLOW_IDLE' },
      { type: 'ukey_removed', id: 'x1', time: at(6), ufid: UFID },
    ]);
    expect(out).toEqual({ stored: 6, duplicates: 0 });
    const [first, second] = lifetimes();
    expect(first).toMatchObject({ key: KEY, actions: '3', packets: 5, last_seen: at(2), removed_at: at(3), removal_reason: 'actions_changed' });
    expect(second).toMatchObject({ key: KEY, actions: 'drop', last_seen: at(4), removed_at: at(5), removal_reason: 'flow_idle' });
    expect(lifetimes()).toHaveLength(2);
    expect(['c1', 'c2', 'u1', 'r1', 'r2', 'x1'].map(refOf)).toEqual([first.id, first.id, second.id, second.id, second.id, null]);
  });

  it('events out of order: a late removal or install ends or adds the earlier lifetime, never the one that began after it', async () => {
    // Real order: install A (1 s), removal (2 s), install B (3 s), removal of B (6 s). Heard: A, B, B's removal, then A's removal late.
    await send([
      { type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3' },
      { type: 'ukey_created', id: 'c2', time: at(3), ufid: UFID, key: KEY, actions: 'drop' },
    ]);
    await send([{ type: 'ukey_removed', id: 'x1', time: at(2), ufid: UFID, reason: 'FLOW_IDLE' }]);
    let [a, b] = lifetimes();
    expect(a).toMatchObject({ actions: '3', removed_at: at(2), removal_reason: 'flow_idle' });
    expect(b).toMatchObject({ actions: 'drop', removed_at: null }); // B is still installed
    expect(refOf('x1')).toBe(a.id);
    await send([{ type: 'ukey_removed', id: 'x2', time: at(6), ufid: UFID }]);
    await send([{ type: 'ukey_updated', id: 'u1', time: at(4), ufid: UFID, packets: 9 }]); // late, inside B
    [a, b] = lifetimes();
    expect(b).toMatchObject({ removed_at: at(6), removal_reason: 'removed', last_seen: at(4) });
    expect(lifetimes()).toHaveLength(2);
  });

  it('events out of order: an install heard after a later one of other actions is an earlier, ended lifetime', async () => {
    await send([{ type: 'ukey_created', id: 'c2', time: at(3), ufid: UFID, key: KEY, actions: 'drop' }]);
    await send([{ type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3' }]);
    await send([{ type: 'ukey_created', id: 'c0', time: at(0), ufid: UFID, key: KEY, actions: '3' }]);
    const rows = db.prepare('SELECT actions, first_seen, removed_at, removal_reason FROM datapath_flow ORDER BY first_seen').all();
    expect(rows).toEqual([
      { actions: '3', first_seen: at(0), removed_at: at(3), removal_reason: 'actions_changed' },
      { actions: 'drop', first_seen: at(3), removed_at: null, removal_reason: null },
    ]);
    // Never a lifetime that ends before it begins.
    expect(db.prepare('SELECT COUNT(*) AS n FROM datapath_flow WHERE removed_at < first_seen').get()).toEqual({ n: 0 });
  });

  it('events out of order: a late install before a lifetime already ended is ended too, and the one before it ends where it begins (review of c766aa9)', async () => {
    // Heard: install B (drop, 3 s), its removal (4 s), then A's install (1 s) late: A was stored live
    // (removed_at NULL) and answered for every time after, overlapping B.
    await send([
      { type: 'ukey_created', id: 'c2', time: at(3), ufid: UFID, key: KEY, actions: 'drop' },
      { type: 'ukey_removed', id: 'x2', time: at(4), ufid: UFID },
    ]);
    await send([{ type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3' }]);
    const order = () => db.prepare('SELECT actions, first_seen, removed_at, removal_reason FROM datapath_flow ORDER BY first_seen').all();
    expect(order()).toEqual([
      { actions: '3', first_seen: at(1), removed_at: at(3), removal_reason: 'actions_changed' },
      { actions: 'drop', first_seen: at(3), removed_at: at(4), removal_reason: 'removed' },
    ]);
    // A late install of B's actions at 2 s is B seen earlier; A, in force until then, ends at 2 s.
    await send([{ type: 'ukey_created', id: 'c3', time: at(2), ufid: UFID, key: KEY, actions: 'drop' }]);
    expect(order()).toEqual([
      { actions: '3', first_seen: at(1), removed_at: at(2), removal_reason: 'actions_changed' },
      { actions: 'drop', first_seen: at(2), removed_at: at(4), removal_reason: 'removed' },
    ]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM datapath_flow WHERE removed_at IS NULL').get()).toEqual({ n: 0 });
  });

  it("events out of order: a late update inside a lifetime does not take its counters back to what they were then", async () => {
    // Real order: installed (1 s), 10 packets (2 s), 20 packets (3 s). Heard: the install, 3 s, then 2 s late.
    await send([
      { type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3', packets: 0, bytes: 0, used: 'never' },
      { type: 'ukey_updated', id: 'u2', time: at(3), ufid: UFID, packets: 20, bytes: 2000, used: '0.100s' },
    ]);
    await send([{ type: 'ukey_updated', id: 'u1', time: at(2), ufid: UFID, packets: 10, bytes: 1000, used: '0.500s' }]);
    // Same for an install heard again late, with the counters it had then.
    await send([{ type: 'ukey_created', id: 'c2', time: at(2), ufid: UFID, key: KEY, actions: '3', packets: 5, bytes: 500 }]);
    const rows = db.prepare('SELECT packets, bytes, used, first_seen, last_seen, removed_at FROM datapath_flow').all();
    expect(rows).toEqual([{ packets: 20, bytes: 2000, used: '0.100s', first_seen: at(1), last_seen: at(3), removed_at: null }]);
  });

  it('counters that fall under one UFID end the lifetime (counters_reset) and begin the next, as the poller does', async () => {
    // Real order: installed (1 s), 100 packets (2 s), deleted and installed again with the same key
    // and actions, its removal lost (a USDT buffer overrun), 5 packets (4 s), reinstalled again (6 s).
    await send([
      { type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3', packets: 0, bytes: 0 },
      { type: 'ukey_updated', id: 'u1', time: at(2), ufid: UFID, packets: 100, bytes: 10000 },
      { type: 'ukey_updated', id: 'u2', time: at(4), ufid: UFID, packets: 5, bytes: 500 },
      { type: 'ukey_created', id: 'c2', time: at(6), ufid: UFID, key: KEY, actions: '3', packets: 1, bytes: 100 },
    ]);
    const rows = db.prepare('SELECT key, actions, packets, bytes, first_seen, removed_at, removal_reason FROM datapath_flow ORDER BY id').all();
    expect(rows).toEqual([
      { key: KEY, actions: '3', packets: 100, bytes: 10000, first_seen: at(1), removed_at: at(4), removal_reason: 'counters_reset' },
      { key: KEY, actions: '3', packets: 5, bytes: 500, first_seen: at(4), removed_at: at(6), removal_reason: 'counters_reset' },
      { key: KEY, actions: '3', packets: 1, bytes: 100, first_seen: at(6), removed_at: null, removal_reason: null },
    ]);
    const ids = lifetimes().map((r) => r.id);
    expect(['u1', 'u2', 'c2'].map(refOf)).toEqual(ids);
  });

  describe('a removal heard before the install it ends (review: it was dropped, and the lifetime stayed live until the idle close)', () => {
    const U2 = '11111111-2222-4333-8444-666666666666';
    const U3 = '11111111-2222-4333-8444-777777777777';
    const rows = (ufid = UFID) =>
      db.prepare('SELECT id, actions, first_seen, removed_at, removal_reason FROM datapath_flow WHERE ufid = ? ORDER BY first_seen').all(ufid) as Array<Record<string, unknown>>;

    it('is remembered, and ends the install heard after it at its own time when it came after that install', async () => {
      await send([
        { type: 'ukey_removed', id: 'x1', time: at(5), ufid: UFID, reason: 'FLOW_IDLE' },
        { type: 'ukey_revalidated', id: 'r2', time: at(9), ufid: U2, result: 'DELETE', reason: 'FLOW_LIMIT' },
        { type: 'ukey_removed', id: 'x3', time: at(1), ufid: U3 }, // before its install: about an earlier, unseen lifetime
      ]);
      expect(lifetimes()).toEqual([]);
      await send([
        { type: 'ukey_created', id: 'c1', time: at(2), ufid: UFID, key: KEY, actions: '3' },
        { type: 'ukey_created', id: 'c2', time: at(7), ufid: U2, key: KEY, actions: '3' },
        { type: 'ukey_created', id: 'c3', time: at(2), ufid: U3, key: KEY, actions: '3' },
      ]);
      expect(rows()).toEqual([{ id: expect.any(Number), actions: '3', first_seen: at(2), removed_at: at(5), removal_reason: 'flow_idle' }]);
      expect(rows(U2)).toEqual([{ id: expect.any(Number), actions: '3', first_seen: at(7), removed_at: at(9), removal_reason: 'flow_limit' }]);
      expect(rows(U3)).toEqual([{ id: expect.any(Number), actions: '3', first_seen: at(2), removed_at: null, removal_reason: null }]);
      expect([refOf('x1'), refOf('r2'), refOf('x3')]).toEqual([rows()[0].id, rows(U2)[0].id, null]);
      // Used once: the same UFID installed again after it is live.
      await send([{ type: 'ukey_created', id: 'c4', time: at(6), ufid: UFID, key: KEY, actions: '3' }]);
      expect(rows().map((r) => [r.first_seen, r.removed_at])).toEqual([
        [at(2), at(5)],
        [at(6), null],
      ]);
    });

    it('moves to a late install that shows the lifetime it had ended was gone by then', async () => {
      // Real order: A (1 s), B (4 s, other actions), B removed (5 s). Heard: A, the removal, then B.
      await send([
        { type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3' },
        { type: 'ukey_removed', id: 'x1', time: at(5), ufid: UFID },
      ]);
      await send([{ type: 'ukey_created', id: 'c2', time: at(4), ufid: UFID, key: KEY, actions: 'drop' }]);
      expect(rows().map((r) => [r.actions, r.first_seen, r.removed_at, r.removal_reason])).toEqual([
        ['3', at(1), at(4), 'actions_changed'],
        ['drop', at(4), at(5), 'removed'],
      ]);
      expect(refOf('x1')).toBe(rows()[1].id);
    });

    it('keeps a late install of the same actions apart from the next lifetime when a removal lies between them', async () => {
      // Real order: A (1 s), removed (3 s), installed again with the same actions (5 s). Heard: the removal, the reinstall, then A.
      await send([{ type: 'ukey_removed', id: 'x1', time: at(3), ufid: UFID }]);
      await send([{ type: 'ukey_created', id: 'c2', time: at(5), ufid: UFID, key: KEY, actions: '3' }]);
      await send([{ type: 'ukey_created', id: 'c1', time: at(1), ufid: UFID, key: KEY, actions: '3' }]);
      expect(rows().map((r) => [r.first_seen, r.removed_at, r.removal_reason])).toEqual([
        [at(1), at(3), 'removed'],
        [at(5), null, null],
      ]);
    });
  });

  it('stores a resent event once, and an upcall with the in_port and recirc_id of its key', async () => {
    const upcall = { type: 'upcall', id: 'p1', time: at(1), upcallType: 'miss', key: KEY, ufid: UFID };
    expect(await send([upcall])).toEqual({ stored: 1, duplicates: 0 });
    expect(await send([upcall, { ...upcall, id: 'p2' }])).toEqual({ stored: 1, duplicates: 1 });
    expect(await send([upcall], 'another-producer')).toEqual({ stored: 1, duplicates: 0 });
    const rows = db.prepare('SELECT id, source, event_id, in_port, recirc_id, ufid, sampled FROM upcall ORDER BY id').all() as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.source, r.event_id, r.in_port, r.recirc_id, r.ufid, r.sampled])).toEqual([
      ['usdt', 'p1', '2', '0x3', UFID, 0],
      ['usdt', 'p2', '2', '0x3', UFID, 0],
      ['another-producer', 'p1', '2', '0x3', UFID, 0],
    ]);
    expect(refOf('p2')).toBe(rows[1].id);
    // The ledger's producer close finds the lifetimes its events made, not another producer's.
    await send([{ type: 'ukey_created', id: 'c1', time: at(2), ufid: UFID, key: KEY, actions: '3' }], 'another-producer');
    const ids = await writer.submit((tx) => [stores.ledger.lifetimesOf(tx, 'usdt'), stores.ledger.lifetimesOf(tx, 'another-producer')]);
    expect(ids).toEqual([[], [lifetimes()[0].id]]);
  });
});
