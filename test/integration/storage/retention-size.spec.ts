// Retention by size (LIVETRACE_RETENTION_MAX_MB). On a hypervisor the disk is the limit, not an
// age or a count: a store bounded only by LIVETRACE_RETENTION_DAYS/ROWS filled the disk, and a full
// disk answers writes with 507 and /health with "down". A real migrated SQLite file is filled with
// real annotated traces through the writer, past a bound of a few MB; one retention round prunes
// the oldest traces (with their paths and ended lifetimes, as the row limit does) until the store's
// used pages are back under the low-water mark, keeps the newest, and counts what it pruned.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
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
import { capturedReplies } from '../../support/captured-replies';
import { writeCapturedPass } from '../../support/captured-pass-write';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const MB = 1024 * 1024;
const NOW = Date.parse('2026-11-27T00:00:00Z');

describe('retention by size', () => {
  let dir: string;
  let file: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let traces: TraceStore;
  const replies = capturedReplies();

  const count = (table: string, where = '1') => (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n;
  /** The pages the rows hold: the file's pages but its free ones (those SQLite reuses before it grows the file). */
  const usedBytes = () => ((db.pragma('page_count', { simple: true }) as number) - (db.pragma('freelist_count', { simple: true }) as number)) * (db.pragma('page_size', { simple: true }) as number);

  /** Every reply as one packet, `rounds` times over, a minute apart, oldest first; odd lifetimes have ended. */
  async function fill(rounds: number): Promise<void> {
    let n = count('trace');
    for (let round = 0; round < rounds; round++) {
      const jobs: Promise<unknown>[] = [];
      for (const reply of replies) {
        const at = new Date(NOW - 86_400_000 + n * 60_000).toISOString();
        let pathId: number | undefined;
        for (const pass of reply) {
          const k = n++;
          jobs.push(
            writer.submit((tx) => {
              const w = writeCapturedPass(tx, traces, pass, { at, k, ended: k % 2 === 1, pathId });
              pathId = w.pathId;
              return w.id;
            }),
          );
        }
      }
      await Promise.all(jobs);
    }
  }

  function service(maxMb: number): { service: RetentionService; metrics: MetricsService } {
    const config = loadConfig({ LIVETRACE_DB: file, LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '0', LIVETRACE_RETENTION_MAX_MB: String(maxMb) });
    const metrics = new MetricsService();
    const paths = new PathStore({ db } as unknown as StoreService);
    return { service: new RetentionService({ db, writer } as unknown as StoreService, traces, paths, new DatapathFlowStore({ db }), config, metrics), metrics };
  }

  beforeEach(async () => {
    ({ dir, file, ds, db, writer } = await openMigratedSqlite('livetrace-retention-size-'));
    traces = new TraceStore({ db, writer });
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  it('past LIVETRACE_RETENTION_MAX_MB, prunes the oldest traces until the used pages are back under 90 % of it, and counts them', async () => {
    // At least 6 MB of used pages, whatever the captured replies weigh.
    while (usedBytes() < 6.5 * MB) await fill(1);
    const used = usedBytes();
    expect(used).toBeGreaterThan(6 * MB);
    const bound = Math.floor(used / MB / 2);
    const total = count('trace');
    const ids = (db.prepare('SELECT id FROM trace ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id);

    const { service: retention, metrics } = service(bound);
    const r = await retention.round(NOW);

    expect(usedBytes()).toBeLessThanOrEqual(0.9 * bound * MB);
    const kept = (db.prepare('SELECT id FROM trace ORDER BY id').all() as Array<{ id: number }>).map((x) => x.id);
    // The oldest went, the newest stayed: what is left is the tail of the ids, unbroken.
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(total);
    expect(kept).toEqual(ids.slice(ids.length - kept.length));
    expect(r.traces).toBe(total - kept.length);
    // Nothing the pruned traces took with them today is left behind.
    expect(count('trace_port', 'trace_id NOT IN (SELECT id FROM trace)')).toBe(0);
    expect(count('path', 'id NOT IN (SELECT path_id FROM trace WHERE path_id IS NOT NULL)')).toBe(0);
    expect(count('datapath_flow', 'removed_at IS NOT NULL AND id NOT IN (SELECT datapath_flow_id FROM trace WHERE datapath_flow_id IS NOT NULL)')).toBe(0);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(new RegExp(`livetrace_retention_size_pruned_total\\{table="trace"[^}]*\\} ${total - kept.length}\\n`));
    expect(text).toMatch(new RegExp(`livetrace_retention_store_used_bytes(\\{[^}]*\\})? ${usedBytes()}\\n`));

    // Under the bound, the next round leaves the store alone.
    expect((await retention.round(NOW)).traces).toBe(0);
    expect(count('trace')).toBe(kept.length);
  });

  // Read as "the store is empty" otherwise: the gauge is the store's size whether or not it is bounded,
  // measured when scraped, before any retention round.
  it('livetrace_retention_store_used_bytes is the used pages when scraped, with LIVETRACE_RETENTION_MAX_MB unset too', async () => {
    await fill(1);
    expect(usedBytes()).toBeGreaterThan(0);
    for (const maxMb of [0, 1000]) {
      const { metrics } = service(maxMb);
      expect(await metrics.registry.metrics()).toMatch(new RegExp(`\nlivetrace_retention_store_used_bytes(\\{[^}]*\\})? ${usedBytes()}\n`));
    }
    await fill(1);
    const { metrics } = service(0);
    expect(await metrics.registry.metrics()).toMatch(new RegExp(`\nlivetrace_retention_store_used_bytes(\\{[^}]*\\})? ${usedBytes()}\n`));
  });

  it("bounds a store whose bulk is the poller's ended lifetimes no trace cites, oldest first, the live ones kept", async () => {
    // With LIVETRACE_POLL_SCOPE=all (the default) the poller stores a lifetime for every flow it
    // dumps, traced or not: on a hypervisor with no session running, all the store holds.
    const lines = readFileSync(join(__dirname, '../../fixtures/documented/kernel-datapath/dump-flows.txt'), 'utf8').split('\n').filter((l) => l.startsWith('ufid:'));
    let k = 0;
    const lifetimes = async (n: number, ended: boolean): Promise<void> => {
      const jobs: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++, k++) {
        const line = lines[k % lines.length];
        const at = new Date(NOW - 86_400_000 + k * 1000).toISOString();
        const [key, actions] = [line.slice(line.indexOf(' ') + 1, line.indexOf(', packets:')), line.slice(line.indexOf('actions:') + 8)];
        jobs.push(
          writer.submit((tx) => {
            const id = flows.create(tx, { chassis: 'hv1', ufid: `00000000-0000-4000-8000-${String(k).padStart(12, '0')}`, firstSeen: at, lastSeen: at, inPort: null, recircId: '0x0', key, actions, packets: 1, bytes: 1, used: null, source: 'poller' });
            if (ended) flows.close(tx, id, at, 'gone');
          }),
        );
      }
      await Promise.all(jobs);
    };
    const flows = new DatapathFlowStore({ db });
    await lifetimes(50, false);
    while (usedBytes() < 6.5 * MB) await lifetimes(2000, true);
    const bound = Math.floor(usedBytes() / MB / 2);
    const ended = count('datapath_flow', 'removed_at IS NOT NULL');
    const newest = (db.prepare('SELECT max(id) AS id FROM datapath_flow').get() as { id: number }).id;

    await service(bound).service.round(NOW);

    expect(usedBytes()).toBeLessThanOrEqual(0.9 * bound * MB);
    // The oldest ended went, the newest stayed; every live one stayed.
    expect(count('datapath_flow', 'removed_at IS NOT NULL')).toBeGreaterThan(0);
    expect(count('datapath_flow', 'removed_at IS NOT NULL')).toBeLessThan(ended);
    expect(count('datapath_flow', `id = ${newest}`)).toBe(1);
    expect(count('datapath_flow', 'removed_at IS NULL')).toBe(50);
  });

  it('under the bound, or with no bound (0), prunes nothing', async () => {
    await fill(1);
    const total = count('trace');
    expect((await service(0).service.round(NOW)).traces).toBe(0);
    expect((await service(Math.ceil(usedBytes() / MB) + 1).service.round(NOW)).traces).toBe(0);
    expect(count('trace')).toBe(total);
  });
});
