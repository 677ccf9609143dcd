// The datapath flow lifetime store on a real migrated SQLite file: the poller, the vswitchd log and
// ingest write lifetimes of the same UFID through it, each continuing and closing only its own, while
// readers (a trace's lifetime, retention, GET /datapath-flows) see all of them.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { DatapathFlowStore, LifetimeSource, NewLifetime } from '../../../src/datapath-flows/datapath-flow-store';
import type { StoreWriter } from '../../../src/storage/writer';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const UFID = '11111111-2222-4333-8444-555555555555';
const OTHER = '66666666-7777-4888-8999-aaaaaaaaaaaa';

describe('DatapathFlowStore', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let flows: DatapathFlowStore;

  const lifetime = (source: LifetimeSource, at: string, over: Partial<NewLifetime> = {}): NewLifetime => ({
    chassis: 'hv1', ufid: UFID, firstSeen: at, lastSeen: at, inPort: '2', recircId: '0x0',
    key: 'in_port(2),eth_type(0x0800)', actions: '3', packets: 1, bytes: 64, used: null, source, ...over,
  });
  const row = (id: number) => db.prepare('SELECT * FROM datapath_flow WHERE id = ?').get(id) as Record<string, unknown>;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-dpflow-', { entities: true }));
    flows = new DatapathFlowStore({ db });
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  it("each source continues only its own open lifetime of a UFID; the one in force at a time is of any source", async () => {
    const ids = await writer.submit((tx) => ({
      poller: flows.create(tx, lifetime('poller', '2026-12-01T00:00:00.000Z')),
      vlog: flows.create(tx, lifetime('vlog', '2026-12-01T00:00:01.000Z', { packets: 0, bytes: 0 })),
      ingestOld: flows.create(tx, lifetime('ingest', '2026-12-01T00:00:02.000Z')),
      ingest: flows.create(tx, lifetime('ingest', '2026-12-01T00:00:03.000Z', { actions: 'drop' })),
    }));
    await writer.submit((tx) => flows.close(tx, ids.poller, '2026-12-01T00:00:05.000Z', 'ukey_removed'));
    const seen = await writer.submit((tx) => ({
      poller: flows.openOf(tx, 'poller', 'hv1', UFID),
      vlog: flows.openOf(tx, 'vlog', 'hv1', UFID)?.id,
      ingest: flows.openOf(tx, 'ingest', 'hv1', UFID),
      elsewhere: flows.openOf(tx, 'ingest', 'hv2', UFID),
      before: flows.inForceAt(tx, 'hv1', UFID, '2026-12-01T00:00:04.000Z'),
      after: flows.inForceAt(tx, 'hv1', UFID, '2026-12-01T00:00:06.000Z'),
    }));
    expect(seen).toEqual({
      poller: undefined,
      vlog: ids.vlog,
      ingest: { id: ids.ingest, key: 'in_port(2),eth_type(0x0800)', actions: 'drop', firstSeen: '2026-12-01T00:00:03.000Z', lastSeen: '2026-12-01T00:00:03.000Z', packets: 1, bytes: 64, pmdCopies: null, heardAt: '2026-12-01T00:00:03.000Z' },
      elsewhere: undefined,
      before: ids.poller,
      after: ids.vlog,
    });
    expect(flows.open('vlog', 'hv1').map((l) => l.id)).toEqual([ids.vlog]);
    expect(flows.open('vlog', 'hv2')).toEqual([]);
    expect(flows.open('poller', 'hv1')).toEqual([]);
  });

  it('counters: a dump replaces them, an ingested event keeps last_seen from going back and fills only what it carries', async () => {
    const id = await writer.submit((tx) => flows.create(tx, lifetime('ingest', '2026-12-01T00:00:10.000Z')));
    // An event older than last_seen (sent late) carries the counters of its time: not taken.
    await writer.submit((tx) => flows.touch(tx, id, '2026-12-01T00:00:05.000Z', { packets: 7 }));
    expect(row(id)).toMatchObject({ last_seen: '2026-12-01T00:00:10.000Z', packets: 1, bytes: 64, used: null });
    await writer.submit((tx) => flows.touch(tx, id, '2026-12-01T00:00:11.000Z', { packets: 7 }));
    expect(row(id)).toMatchObject({ last_seen: '2026-12-01T00:00:11.000Z', packets: 7, bytes: 64, used: null });
    await writer.submit((tx) => flows.update(tx, id, { lastSeen: '2026-12-01T00:00:04.000Z', packets: 1, bytes: 2, used: '0.5s' }));
    expect(row(id)).toMatchObject({ last_seen: '2026-12-01T00:00:04.000Z', packets: 1, bytes: 2, used: '0.5s' });
  });

  it('closing a producer: only its ingested lifetimes still open; idle ones close at their last_seen, in batches', async () => {
    const ids = await writer.submit((tx) => [
      flows.create(tx, lifetime('ingest', '2026-12-01T00:00:00.000Z')),
      flows.create(tx, lifetime('ingest', '2026-12-01T00:00:01.000Z', { ufid: OTHER })),
      flows.create(tx, lifetime('vlog', '2026-12-01T00:00:02.000Z')),
    ]);
    await writer.submit((tx) => flows.close(tx, ids[1], '2026-12-01T00:00:03.000Z', 'removed'));
    expect(await writer.submit((tx) => flows.closeOpenIngested(tx, [...ids, ids[0]], '2026-12-01T00:01:00.000Z', 'producer_restarted'))).toBe(1);
    expect([row(ids[0]).removal_reason, row(ids[1]).removal_reason, row(ids[2]).removal_reason]).toEqual(['producer_restarted', 'removed', null]);

    const idle = await writer.submit((tx) => [1, 2, 3].map((s) => flows.create(tx, lifetime('ingest', `2026-12-01T00:02:0${s}.000Z`, { ufid: `00000000-0000-4000-8000-00000000000${s}` }))));
    expect(await writer.submit((tx) => flows.closeIdleIngested(tx, '2026-12-01T00:02:03.000Z', 1, '2026-12-01T01:02:03.000Z'))).toBe(1);
    expect(await writer.submit((tx) => flows.closeIdleIngested(tx, '2026-12-01T00:02:03.000Z', 5, '2026-12-01T01:02:03.000Z'))).toBe(1);
    expect(idle.map((i) => [row(i).removed_at, row(i).removal_reason])).toEqual([
      ['2026-12-01T00:02:01.000Z', 'idle'],
      ['2026-12-01T00:02:02.000Z', 'idle'],
      [null, null],
    ]);
  });

  it('recirculation edges once per pair, read both ways; retention deletes only ended lifetimes no trace refers to, with their edges', async () => {
    const [parent, child, traced] = await writer.submit((tx) => [
      flows.create(tx, lifetime('poller', '2026-12-01T00:00:00.000Z')),
      flows.create(tx, lifetime('poller', '2026-12-01T00:00:00.000Z', { ufid: OTHER, recircId: '0x1' })),
      flows.create(tx, lifetime('poller', '2026-12-01T00:00:01.000Z', { ufid: '00000000-0000-4000-8000-000000000009' })),
    ]);
    await writer.submit((tx) => {
      flows.link(tx, parent, child, '0x1');
      flows.link(tx, parent, child, '0x1');
    });
    expect(await flows.childrenOf(parent)).toEqual([{ id: child, ufid: OTHER, recircId: '0x1', via: '0x1' }]);
    expect(await flows.parentsOf(child)).toEqual([{ id: parent, ufid: UFID, recircId: '0x0', via: '0x1' }]);
    db.prepare(
      `INSERT INTO trace (chassis, created_at, datapath_flow_id, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES ('hv1', '2026-12-01T00:00:01.000Z', ?, 'trace', '0x0', '', '', '', '', ',', '{}', 0, x'')`,
    ).run(traced);

    expect(await writer.submit((tx) => flows.deleteIfEndedAndUntraced(tx, parent))).toBe(false); // still live
    await writer.submit((tx) => [parent, traced].forEach((id) => flows.close(tx, id, '2026-12-01T00:00:09.000Z', 'ukey_removed')));
    expect(await writer.submit((tx) => flows.deleteIfEndedAndUntraced(tx, traced))).toBe(false); // a trace refers to it
    expect(await writer.submit((tx) => flows.deleteIfEndedAndUntraced(tx, parent))).toBe(true);
    expect(await flows.parentsOf(child)).toEqual([]);
    expect(await flows.lifetimesOf(UFID)).toEqual([]);
    expect((await flows.list({ state: 'live', limit: 10 })).map((l) => l.id)).toEqual([child]);
    expect((await flows.list({ state: 'removed', limit: 10 })).map((l) => [l.id, l.state, l.removalReason])).toEqual([[traced, 'removed', 'ukey_removed']]);
  });

  // `used` is relative to a reading whose time the lifetime does not keep (last_seen moves with events
  // that carry none): the last reading of a live flow says how long it had been idle; once the flow is
  // gone that number tells nothing, and the row's last_seen / removed_at say when it was last seen.
  it('serves the last reading\'s `used` for a live lifetime and null for a removed one, wherever lifetimes are served', async () => {
    const id = await writer.submit((tx) => flows.create(tx, lifetime('poller', '2026-12-01T00:00:01.000Z', { used: '0.081s' })));
    expect((await flows.list({ state: 'live', limit: 10 })).map((l) => [l.id, l.used])).toEqual([[id, '0.081s']]);
    expect((await flows.lifetimesOf(UFID)).map((l) => l.used)).toEqual(['0.081s']);
    await writer.submit((tx) => flows.close(tx, id, '2026-12-01T00:00:05.000Z', 'gone'));
    expect((await flows.list({ state: 'removed', limit: 10 })).map((l) => [l.id, l.used])).toEqual([[id, null]]);
    expect((await flows.lifetimesOf(UFID)).map((l) => l.used)).toEqual([null]);
    expect(row(id).used).toBe('0.081s'); // stored as read: the row is the record of the reading
  });
});
