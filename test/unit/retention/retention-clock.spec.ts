// Retention by age (LIVETRACE_RETENTION_DAYS) of upcalls and traces decides on the agent's clock: when
// the agent heard the row. It compared the row's own time, the producer's (vswitchd's log line, an
// ingest producer's event), with the agent's now: from a producer whose clock is ten days behind, an
// upcall or a translation heard a minute ago was "ten days old" and went under a five-day limit; from
// one eighteen days ahead, a row heard twenty days ago was "two days old" and stayed. The stored time stays
// the producer's (it is what the row shows). A real migrated SQLite store, the real writer and service.
import 'reflect-metadata';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/config';
import { CrossCheckStore } from '../../../src/cross-checks/cross-check-store';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import type { EventV1 } from '../../../src/ingest/event-schema';
import { IngestStore } from '../../../src/ingest/ingest-store';
import { IngestStores, writeEvents } from '../../../src/ingest/ingest-write';
import { MetricsService } from '../../../src/metrics/metrics.service';
import type { PathStore } from '../../../src/paths/path-store';
import { RetentionService } from '../../../src/retention/retention.service';
import { spoolCut } from '../../../src/retention/spool-retention-store';
import type { StoreService } from '../../../src/storage/store.service';
import { TraceStore } from '../../../src/traces/trace-store';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { capturedReplies } from '../../support/captured-replies';
import { writeCapturedPass } from '../../support/captured-pass-write';
import { closeMigratedSqlite, type MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { firstFlowAdd, log35, misses35, NETDEV, startVlogSource, timeOf, vlogSourceSpec, vswitchdAway } from '../../support/vlog-source';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T00:00:00Z');
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();
const KEY = 'recirc_id(0),in_port(2),eth_type(0x0800),ipv4(frag=no)';
const FIVE_DAYS = { LIVETRACE_RETENTION_DAYS: '5', LIVETRACE_RETENTION_ROWS: '0' };

function storesOf(m: MigratedSqlite & { writer: NonNullable<MigratedSqlite['writer']> }): IngestStores {
  return { ledger: new IngestStore(), flows: new DatapathFlowStore({ db: m.db }), upcalls: new UpcallStore({ db: m.db }), traces: new TraceStore({ db: m.db, writer: m.writer }) };
}

function retention(m: MigratedSqlite, stores: IngestStores, env: Record<string, string>): RetentionService {
  return new RetentionService(
    { db: m.db, writer: m.writer } as unknown as StoreService,
    stores.traces,
    { deleteIfEmpty: () => false } as unknown as PathStore,
    stores.flows,
    loadConfig({ LIVETRACE_DB: join(m.dir, 'db.sqlite'), ...env }),
    new MetricsService(),
    stores.upcalls,
    new CrossCheckStore({ db: m.db }),
    stores.ledger,
  );
}

describe('retention by age on the agent’s clock: ingested rows', () => {
  let m: MigratedSqlite & { writer: NonNullable<MigratedSqlite['writer']> };
  let stores: IngestStores;
  const pass = capturedReplies()[0][0];

  beforeEach(async () => {
    m = await openMigratedSqlite('livetrace-retention-clock-');
    stores = storesOf(m);
  });
  afterEach(() => closeMigratedSqlite(m));

  /** Events as a producer sends them (its own times), heard by the agent at `heardAt`; translations carry a captured pass. */
  const send = (heardAt: string, events: Array<Record<string, unknown>>) =>
    m.writer.submit((tx) =>
      writeEvents(
        tx,
        events.map((e, line) => ({ line, event: e as unknown as EventV1, source: 'usdt', chassis: 'hv1', ...(e.type === 'translation' ? { trace: pass } : {}) })),
        heardAt,
        stores,
      ),
    );
  const ids = (table: string, col: string) => (m.db.prepare(`SELECT ${col} AS v FROM ${table} ORDER BY id`).all() as Array<{ v: string }>).map((r) => r.v);

  it('keeps upcalls and translations heard a minute ago from a producer ten days behind', async () => {
    await send(new Date(NOW - 60_000).toISOString(), [
      { type: 'upcall', id: 'up-behind', time: ago(10), key: KEY },
      { type: 'translation', id: 'tr-behind', time: ago(10), text: 'x' },
    ]);

    await retention(m, stores, FIVE_DAYS).round(NOW);

    expect(ids('upcall', 'event_id')).toEqual(['up-behind']);
    expect(ids('trace', 'created_at')).toEqual([ago(10)]); // still shown at the producer's time
  });

  it('prunes upcalls, translations and their ledger entries heard twenty days ago from a producer eighteen days ahead', async () => {
    await send(ago(20), [
      { type: 'upcall', id: 'up-ahead', time: ago(2), key: KEY },
      { type: 'translation', id: 'tr-ahead', time: ago(2), text: 'x' },
    ]);
    await send(ago(1), [{ type: 'upcall', id: 'up-recent', time: ago(1), key: KEY }]);

    await retention(m, stores, FIVE_DAYS).round(NOW);

    expect(ids('upcall', 'event_id')).toEqual(['up-recent']);
    expect(ids('trace', 'created_at')).toEqual([]);
    expect(ids('ingest_event', 'event_id')).toEqual(['up-recent']);
  });

  it('a row limit keeps the upcalls heard since the oldest trace kept was heard, from a producer two days ahead', async () => {
    // The history kept begins where the oldest trace kept was heard: by its created_at (the producer's
    // clock, two days ahead) every upcall heard since, on the agent's clock, was before it and went.
    for (const k of [3, 2, 1]) {
      const heard = new Date(NOW - k * 60_000).toISOString();
      const time = new Date(NOW + 2 * DAY - k * 60_000).toISOString();
      await send(heard, [
        { type: 'upcall', id: `up-${k}`, time, key: KEY },
        { type: 'translation', id: `tr-${k}`, time, text: 'x' },
      ]);
    }

    await retention(m, stores, { LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '2' }).round(NOW);

    expect(ids('trace', 'heard_at')).toEqual([new Date(NOW - 120_000).toISOString(), new Date(NOW - 60_000).toISOString()]);
    expect(ids('upcall', 'event_id')).toEqual(['up-2', 'up-1']);
  });

  it('the tracer’s own traces go by their time as before, around a translation heard lately', async () => {
    await m.writer.submit((tx) => writeCapturedPass(tx, stores.traces, pass, { at: ago(20), k: 1, ended: true }));
    await m.writer.submit((tx) => writeCapturedPass(tx, stores.traces, pass, { at: ago(1), k: 2, ended: true }));
    await send(new Date(NOW - 60_000).toISOString(), [{ type: 'translation', id: 'tr-behind', time: ago(10), text: 'x' }]);

    await retention(m, stores, FIVE_DAYS).round(NOW);

    expect(ids('trace', 'created_at')).toEqual([ago(1), ago(10)]);
  });

  it('the spool’s cut by age stops below a translation heard lately (ids grow with the agent’s clock)', async () => {
    await m.writer.submit((tx) => writeCapturedPass(tx, stores.traces, pass, { at: ago(20), k: 1, ended: true }));
    await m.writer.submit((tx) => writeCapturedPass(tx, stores.traces, pass, { at: ago(1), k: 2, ended: true }));
    await send(new Date(NOW - 60_000).toISOString(), [{ type: 'translation', id: 'tr-behind', time: ago(10), text: 'x' }]);
    const [oldest] = ids('trace', 'id');

    const cut = await m.writer.submit((tx) => spoolCut(tx, { traces: stores.traces } as never, { keep: 0, before: ago(5) }));

    expect(cut).toBe(oldest);
  });
});

describe('retention by age on the agent’s clock: upcalls read from vswitchd’s log', () => {
  const spec = vlogSourceSpec();
  const isMiss = (l: string) => l.includes('|dpif_netdev|DBG|ovs-netdev: miss upcall:');

  async function readLog(agentAhead: number): Promise<number> {
    spec.m = await openMigratedSqlite('livetrace-retention-clock-vlog-');
    const { source, file } = await startVlogSource(spec.m, vswitchdAway, [NETDEV]);
    spec.source = source;
    const read = timeOf(log35[0]) + agentAhead;
    jest.spyOn(Date, 'now').mockReturnValue(read);
    appendFileSync(file, [...log35, ''].join('\n'));
    await source.settle();
    await source.onApplicationShutdown(); // what still waits is written, unlinked
    spec.source = undefined;
    jest.restoreAllMocks();
    return read;
  }
  const stored = () => spec.m.db.prepare('SELECT time FROM upcall ORDER BY id').all() as Array<{ time: string }>;

  it('keeps the upcalls of a log ten days behind, read a minute ago', async () => {
    const read = await readLog(10 * DAY);
    expect(stored()).toHaveLength(misses35);
    expect(log35.slice(0, firstFlowAdd).some(isMiss)).toBe(true);

    await retention(spec.m, storesOf(spec.m as never), FIVE_DAYS).round(read + 60_000);

    expect(stored()).toHaveLength(misses35);
    // Still shown at vswitchd's time.
    expect(stored().map((r) => Date.parse(r.time)).sort()).toEqual(log35.filter(isMiss).map(timeOf).sort());
  });

  it('prunes the upcalls of a log eighteen days ahead, read twenty days ago', async () => {
    const read = await readLog(-18 * DAY);

    await retention(spec.m, storesOf(spec.m as never), FIVE_DAYS).round(read + 20 * DAY);

    expect(stored()).toHaveLength(0);
  });
});
