// Which traces a spool may forget when PostgreSQL keeps the history (src/retention/spool-retention-store.ts):
// only those PostgreSQL holds as the spool does (at or below every shipped mark the prune touches,
// its lifetime's recirculation edges included, nothing of them waiting in ship_log) and that the agent can no longer change (every pass of the
// path ended more than QUIET_MS ago); the prune itself logs nothing (muted), so no DELETE ships.
// Against PostgreSQL: test/postgres/central-retention.spec.ts.
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { PathStore } from '../../../src/paths/path-store';
import type { RetentionStores } from '../../../src/retention/retention';
import { IngestStore } from '../../../src/ingest/ingest-store';
import { UNTRACED_START, type UntracedCursor } from '../../../src/datapath-flows/datapath-flow-store';
import { pruneSpoolBatch, pruneSpoolLedger, pruneSpoolUntraced, QUIET_MS, spoolCut } from '../../../src/retention/spool-retention-store';
import { markKeys, setClaim, shippedTables, SLOT_BITS } from '../../../src/storage/spool';
import type { StoreService } from '../../../src/storage/store.service';
import { useSlotSpool } from '../../support/slot-spool';

const SLOT = 2;
const BASE = SLOT * 2 ** SLOT_BITS;
const NOW = Date.parse('2026-12-05T12:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const spool = useSlotSpool(SLOT);
let stores: RetentionStores;

beforeAll(() => {
  // The trace rows' own prune without their steps' citations (the real one: test/postgres).
  const traces: RetentionStores['traces'] = {
    idBeyondNewest: (tx, keep) => (tx.stmt('SELECT id FROM trace ORDER BY id DESC LIMIT 1 OFFSET ?').get(keep) as { id: number } | undefined)?.id ?? null,
    oldest: () => [],
    oldestHeardAt: () => null,
    newestHeardBefore: () => null,
    prune: (tx, ids) =>
      ids.flatMap((id) => {
        const t = tx.stmt('SELECT path_id, datapath_flow_id FROM trace WHERE id = ?').get(id) as { path_id: number | null; datapath_flow_id: number | null };
        tx.stmt('DELETE FROM trace_port WHERE trace_id = ?').run(id);
        tx.stmt('DELETE FROM trace WHERE id = ?').run(id);
        return [{ pathId: t.path_id, datapathFlowId: t.datapath_flow_id }];
      }),
  };
  stores = { traces, paths: new PathStore({ db: spool.db } as unknown as StoreService), flows: new DatapathFlowStore({ db: spool.db }) };
});

const table = (name: string) => shippedTables(spool.db).find((t) => t.name === name)!;
const meta = (k: string, v: number) => spool.db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(String(v), k);
/** Everything up to these values is in PostgreSQL (shipped mark = claim: changes at or below are logged). */
function shippedUpTo(id: number): void {
  for (const t of ['trace', 'trace_port', 'path', 'datapath_flow', 'recirc_edge']) {
    meta(markKeys(t).shipped, id);
    setClaim(spool.db, table(t), SLOT, id);
  }
  meta(markKeys('trace_citation').shipped, Math.floor(id / 32));
  setClaim(spool.db, table('trace_citation'), SLOT, Math.floor(id / 32));
}

/** A packet: a path, one pass a flow lifetime (removed `endedAgo` ms before NOW, null: live). */
function packet(first: number, endedAgo: Array<number | null>): number[] {
  const path = BASE + first;
  spool.db.prepare(`INSERT INTO path (id, chassis, created_at, updated_at, verdict) VALUES (?, 'hv1', ?, ?, '{}')`).run(path, iso(DAY), iso(DAY));
  return endedAgo.map((ago, k) => {
    const id = BASE + first + k;
    spool.db.prepare(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, ?, '0', 'k', 'a', 1, 1, 'poller')`,
    ).run(id, `u-${id}`, iso(DAY), iso(DAY), ago === null ? null : iso(ago));
    spool.db.prepare(
      `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, path_id, step_count, steps)
       VALUES (?, 'hv1', ?, ?, 'trace', '0', 'f', 'f', 'm', 'a', ',', '{}', ?, 0, x'')`,
    ).run(id, iso(DAY), id, path);
    spool.db.prepare(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, 'lsp1', 'inport', 'pass', ?)`).run(id, iso(DAY));
    return id;
  });
}
const DAY = 86_400_000;
const spoolIds = () => (spool.db.prepare('SELECT id FROM trace ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id);

async function round(): Promise<number> {
  const maxId = (await spool.writer.submit((tx) => spoolCut(tx, stores, { keep: 1, before: null })))!;
  let pruned = 0;
  for (let after = -1; ; ) {
    const r = await spool.writer.submit((tx) => pruneSpoolBatch(tx, stores, { after, maxId, quietBefore: iso(QUIET_MS), batch: 2 }));
    if (!r.scanned) return pruned;
    after = r.cursor;
    pruned += r.traces;
  }
}

describe('the spool prunes locally only what PostgreSQL holds and the agent can no longer change', () => {
  it('keeps the unshipped, the waiting, the live and the recently ended; forgets the rest without logging it', async () => {
    const old = packet(1, [DAY, DAY]);
    const live = packet(3, [DAY, null]); // one pass still in the datapath: the whole path stays
    const recent = packet(5, [QUIET_MS / 2]); // ended, but the path recorder may still chain to it
    const waiting = packet(6, [DAY]); // a port added after it was shipped, not yet in PostgreSQL
    const old2 = packet(7, [DAY]);
    const edged = packet(8, [DAY]); // its lifetime gained an edge to a child not yet shipped
    shippedUpTo(BASE + 8);
    spool.db.prepare(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, 'lsp9', 'outport', 'path', ?)`).run(waiting[0], iso(DAY));
    const unshipped = packet(9, [DAY, DAY]);
    spool.db.prepare(`INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, '0x1')`).run(edged[0], unshipped[0]);
    expect(spool.db.prepare('SELECT tbl, pk FROM ship_log').all()).toEqual([{ tbl: 'trace_port', pk: JSON.stringify([waiting[0], `lsp9`, 'outport', 'path']) }]);

    expect(await round()).toBe(old.length + old2.length);
    expect(spoolIds()).toEqual([...live, ...recent, ...waiting, ...edged, ...unshipped]);
    // Their paths and ended lifetimes went too, and the prune logged nothing: no DELETE ships.
    expect(spool.db.prepare('SELECT id FROM path WHERE id IN (?, ?)').all(BASE + 1, BASE + 7)).toEqual([]);
    expect(spool.db.prepare('SELECT id FROM datapath_flow WHERE id IN (?, ?, ?)').all(...old, ...old2)).toEqual([]);
    expect(spool.db.prepare('SELECT tbl FROM ship_log').all()).toEqual([{ tbl: 'trace_port' }]);

    // Once shipped (the entry gone, the marks past them) and quiet, they go too, but the newest (the row limit).
    spool.db.prepare('UPDATE datapath_flow SET removed_at = ? WHERE removed_at IS NULL OR removed_at > ?').run(iso(DAY), iso(DAY));
    // Those ends are changes waiting to be shipped: only live[0], whose own lifetime did not change, goes.
    expect(await round()).toBe(1);
    expect(spoolIds()).toEqual([live[1], ...recent, ...waiting, ...edged, ...unshipped]);
    spool.db.prepare('DELETE FROM ship_log').run();
    shippedUpTo(BASE + 100);
    expect(await round()).toBe(1 + recent.length + waiting.length + edged.length + unshipped.length - 1);
    expect(spoolIds()).toEqual([unshipped[1]]);
  });

  // The lifetimes no trace cites (most of the poller's) were never reached by the spool's prune,
  // which goes through traces: with PostgreSQL keeping the history, the agent's spool grew with
  // every flow it ever dumped. They go locally too, muted, once PostgreSQL holds them as the spool does.
  it('forgets ended lifetimes no trace cites once shipped as they are, muted; not the unshipped, waiting, live or recent', async () => {
    const lifetime = (id: number, endedAgo: number | null) =>
      spool.db.prepare(
        `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, ?, '0', 'k', 'a', 1, 1, 'poller')`,
      ).run(id, `u-${id}`, iso(2 * DAY), iso(2 * DAY), endedAgo === null ? null : iso(endedAgo));
    const [oldA, oldB, live, recent, waiting, edged, unshipped] = [200, 201, 202, 203, 204, 205, 210].map((n) => BASE + n);
    lifetime(oldA, DAY);
    lifetime(oldB, DAY);
    lifetime(live, null);
    lifetime(recent, QUIET_MS / 2);
    lifetime(waiting, DAY);
    lifetime(edged, DAY);
    shippedUpTo(BASE + 205);
    spool.db.prepare('DELETE FROM ship_log').run();
    spool.db.prepare('UPDATE datapath_flow SET packets = 2 WHERE id = ?').run(waiting); // a change not yet in PostgreSQL
    lifetime(unshipped, DAY);
    spool.db.prepare(`INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, '0x1')`).run(edged, unshipped);
    const logged = spool.db.prepare('SELECT tbl, pk FROM ship_log ORDER BY tbl, pk').all();

    for (let after: UntracedCursor | null = UNTRACED_START; after !== null; ) {
      const from: UntracedCursor = after;
      after = (await spool.writer.submit((tx) => pruneSpoolUntraced(tx, stores, { after: from, before: iso(DAY / 2), maxId: null, quietBefore: iso(QUIET_MS), batch: 2 }))).cursor;
    }
    const left = (spool.db.prepare('SELECT id FROM datapath_flow WHERE id >= ? ORDER BY id').all(BASE + 200) as Array<{ id: number }>).map((r) => r.id);
    expect(left).toEqual([live, recent, waiting, edged, unshipped]);
    expect(spool.db.prepare('SELECT tbl, pk FROM ship_log ORDER BY tbl, pk').all()).toEqual(logged);
  });

  // The ingest ledger was never pruned in the spool with PostgreSQL keeping the history: a producer
  // feeding an agent grew its spool for good. Old entries go locally too, muted, once shipped as they are.
  it('forgets old ingest ledger entries once shipped as they are, muted; not the unshipped, waiting, recent or an open lifetime\'s', async () => {
    const entry = (id: number, receivedAgo: number, ref: number | null = null) =>
      spool.db.prepare(`INSERT INTO ingest_event (id, source, event_id, type, time, received_at, chassis, ref_id, body) VALUES (?, 'usdt', ?, 'ukey_created', ?, ?, 'hv1', ?, '{}')`).run(
        id, `e-${id}`, iso(receivedAgo), iso(receivedAgo), ref,
      );
    const open = BASE + 400;
    spool.db.prepare(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', 'u-open', ?, ?, NULL, '0', 'k', 'a', 1, 1, 'ingest')`,
    ).run(open, iso(2 * DAY), iso(2 * DAY));
    const [oldA, oldB, ofOpen, recent, waiting, unshipped] = [300, 301, 302, 303, 304, 310].map((n) => BASE + n);
    entry(oldA, DAY);
    entry(oldB, DAY);
    entry(ofOpen, DAY, open);
    entry(recent, QUIET_MS / 2);
    entry(waiting, DAY);
    meta(markKeys('ingest_event').shipped, BASE + 304);
    setClaim(spool.db, table('ingest_event'), SLOT, BASE + 304);
    spool.db.prepare('DELETE FROM ship_log').run();
    spool.db.prepare('UPDATE ingest_event SET ref_id = 7 WHERE id = ?').run(waiting); // a change not yet in PostgreSQL
    entry(unshipped, DAY);
    const logged = spool.db.prepare('SELECT tbl, pk FROM ship_log ORDER BY tbl, pk').all();

    for (let after: number | null = -1; after !== null; ) {
      const from: number = after;
      after = (
        await spool.writer.submit((tx) =>
          pruneSpoolLedger(tx, new IngestStore(), { after: from, before: iso(DAY / 2), maxId: null, quietBefore: iso(QUIET_MS), batch: 2 }),
        )
      ).cursor;
    }
    const left = (spool.db.prepare('SELECT id FROM ingest_event WHERE id >= ? ORDER BY id').all(BASE + 300) as Array<{ id: number }>).map((r) => r.id);
    expect(left).toEqual([ofOpen, recent, waiting, unshipped]);
    expect(spool.db.prepare('SELECT tbl, pk FROM ship_log ORDER BY tbl, pk').all()).toEqual(logged);
  });

  // An ingested removal is dated by its producer: with the producer's clock behind the agent's, a
  // lifetime whose end was heard a moment ago reads "ended a day ago" (removed_at), and its trace went
  // while the path recorder could still chain to it. heard_at says when the agent heard it.
  it('keeps a trace whose lifetime the agent heard end within QUIET_MS, whatever the time its producer gave the end', async () => {
    const [heard] = packet(500, [DAY]);
    const [newest] = packet(501, [DAY]);
    spool.db.prepare('UPDATE datapath_flow SET source = ?, heard_at = ? WHERE id = ?').run('ingest', iso(QUIET_MS / 2), heard);
    spool.db.prepare('DELETE FROM ship_log').run();
    shippedUpTo(BASE + 600);
    await round();
    expect(spoolIds().filter((id) => id >= BASE + 500)).toEqual([heard, newest]);
  });
});
