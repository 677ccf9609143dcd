// PostgreSQL's row limit (LIVETRACE_CENTRAL_RETENTION_ROWS) keeps the traces heard last, on the agents'
// clock, as SQLite's (LIVETRACE_RETENTION_ROWS) keeps the newest ids of its one writer. It kept the
// newest by created_at, which for an ingested translation is its producer's clock: from a producer
// days behind, a translation heard a minute ago was cut first; from one ahead, one heard long before
// the rest stayed. One history, written the same way into a plain SQLite store and into a spool shipped
// to a real PostgreSQL, each pruned by its own row limit: both keep the same traces and upcalls.
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { loadConfig } from '../../src/config/config';
import { CrossCheckStore } from '../../src/cross-checks/cross-check-store';
import type { EventV1 } from '../../src/ingest/event-schema';
import { IngestStore } from '../../src/ingest/ingest-store';
import { writeEvents } from '../../src/ingest/ingest-write';
import { MetricsService } from '../../src/metrics/metrics.service';
import type { PathStore } from '../../src/paths/path-store';
import { centralRound } from '../../src/retention/central-retention-store';
import { RetentionService } from '../../src/retention/retention.service';
import type { StoreService } from '../../src/storage/store.service';
import type { StoreWriter } from '../../src/storage/writer';
import { TraceStore } from '../../src/traces/trace-store';
import { UpcallStore } from '../../src/upcalls/upcall-store';
import { capturedReplies } from '../support/captured-replies';
import { closeMigratedSqlite, openMigratedSqlite } from '../support/migrated-sqlite';
import { pgRows, usePostgresSpools } from '../support/spool-stores';
import type { Database } from 'better-sqlite3';

jest.setTimeout(180_000);

const spools = usePostgresSpools();
const DAY = 86_400_000;
const MIN = 60_000;
const NOW = Date.now();
const at = (ms: number) => new Date(NOW + ms).toISOString();
const KEY = 'recirc_id(0),in_port(2),eth_type(0x0800),ipv4(frag=no)';
const pass = capturedReplies()[0][0];

/**
 * The history, in the order the agent heard it: its own traces (created_at its clock) between
 * translations and upcalls from a producer two days ahead and one three days behind.
 */
type Heard = { heard: number; own?: true; skew?: number; id?: string; body?: string[] };
const HISTORY: Heard[] = [
  { heard: -10 * MIN, own: true },
  { heard: -8 * MIN, skew: 2 * DAY, id: 'ahead' },
  { heard: -6 * MIN, own: true },
  { heard: -4 * MIN, skew: -3 * DAY, id: 'behind-1' },
  { heard: -2 * MIN, own: true },
  { heard: -1 * MIN, skew: -3 * DAY, id: 'behind-2' },
];

/** Writes a history through the stores an agent writes with (`body`: translations of one ingest body, heard at one moment). */
async function write(store: { db: Database; writer: StoreWriter }, history: Heard[]): Promise<void> {
  const traces = new TraceStore(store);
  const stores = { ledger: new IngestStore(), flows: new DatapathFlowStore(store), upcalls: new UpcallStore(store), traces };
  for (const h of history) {
    if (h.own) {
      await store.writer.submit((tx) => traces.insert(tx, { trace: pass, chassis: 'hv1', createdAt: at(h.heard), datapathFlowId: null, pathId: null, portUuids: new Map() }));
      continue;
    }
    const time = at(h.heard + h.skew!);
    const events = h.body
      ? h.body.map((id, i) => ({ type: 'translation', id: `tr-${id}`, time: at(h.heard + h.skew! + i * 1000), text: 'x' }))
      : [
          { type: 'upcall', id: `up-${h.id}`, time, key: KEY },
          { type: 'translation', id: `tr-${h.id}`, time, text: 'x' },
        ];
    await store.writer.submit((tx) =>
      writeEvents(tx, events.map((e, line) => ({ line, event: e as unknown as EventV1, source: 'usdt', chassis: 'hv1', ...(e.type === 'translation' ? { trace: pass } : {}) })), at(h.heard), stores),
    );
  }
}

/** What a store keeps: its traces by when they were heard (created_at shown), its upcalls' events. */
const KEPT = {
  traces: `SELECT created_at AS v FROM trace ORDER BY COALESCE(heard_at, created_at), id`,
  upcalls: `SELECT event_id AS v FROM upcall ORDER BY COALESCE(heard_at, time)`,
};

type Kept = { traces: string[]; upcalls: string[] };

/** What a plain SQLite store and PostgreSQL (through a spool) keep of one history under the same row limit. */
async function bothKeep(history: Heard[], keep: number, database: string): Promise<{ sqlite: Kept; postgres: Kept }> {
  const m = await openMigratedSqlite('livetrace-row-clock-');
  let sqlite: Kept;
  try {
    await write(m, history);
    const stores = { traces: new TraceStore(m), upcalls: new UpcallStore(m) };
    const env = { LIVETRACE_DB: m.file, LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: String(keep) };
    const svc = new RetentionService(
      { db: m.db, writer: m.writer } as unknown as StoreService,
      stores.traces,
      { deleteIfEmpty: () => false } as unknown as PathStore,
      new DatapathFlowStore(m),
      loadConfig(env),
      new MetricsService(),
      stores.upcalls,
      new CrossCheckStore(m),
      new IngestStore(),
    );
    await svc.round(NOW);
    const col = (sql: string) => (m.db.prepare(sql).all() as Array<{ v: string }>).map((r) => r.v);
    sqlite = { traces: col(KEPT.traces), upcalls: col(KEPT.upcalls) };
  } finally {
    await closeMigratedSqlite(m);
  }

  const url = await spools.pg().database(database);
  const s = await spools.storeOn(url);
  await write(s, history);
  await s.shipper!.synced();
  await centralRound(s.central!.pool, { days: 0, keep }, NOW, { batch: 2 });
  const col = async (sql: string) => (await pgRows(url, sql)).map((r) => r.v as string);
  return { sqlite, postgres: { traces: await col(KEPT.traces), upcalls: await col(KEPT.upcalls) } };
}

describe('PostgreSQL’s row limit keeps the traces heard last, as SQLite does (real PostgreSQL)', () => {
  it('a translation freshly heard from a producer days behind stays, one heard before the rest from a producer ahead goes', async () => {
    // Heard last: behind-1, the tracer's own of two minutes ago, behind-2.
    const expected = { traces: [at(-4 * MIN - 3 * DAY), at(-2 * MIN), at(-MIN - 3 * DAY)], upcalls: ['up-behind-1', 'up-behind-2'] };
    const { sqlite, postgres } = await bothKeep(HISTORY, 3, 'central_row_clock');
    expect(sqlite).toEqual(expected);
    expect(postgres).toEqual(expected);
  });

  // The translations of one ingest body share when they were heard (writeEvents' receivedAt): cut at
  // that moment with `<=`, PostgreSQL dropped the whole body when the limit fell inside it (here every
  // translation, keeping one trace of three), where SQLite keeps its newest ids.
  it('the limit falling inside one ingest body: the body’s last translations stay, as many as the limit keeps', async () => {
    const history: Heard[] = [{ heard: -10 * MIN, own: true }, { heard: -5 * MIN, skew: -DAY, body: ['b-1', 'b-2', 'b-3'] }, { heard: -2 * MIN, own: true }];
    const expected = { traces: [at(-5 * MIN - DAY + 1000), at(-5 * MIN - DAY + 2000), at(-2 * MIN)], upcalls: [] };
    const { sqlite, postgres } = await bothKeep(history, 3, 'central_row_tie');
    expect(sqlite).toEqual(expected);
    expect(postgres).toEqual(expected);
  });
});
