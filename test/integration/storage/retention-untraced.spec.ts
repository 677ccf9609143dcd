// Retention of the datapath flow lifetimes no trace cites. The poller stores a lifetime for every
// datapath flow it dumps (a session traces only some of them), so on a busy hypervisor most
// lifetimes are never traced; retention reached lifetimes only through the traces it pruned, so
// those were kept for good and datapath_flow (with recirc_edge) grew without bound whatever
// LIVETRACE_RETENTION_* said. Now an ended lifetime past the limits goes with its edges, and a
// live one, a recent one, or one a kept trace cites stays. Upcalls (vswitchd's log, ingest) and
// cross-checks (up to 256 KB of ovn-trace output each) were never pruned either: they go by the
// same limits.
import 'reflect-metadata';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../../src/config/config';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { PathStore } from '../../../src/paths/path-store';
import { RetentionService } from '../../../src/retention/retention.service';
import type { StoreService } from '../../../src/storage/store.service';
import type { StoreWriter } from '../../../src/storage/writer';
import { TraceStore } from '../../../src/traces/trace-store';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { CrossCheckStore } from '../../../src/cross-checks/cross-check-store';
import { capturedReplies } from '../../support/captured-replies';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T00:00:00Z');
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();

describe('retention of untraced datapath flow lifetimes', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let traces: TraceStore;
  let flows: DatapathFlowStore;
  let paths: PathStore;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-retention-untraced-'));
    traces = new TraceStore({ db, writer });
    paths = new PathStore({ db } as unknown as StoreService);
    flows = new DatapathFlowStore({ db });
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  let n = 0;
  /** A lifetime as the poller writes one; removedAt null: still installed. */
  const lifetime = (firstSeen: string, removedAt: string | null) =>
    writer.submit((tx) =>
      Number(
        tx
          .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, '0', 'in_port(1)', 'drop', 1, 1, 'poller')`)
          .run(`00000000-0000-4000-8000-${String(n++).padStart(12, '0')}`, firstSeen, removedAt ?? firstSeen, removedAt).lastInsertRowid,
      ),
    );
  const ids = () => (db.prepare('SELECT id FROM datapath_flow ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id);
  const service = (env: Record<string, string>) =>
    new RetentionService(
      { db, writer } as unknown as StoreService, traces, paths, flows, loadConfig({ LIVETRACE_DB: join(dir, 'db.sqlite'), ...env }), new MetricsService(),
      new UpcallStore({ db }), new CrossCheckStore({ db }),
    );
  const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

  it('by age: ended lifetimes no trace cites go with their edges once past the cutoff; live, recent and cited ones stay', async () => {
    const oldParent = await lifetime(ago(12), ago(11));
    const oldChild = await lifetime(ago(12), ago(11));
    await writer.submit((tx) => flows.link(tx, oldParent, oldChild, '0x1'));
    const oldLive = await lifetime(ago(12), null);
    const recent = await lifetime(ago(3), ago(2));
    const cited = await lifetime(ago(12), ago(11));
    const pass = capturedReplies()[0][0];
    await writer.submit((tx) => traces.insert(tx, { trace: pass, chassis: 'hv1', createdAt: ago(1), datapathFlowId: cited, pathId: null, portUuids: new Map() }));
    // Many more than one batch of old, untraced, ended lifetimes.
    for (let i = 0; i < 250; i++) await lifetime(ago(20), ago(19));

    await service({ LIVETRACE_RETENTION_DAYS: '5', LIVETRACE_RETENTION_ROWS: '0' }).round(NOW);

    expect(ids()).toEqual([oldLive, recent, cited]);
    expect((db.prepare('SELECT count(*) AS n FROM recirc_edge').get() as { n: number }).n).toBe(0);
  });

  it('by age: a lifetime stored late (an ingested event dated weeks back) goes too, behind more than a batch of recent ones', async () => {
    // Ingest dates a lifetime by its event (ingest-write.ts), so a producer's backlog replayed after
    // an outage stores old lifetimes under ids newer than recent ones: ids do not order removed_at.
    const recent: number[] = [];
    for (let i = 0; i < 1100; i++) recent.push(await lifetime(ago(3), ago(2))); // more than one batch (1,000)
    const late = await lifetime(ago(20), ago(19));

    await service({ LIVETRACE_RETENTION_DAYS: '5', LIVETRACE_RETENTION_ROWS: '0' }).round(NOW);

    const left = ids();
    expect(left.includes(late)).toBe(false);
    expect(left.length).toBe(recent.length);
  });

  it('by row count alone: lifetimes that ended before the oldest trace kept go, not the recent ones', async () => {
    const old = await lifetime(ago(12), ago(11));
    const replies = capturedReplies();
    for (let i = 0; i < 3; i++)
      await writer.submit((tx) => traces.insert(tx, { trace: replies[i][0], chassis: 'hv1', createdAt: ago(10 - i), datapathFlowId: null, pathId: null, portUuids: new Map() }));
    const recent = await lifetime(ago(3), ago(2));

    await service({ LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '1' }).round(NOW);

    expect((db.prepare('SELECT count(*) AS n FROM trace').get() as { n: number }).n).toBe(1);
    expect(ids()).toEqual([recent]);
  });

  it('upcalls and cross-checks: by age, those before the cutoff go; by row count, as many as traces are kept stay', async () => {
    const upcalls = new UpcallStore({ db });
    const checks = new CrossCheckStore({ db });
    const add = (days: number) =>
      writer.submit((tx) => {
        upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: ago(days), heardAt: ago(days), sampled: true });
        checks.insert(tx, { createdAt: ago(days), traceId: 1, pathId: null, sessionId: null, result: 'match', argv: ['ovn-trace'], detail: { result: 'match' } });
      });
    for (let i = 0; i < 1200; i++) await add(20); // more than one batch
    await add(8);
    await add(1);
    await add(0.5);

    await service({ LIVETRACE_RETENTION_DAYS: '5', LIVETRACE_RETENTION_ROWS: '0' }).round(NOW);
    expect([count('upcall'), count('cross_check')]).toEqual([2, 2]);

    await service({ LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '1' }).round(NOW);
    expect([count('upcall'), count('cross_check')]).toEqual([1, 1]);
    expect((db.prepare('SELECT time FROM upcall').get() as { time: string }).time).toBe(ago(0.5));
  });

  it('counts the upcalls and cross-checks it prunes in livetrace_retention_pruned_total, as PostgreSQL\'s round does', async () => {
    const upcalls = new UpcallStore({ db });
    const checks = new CrossCheckStore({ db });
    for (const days of [20, 20, 20, 1])
      await writer.submit((tx) => {
        upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: ago(days), heardAt: ago(days), sampled: true });
        checks.insert(tx, { createdAt: ago(days), traceId: 1, pathId: null, sessionId: null, result: 'match', argv: ['ovn-trace'], detail: { result: 'match' } });
      });
    const metrics = new MetricsService();
    const retention = new RetentionService(
      { db, writer } as unknown as StoreService, traces, paths, flows, loadConfig({ LIVETRACE_DB: join(dir, 'db.sqlite'), LIVETRACE_RETENTION_DAYS: '5' }), metrics,
      upcalls, checks,
    );

    expect((await retention.round(NOW)).records).toBe(6);
    const counted = (await metrics.registry.getSingleMetric('livetrace_retention_pruned_total')!.get()).values.find((v) => v.labels.table === 'upcall_cross_check');
    expect(counted?.value).toBe(6);
  });
});
