// Retention on a real migrated SQLite store filled with real annotated traces (the captured
// replies, annotated with the captured NB/SB as the unit tests do), written as the tracer writes
// them: pruning by row count and by age keeps exactly the newest traces, leaves no step, port,
// path or ended datapath-flow lifetime behind, and the kept traces read back unchanged.
import 'reflect-metadata';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../../../src/config/config';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { PathStore } from '../../../src/paths/path-store';
import { pruneBatch, RetentionStores, rowLimitCut } from '../../../src/retention/retention';
import { RETENTION_BATCH, RetentionService } from '../../../src/retention/retention.service';
import type { StoreService } from '../../../src/storage/store.service';
import type { StoreWriter } from '../../../src/storage/writer';
import { allCitations } from '../../../src/traces/citation-store';
import { citationsOf } from '../../../src/traces/step-pack';
import { TraceStore } from '../../../src/traces/trace-store';
import { capturedReplies } from '../../support/captured-replies';
import { writeCapturedPass } from '../../support/captured-pass-write';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-27T00:00:00Z');

describe('retention', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let store: TraceStore;
  let stores: RetentionStores;
  const replies = capturedReplies();

  const count = (table: string, where = '1') => (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n;

  /** Every reply as one packet, one writer job per pass, over 20 days; odd lifetimes have ended. */
  async function fill(): Promise<number> {
    let n = 0;
    const jobs: Promise<unknown>[] = [];
    replies.forEach((reply, i) => {
      const at = new Date(NOW - 20 * DAY + (i * 20 * DAY) / replies.length).toISOString();
      let pathId: number | undefined;
      for (const pass of reply) {
        const k = n++;
        jobs.push(
          writer.submit((tx) => {
            const w = writeCapturedPass(tx, store, pass, { at, k, ended: k % 2 === 1, pathId });
            pathId = w.pathId;
            return w.id;
          }),
        );
      }
    });
    await Promise.all(jobs);
    return n;
  }

  /** The citation bitmaps hold exactly what the remaining traces' own steps cite. */
  function citationsMatchSteps(): void {
    const expected = (db.prepare('SELECT id, steps FROM trace ORDER BY id').all() as Array<{ id: number; steps: Buffer }>).flatMap((t) =>
      citationsOf(t.steps).map(([kind, ref]) => `${kind}:${ref}:${t.id}`),
    );
    expect(allCitations(db).map((c) => c.join(':')).sort()).toEqual(expected.sort());
  }

  function orphans(): Record<string, number> {
    return {
      citations: allCitations(db).filter(([, , id]) => !count('trace', `id = ${id}`)).length + count('trace_citation', 'bits = 0'),
      ports: count('trace_port', 'trace_id NOT IN (SELECT id FROM trace)'),
      paths: count('path', 'id NOT IN (SELECT path_id FROM trace WHERE path_id IS NOT NULL)'),
      endedFlows: count('datapath_flow', 'removed_at IS NOT NULL AND id NOT IN (SELECT datapath_flow_id FROM trace WHERE datapath_flow_id IS NOT NULL)'),
      edges: count('recirc_edge', 'parent_id NOT IN (SELECT id FROM datapath_flow) OR child_id NOT IN (SELECT id FROM datapath_flow)'),
    };
  }

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-retention-'));
    store = new TraceStore({ db, writer });
    stores = { traces: store, paths: new PathStore({ db } as unknown as StoreService), flows: new DatapathFlowStore({ db }) };
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  it('by row count: keeps exactly the newest N traces, in batches, and nothing dangling', async () => {
    const total = await fill();
    expect(total).toBeGreaterThan(100);
    const keep = 40;
    const newest = (db.prepare('SELECT id FROM trace ORDER BY id DESC LIMIT ?').all(keep) as Array<{ id: number }>).map((r) => r.id);
    const before = await Promise.all(newest.map((id) => store.read(id, true)));
    const limits = { before: null, maxPrunedId: await writer.submit((tx) => rowLimitCut(tx, stores, keep)) };
    let batches = 0;
    let pruned = 0;
    for (;;) {
      const r = await writer.submit((tx) => pruneBatch(tx, stores, limits, 7));
      if (!r.traces) break;
      expect(r.traces).toBeLessThanOrEqual(7);
      pruned += r.traces;
      batches++;
    }
    expect(pruned).toBe(total - keep);
    expect(batches).toBe(Math.ceil((total - keep) / 7));
    expect((db.prepare('SELECT id FROM trace ORDER BY id DESC').all() as Array<{ id: number }>).map((r) => r.id)).toEqual(newest);
    expect(await Promise.all(newest.map((id) => store.read(id, true)))).toEqual(before);
    expect(orphans()).toEqual({ citations: 0, ports: 0, paths: 0, endedFlows: 0, edges: 0 });
    citationsMatchSteps();
    // Live lifetimes stay for the poller even when no trace cites them any more.
    expect(count('datapath_flow', 'removed_at IS NULL')).toBeGreaterThan(count('trace', 'datapath_flow_id IN (SELECT id FROM datapath_flow WHERE removed_at IS NULL)'));
  });

  it('by age, through the service: everything created before the cutoff goes, the rest stays', async () => {
    const total = await fill();
    const cutoff = new Date(NOW - 5 * DAY).toISOString();
    const young = count('trace', `created_at >= '${cutoff}'`);
    expect(young).toBeGreaterThan(0);
    expect(young).toBeLessThan(total);
    const config = loadConfig({ LIVETRACE_DB: join(dir, 'db.sqlite'), LIVETRACE_RETENTION_DAYS: '5', LIVETRACE_RETENTION_ROWS: '0' });
    const service = new RetentionService({ db, writer } as unknown as StoreService, store, stores.paths as PathStore, stores.flows as DatapathFlowStore, config, new MetricsService());
    const r = await service.round(NOW);
    expect(r.traces).toBe(total - young);
    expect(r.batches).toBe(Math.ceil((total - young) / RETENTION_BATCH));
    expect(count('trace')).toBe(young);
    expect(count('trace', `created_at < '${cutoff}'`)).toBe(0);
    expect(orphans()).toEqual({ citations: 0, ports: 0, paths: 0, endedFlows: 0, edges: 0 });
    citationsMatchSteps();
    // A second round finds nothing to do.
    expect((await service.round(NOW)).traces).toBe(0);
  });
});
