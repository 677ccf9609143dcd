// PostgreSQL's row limit (LIVETRACE_CENTRAL_RETENTION_ROWS) keeps the traces heard last, on the agents'
// clock, as SQLite's (LIVETRACE_RETENTION_ROWS) keeps the newest ids of its one writer. It kept the
// newest by created_at, which for an ingested translation is its producer's clock: from a producer
// days behind, a translation heard a minute ago was cut first; from one ahead, one heard long before
// the rest stayed. One history, written the same way into a plain SQLite store and into a spool shipped
// to a real PostgreSQL, each pruned by its own row limit: both keep the same traces, upcalls,
// cross-checks and ledger entries.
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
type Heard = { heard: number; own?: true; skew?: number; id?: string; body?: string[]; upcalls?: string[]; checks?: string[] };
const HISTORY: Heard[] = [
  { heard: -10 * MIN, own: true },
  { heard: -8 * MIN, skew: 2 * DAY, id: 'ahead' },
  { heard: -6 * MIN, own: true },
  { heard: -4 * MIN, skew: -3 * DAY, id: 'behind-1' },
  { heard: -2 * MIN, own: true },
  { heard: -1 * MIN, skew: -3 * DAY, id: 'behind-2' },
];

/**
 * Writes a history through the stores an agent writes with (`body`: translations of one ingest body,
 * heard at one moment; `upcalls`: upcalls of one body; `checks`: cross-checks stored at one moment).
 */
async function write(store: { db: Database; writer: StoreWriter }, history: Heard[]): Promise<void> {
  const traces = new TraceStore(store);
  const checks = new CrossCheckStore(store);
  const stores = { ledger: new IngestStore(), flows: new DatapathFlowStore(store), upcalls: new UpcallStore(store), traces };
  for (const h of history) {
    if (h.own) {
      await store.writer.submit((tx) => traces.insert(tx, { trace: pass, chassis: 'hv1', createdAt: at(h.heard), datapathFlowId: null, pathId: null, portUuids: new Map() }));
      continue;
    }
    if (h.checks) {
      await store.writer.submit((tx) => {
        for (const c of h.checks!) checks.insert(tx, { createdAt: at(h.heard), traceId: 1, pathId: null, sessionId: null, result: 'match', argv: ['ovn-trace', c], detail: {} });
      });
      continue;
    }
    const event = (type: 'upcall' | 'translation', id: string, ms = 0) => ({ type, id: `${type === 'upcall' ? 'up' : 'tr'}-${id}`, time: at(h.heard + h.skew! + ms), ...(type === 'upcall' ? { key: KEY } : { text: 'x' }) });
    const events = h.body
      ? h.body.map((id, i) => event('translation', id, i * 1000))
      : h.upcalls
        ? h.upcalls.map((id, i) => event('upcall', id, i * 1000))
        : [event('upcall', h.id!), event('translation', h.id!)];
    await store.writer.submit((tx) =>
      writeEvents(tx, events.map((e, line) => ({ line, event: e as unknown as EventV1, source: 'usdt', chassis: 'hv1', ...(e.type === 'translation' ? { trace: pass } : {}) })), at(h.heard), stores),
    );
  }
}

/** What a store keeps: its traces by when they were heard (created_at shown), its upcalls' events, its cross-checks (by their command), its ledger's events. */
const KEPT = {
  traces: `SELECT created_at AS v FROM trace ORDER BY COALESCE(heard_at, created_at), id`,
  upcalls: `SELECT event_id AS v FROM upcall ORDER BY COALESCE(heard_at, time), id`,
  checks: `SELECT command AS v FROM cross_check ORDER BY created_at, id`,
  ledger: `SELECT event_id AS v FROM ingest_event ORDER BY received_at, id`,
};

type Kept = Record<keyof typeof KEPT, string[]>;

/** Each of KEPT's columns, read by `col`. */
async function kept(col: (sql: string) => string[] | Promise<string[]>): Promise<Kept> {
  const out = {} as Kept;
  for (const k of Object.keys(KEPT) as Array<keyof Kept>) out[k] = await col(KEPT[k]);
  return out;
}

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
    sqlite = await kept(col);
  } finally {
    await closeMigratedSqlite(m);
  }

  const url = await spools.pg().database(database);
  const s = await spools.storeOn(url);
  await write(s, history);
  await s.shipper!.synced();
  await centralRound(s.central!.pool, { days: 0, keep }, NOW, { batch: 2 });
  const col = async (sql: string) => (await pgRows(url, sql)).map((r) => r.v as string);
  return { sqlite, postgres: await kept(col) };
}

describe('PostgreSQL’s row limit keeps the traces heard last, as SQLite does (real PostgreSQL)', () => {
  it('a translation freshly heard from a producer days behind stays, one heard before the rest from a producer ahead goes', async () => {
    // Heard last: behind-1, the tracer's own of two minutes ago, behind-2.
    // The ledger's last three, and what was heard within QUIET_MS (behind-1's upcall).
    const expected = { traces: [at(-4 * MIN - 3 * DAY), at(-2 * MIN), at(-MIN - 3 * DAY)], upcalls: ['up-behind-1', 'up-behind-2'], checks: [], ledger: ['up-behind-1', 'tr-behind-1', 'up-behind-2', 'tr-behind-2'] };
    const { sqlite, postgres } = await bothKeep(HISTORY, 3, 'central_row_clock');
    expect(sqlite).toEqual(expected);
    expect(postgres).toEqual(expected);
  });

  // The translations of one ingest body share when they were heard (writeEvents' receivedAt): cut at
  // that moment with `<=`, PostgreSQL dropped the whole body when the limit fell inside it (here every
  // translation, keeping one trace of three), where SQLite keeps its newest ids.
  it('the limit falling inside one ingest body: the body’s last translations stay, as many as the limit keeps', async () => {
    const history: Heard[] = [{ heard: -10 * MIN, own: true }, { heard: -5 * MIN, skew: -DAY, body: ['b-1', 'b-2', 'b-3'] }, { heard: -2 * MIN, own: true }];
    const expected = { traces: [at(-5 * MIN - DAY + 1000), at(-5 * MIN - DAY + 2000), at(-2 * MIN)], upcalls: [], checks: [], ledger: ['tr-b-1', 'tr-b-2', 'tr-b-3'] };
    const { sqlite, postgres } = await bothKeep(history, 3, 'central_row_tie');
    expect(sqlite).toEqual(expected);
    expect(postgres).toEqual(expected);
  });

  // The same tie in the rows no trace takes with it: each was cut strictly before its keep-th newest
  // row's time, so every row sharing that time stayed (one ingest body's upcalls and ledger entries
  // share its heard time; cross-checks stored in one millisecond their created_at), where SQLite keeps
  // as many as the limit by id. Heard before QUIET_MS, so the ledger's go by the limit alone.
  it('the limit falling inside one ingest body of upcalls, or one moment of cross-checks: as many as the limit keeps, the newest', async () => {
    const history: Heard[] = [
      { heard: -20 * MIN, own: true },
      { heard: -10 * MIN, skew: -DAY, upcalls: ['u-1', 'u-2', 'u-3', 'u-4', 'u-5'] },
      { heard: -9 * MIN, checks: ['c-1', 'c-2', 'c-3', 'c-4', 'c-5'] },
      { heard: -2 * MIN, own: true },
    ];
    const expected = {
      traces: [at(-20 * MIN), at(-2 * MIN)],
      upcalls: ['up-u-3', 'up-u-4', 'up-u-5'],
      checks: ['c-3', 'c-4', 'c-5'].map((c) => JSON.stringify(['ovn-trace', c])),
      ledger: ['up-u-3', 'up-u-4', 'up-u-5'],
    };
    const { sqlite, postgres } = await bothKeep(history, 3, 'central_row_tie_untraced');
    expect(sqlite).toEqual(expected);
    expect(postgres).toEqual(expected);
  });
});
