// Retention of the ingest ledger (ingest_event): every event a producer sends is kept once per
// (source, id), so a producer feeding events grew it for good whatever LIVETRACE_RETENTION_* said.
// Old rows go by the same limits as upcalls, but not those the ledger still answers for: each
// producer's first install or update of a lifetime still open (its restart closes its open lifetimes
// through it, POST /ingest/close-lifetimes; the rest of a flow's stream, installed for weeks, grew the
// ledger for good when every event of an open lifetime stayed) and anything heard within QUIET_MS (a batch resent after a timeout
// is still a duplicate; an early removal still ends the late install it waits for).
// A lifetime ended within QUIET_MS stays (the path recorder may still link a recirculation to it):
// for an ingested one, also by when the agent heard its end (heard_at), not only by removed_at, the
// producer's own time: from a producer whose clock is ten minutes behind, a lifetime whose removal
// was heard a minute ago read "ended eleven minutes ago" and went under the row limit; one the idle
// sweep closed a minute ago (at its last_seen, an hour before) went the same way.
import 'reflect-metadata';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../../src/config/config';
import { CrossCheckStore } from '../../../src/cross-checks/cross-check-store';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import type { EventV1 } from '../../../src/ingest/event-schema';
import { IngestLifetimesService } from '../../../src/ingest/ingest-lifetimes';
import { IngestStore } from '../../../src/ingest/ingest-store';
import { IngestStores, writeEvents } from '../../../src/ingest/ingest-write';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { PathStore } from '../../../src/paths/path-store';
import { RetentionService } from '../../../src/retention/retention.service';
import type { StoreService } from '../../../src/storage/store.service';
import type { StoreWriter } from '../../../src/storage/writer';
import { TraceStore } from '../../../src/traces/trace-store';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T00:00:00Z');
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();
const KEY = 'recirc_id(0),in_port(2),eth_type(0x0800),ipv4(frag=no)';
const ufid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

describe('retention of the ingest ledger', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let stores: IngestStores;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-retention-ingest-', { entities: true }));
    stores = { ledger: new IngestStore(), flows: new DatapathFlowStore({ db }), upcalls: new UpcallStore({ db }), traces: new TraceStore({ db, writer }) };
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  /** Events as a producer sends them, heard at `receivedAt`. */
  const send = (receivedAt: string, events: Array<Record<string, unknown>>, source = 'usdt') =>
    writer.submit((tx) =>
      writeEvents(
        tx,
        events.map((e, line) => ({ line, event: e as unknown as EventV1, source, chassis: 'hv1' })),
        receivedAt,
        stores,
      ),
    );
  const service = (env: Record<string, string>) =>
    new RetentionService(
      { db, writer } as unknown as StoreService,
      stores.traces,
      { deleteIfEmpty: () => false } as unknown as PathStore,
      stores.flows,
      loadConfig({ LIVETRACE_DB: join(dir, 'db.sqlite'), ...env }),
      new MetricsService(),
      stores.upcalls,
      new CrossCheckStore({ db }),
      stores.ledger,
    );
  const eventIds = () => (db.prepare('SELECT event_id FROM ingest_event ORDER BY id').all() as Array<{ event_id: string }>).map((r) => r.event_id);
  const openOf = (u: string) => db.prepare('SELECT id FROM datapath_flow WHERE ufid = ? AND removed_at IS NULL').get(u) as { id: number } | undefined;

  it('by age: old events go in batches; those of an open lifetime and those heard lately stay', async () => {
    // Far more than one batch of old installs and removals of lifetimes long ended, an old upcall and an old early removal.
    const old: Array<Record<string, unknown>> = [];
    for (let i = 100; i < 700; i++)
      old.push(
        { type: 'ukey_created', id: `c${i}`, time: ago(20), ufid: ufid(i), key: KEY, actions: 'drop' },
        { type: 'ukey_removed', id: `x${i}`, time: ago(19.9), ufid: ufid(i), reason: 'FLOW_IDLE' },
      );
    old.push({ type: 'upcall', id: 'up-old', time: ago(20), key: KEY }, { type: 'ukey_removed', id: 'early-old', time: ago(20), ufid: ufid(2) });
    // A flow installed 20 days ago and still installed: the producer's restart must still close it.
    old.push({ type: 'ukey_created', id: 'open-c', time: ago(20), ufid: ufid(1), key: KEY, actions: 'drop' });
    await send(ago(20), old);
    await send(ago(15), [{ type: 'ukey_updated', id: 'open-u', time: ago(15), ufid: ufid(1), packets: 9 }]);
    // Recent: a lifetime ended a day ago, and a removal heard a minute ago whose install is still to come.
    await send(ago(1), [
      { type: 'ukey_created', id: 'recent-c', time: ago(1), ufid: ufid(3), key: KEY, actions: 'drop' },
      { type: 'ukey_removed', id: 'recent-x', time: ago(1), ufid: ufid(3) },
    ]);
    await send(new Date(NOW - 60_000).toISOString(), [{ type: 'ukey_removed', id: 'early', time: ago(30), ufid: ufid(4), reason: 'FLOW_IDLE' }]);

    await service({ LIVETRACE_RETENTION_DAYS: '5', LIVETRACE_RETENTION_ROWS: '0' }).round(NOW);

    // The open lifetime's install stays (its producer's restart closes it through it); its update goes by age.
    expect(eventIds()).toEqual(['open-c', 'recent-c', 'recent-x', 'early']);
    const open = openOf(ufid(1))!.id;
    await expect(writer.submit((tx) => stores.ledger.lifetimesOf(tx, 'usdt'))).resolves.toEqual(expect.arrayContaining([open]));
    // The early removal still ends the install heard after it.
    await send(new Date(NOW).toISOString(), [{ type: 'ukey_created', id: 'late-c', time: ago(30.1), ufid: ufid(4), key: KEY, actions: 'drop' }]);
    expect(openOf(ufid(4))).toBeUndefined();
  });

  it('a flow installed for weeks: its install event stays, the stream of its other events goes by age', async () => {
    // One flow installed 30 days ago and still installed, an update heard every 6 hours since, from
    // its producer and from a second one that continued it (retis after usdt).
    await send(ago(30), [{ type: 'ukey_created', id: 'install', time: ago(30), ufid: ufid(1), key: KEY, actions: 'drop' }]);
    for (let h = 30 * 24 - 6; h > 0; h -= 6) {
      // Counters only grow (falling, they would be a flow installed again: a lifetime of its own).
      await send(ago(h / 24), [{ type: 'ukey_updated', id: `u${h}`, time: ago(h / 24), ufid: ufid(1), packets: 30 * 24 - h }]);
      await send(ago(h / 24), [{ type: 'ukey_revalidated', id: `r${h}`, time: ago(h / 24), ufid: ufid(1) }]);
      if (h < 25 * 24) await send(ago(h / 24), [{ type: 'ukey_updated', id: `retis-${h}`, time: ago(h / 24), ufid: ufid(1), packets: 30 * 24 - h }], 'retis');
    }
    const open = openOf(ufid(1))!.id;

    await service({ LIVETRACE_RETENTION_DAYS: '5', LIVETRACE_RETENTION_ROWS: '0' }).round(NOW);

    const left = eventIds();
    // The install, the second producer's first event of it, and the last 5 days' events (3 every 6 hours, 20 times).
    expect(left.slice(0, 2)).toEqual(['install', `retis-${25 * 24 - 6}`]);
    expect(left.length).toBe(2 + 3 * 20);
    // Either producer's restart still closes it.
    for (const source of ['usdt', 'retis']) expect(new Set(await writer.submit((tx) => stores.ledger.lifetimesOf(tx, source)))).toEqual(new Set([open]));
  });

  it('by row count: events beyond as many as traces are kept go, but not those of an open lifetime nor those heard lately', async () => {
    await send(ago(20), [{ type: 'ukey_created', id: 'open-c', time: ago(20), ufid: ufid(1), key: KEY, actions: 'drop' }]);
    const ended: Array<Record<string, unknown>> = [];
    for (let i = 100; i < 110; i++)
      ended.push(
        { type: 'ukey_created', id: `c${i}`, time: ago(10), ufid: ufid(i), key: KEY, actions: 'drop' },
        { type: 'ukey_removed', id: `x${i}`, time: ago(10), ufid: ufid(i) },
      );
    await send(ago(10), ended);
    await send(new Date(NOW - 60_000).toISOString(), [{ type: 'upcall', id: 'up-now', time: ago(0), key: KEY }]);
    await send(ago(2), [{ type: 'upcall', id: 'up-2', time: ago(2), key: KEY }]);

    await service({ LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '1' }).round(NOW);

    expect(eventIds()).toEqual(['open-c', 'up-now', 'up-2']);
  });

  describe('an ingested lifetime just ended, by the agent’s clock', () => {
    const MINUTES = 10 * 60_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const rowsOver = (t: number) => service({ LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '1' }).round(t);
    const ufids = () => (db.prepare('SELECT ufid FROM datapath_flow ORDER BY id').all() as Array<{ ufid: string }>).map((r) => r.ufid);

    it('stays while its removal was heard within QUIET_MS, though its producer (a clock behind) dated it earlier', async () => {
      // Installed and removed, heard a minute ago, the producer's clock 10 minutes behind; a newer lifetime after it.
      await send(iso(NOW - 60_000), [
        { type: 'ukey_created', id: 'c1', time: iso(NOW - 60_000 - MINUTES - 500), ufid: ufid(1), key: KEY, actions: 'drop' },
        { type: 'ukey_removed', id: 'x1', time: iso(NOW - 60_000 - MINUTES), ufid: ufid(1) },
        { type: 'ukey_created', id: 'c2', time: iso(NOW - 60_000 - MINUTES), ufid: ufid(2), key: KEY, actions: 'drop' },
      ]);
      await rowsOver(NOW);
      expect(ufids()).toEqual([ufid(1), ufid(2)]);
      // Once its removal was heard longer ago than the guard: beyond the row limit, it goes.
      await rowsOver(NOW + MINUTES);
      expect(ufids()).toEqual([ufid(2)]);
    });

    it('stays while the idle sweep closed it within QUIET_MS, though its last sighting is an hour old', async () => {
      await send(iso(NOW - 3600_000 - 120_000), [{ type: 'ukey_created', id: 'c1', time: iso(NOW - 3600_000 - 120_000), ufid: ufid(1), key: KEY, actions: 'drop' }]);
      await send(iso(NOW - 120_000), [{ type: 'ukey_created', id: 'c2', time: iso(NOW - 120_000), ufid: ufid(2), key: KEY, actions: 'drop' }]);
      const idle = new IngestLifetimesService(loadConfig({ LIVETRACE_DB: join(dir, 'db.sqlite') }), { writer } as StoreService, stores.flows, stores.ledger);
      expect(await idle.sweep(NOW - 60_000)).toBe(1);
      await rowsOver(NOW);
      expect(ufids()).toEqual([ufid(1), ufid(2)]);
    });
  });
});
