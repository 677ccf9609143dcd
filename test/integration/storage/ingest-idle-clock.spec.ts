// An ingested lifetime no event touched for LIVETRACE_INGEST_IDLE_SECONDS is closed as `idle`
// (ingest-lifetimes.ts). The sweep compared the lifetime's last_seen, the producer's own time (a
// USDT script's, retis's, another host's clock), with the agent's Date.now(): a producer whose clock
// is two hours behind had every lifetime it created closed as idle at the next sweep, though its
// events kept coming; two hours ahead, a lifetime it stopped touching stayed open three hours
// instead of one. The sweep now counts from when the agent last heard an event of the lifetime
// (datapath_flow.heard_at, its own clock); the lifetime still closes at its last_seen, the
// producer's time, as before. Written through writeEvents on a real migrated SQLite, swept by the
// real IngestLifetimesService.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import type { LivetraceConfig } from '../../../src/config/config.schema';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import type { EventV1 } from '../../../src/ingest/event-schema';
import { IngestLifetimesService } from '../../../src/ingest/ingest-lifetimes';
import { IngestStore } from '../../../src/ingest/ingest-store';
import { IngestStores, writeEvents } from '../../../src/ingest/ingest-write';
import type { StoreService } from '../../../src/storage/store.service';
import type { StoreWriter } from '../../../src/storage/writer';
import { TraceStore } from '../../../src/traces/trace-store';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const UFID = '11111111-2222-4333-8444-555555555555';
const KEY = 'recirc_id(0),in_port(2),eth_type(0x0800),ipv4(frag=no)';
const IDLE_S = 3600;
const HOURS = 2 * 3600_000;
/** The agent's clock when the events are heard. */
const HEARD = Date.UTC(2026, 11, 1, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

describe('the ingest idle sweep, with the producer’s clock apart from the agent’s', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let stores: IngestStores;
  let idle: IngestLifetimesService;

  /** One ukey_created and a ukey_updated a minute later (the producer's times: `skew` from the agent's), heard a minute apart. */
  async function heardFrom(skew: number): Promise<void> {
    const send = (e: Record<string, unknown>, heard: number) =>
      writer.submit((tx) => writeEvents(tx, [{ line: 1, event: e as unknown as EventV1, source: 'usdt', chassis: 'hv1' }], iso(heard), stores));
    await send({ type: 'ukey_created', id: 'c1', time: iso(HEARD + skew), ufid: UFID, key: KEY, actions: '3' }, HEARD);
    await send({ type: 'ukey_updated', id: 'u1', time: iso(HEARD + skew + 60_000), ufid: UFID, packets: 4 }, HEARD + 60_000);
  }
  const lifetime = () => db.prepare('SELECT last_seen AS lastSeen, removed_at AS removedAt, removal_reason AS reason FROM datapath_flow').get();

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-ingest-idle-clock-', { entities: true }));
    const flows = new DatapathFlowStore({ db });
    stores = { ledger: new IngestStore(), flows, upcalls: new UpcallStore({ db }), traces: new TraceStore({ db, writer }) };
    idle = new IngestLifetimesService({ LIVETRACE_INGEST_IDLE_SECONDS: IDLE_S } as LivetraceConfig, { writer } as StoreService, flows, stores.ledger);
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  it('keeps open a lifetime of a producer whose clock is hours behind while its events keep coming', async () => {
    await heardFrom(-HOURS);
    expect(await idle.sweep(HEARD + 120_000)).toBe(0);
    expect(lifetime()).toEqual({ lastSeen: iso(HEARD - HOURS + 60_000), removedAt: null, reason: null });
    // Idle for the timeout after the last event heard: closed, at the producer's last sighting.
    expect(await idle.sweep(HEARD + 60_000 + IDLE_S * 1000 + 1000)).toBe(1);
    expect(lifetime()).toEqual({ lastSeen: iso(HEARD - HOURS + 60_000), removedAt: iso(HEARD - HOURS + 60_000), reason: 'idle' });
  });

  it('closes a lifetime of a producer whose clock is hours ahead once no event was heard for the timeout', async () => {
    await heardFrom(HOURS);
    expect(await idle.sweep(HEARD + 60_000 + IDLE_S * 1000 - 1000)).toBe(0);
    expect(await idle.sweep(HEARD + 60_000 + IDLE_S * 1000 + 1000)).toBe(1);
    expect(lifetime()).toEqual({ lastSeen: iso(HEARD + HOURS + 60_000), removedAt: iso(HEARD + HOURS + 60_000), reason: 'idle' });
  });
});
