/**
 * bench/api/pg-retention: the two retentions of a spool shipping to PostgreSQL, on one history, in one
 * run (bench/api/RESULTS-postgres.md, "Two retentions"). One agent's store as the app builds it (a
 * SQLite spool, StoreService with openCentral, its shipper) on a cluster of the bench's own; the
 * history is generate.ts's World written through the writer (load.ts, one job a pass), every
 * lifetime then ended, as run.ts's retention does. Then, PRUNE traces each:
 *   1. the reference, today's retention with PostgreSQL following the spool: pruned in the spool and
 *      the deletes shipped (until PostgreSQL has committed them);
 *   2. the spool's local prune with LIVETRACE_CENTRAL_RETENTION_* set (muted: PostgreSQL keeps them);
 *   3. PostgreSQL's own retention (central-retention-store.ts, advisory lock, batches of CENTRAL_BATCH)
 *      deleting those same traces centrally.
 * Rates are traces/s of wall time; batch times say how long a writer job (1, 2) or a PostgreSQL
 * transaction (3) held its rows.
 *
 *   BENCH_TRACES=90000 BENCH_PRUNE=30000 flock /tmp/livetrace-bench.lock \
 *     node -r ts-node/register/transpile-only bench/api/pg-retention.ts
 */
import 'reflect-metadata';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config/config';
import { MetricsService } from '../../src/metrics/metrics.service';
import { CENTRAL_BATCH, centralRound } from '../../src/retention/central-retention-store';
import { RetentionService } from '../../src/retention/retention.service';
import { openCentral } from '../../src/storage/central';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { StoreService } from '../../src/storage/store.service';
import { DAYS, TENANTS } from './generate';
import { load, loadStores } from './load';
import { clusterCpuSeconds, fileBytes, pgQuery, startCluster, stopCluster } from './postgres-lib';
import { World } from './world';

const N = Number(process.env.BENCH_TRACES ?? 90_000);
const PRUNE = Number(process.env.BENCH_PRUNE ?? Math.floor(N / 3));
const log = (...a: unknown[]) => console.log(new Date().toISOString().slice(11, 19), ...a);

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-pg-retention-'));
  chmodSync(dir, 0o755); // the cluster's folder inside runs as the postgres user
  const url = await startCluster(join(dir, 'pg'));
  const spool = join(dir, 'spool.sqlite');
  const out: Record<string, unknown> = { traces: N, prune: PRUNE, centralBatch: CENTRAL_BATCH, load1AtStart: loadavg()[0] };
  const base = { LIVETRACE_DB: url, LIVETRACE_SPOOL: spool, LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv1', LIVETRACE_POLLER: 'false', LIVETRACE_LOG_LEVEL: 'error' };
  const cfg = loadConfig({ ...base, LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_RETENTION_ROWS: '0' });
  const ds = new DataSource({ ...dataSourceOptions(spool), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const store = new StoreService(ds, await openCentral(cfg, ds), cfg);
  try {
    const stores = loadStores(store);
    const end = Date.parse('2026-11-27T00:00:00Z');
    const loaded = await load(store.writer, stores, new World({ tenants: TENANTS, seed: 1 }), {
      traces: N,
      tenants: TENANTS,
      chassis: 'hv1',
      start: end - DAYS * 86400e3,
      end,
      seed: 2,
      window: 1000,
    });
    await store.writer.submit((tx) => tx.stmt(`UPDATE datapath_flow SET removed_at = last_seen, removal_reason = 'bench' WHERE removed_at IS NULL`).run());
    await store.shipper!.synced(3_600_000);
    out.load = loaded;
    const pgTraces = async () => Number((await pgQuery<{ n: string }>(url, 'SELECT COUNT(*) AS n FROM trace'))[0].n);
    const spoolTraces = () => (store.db.prepare('SELECT COUNT(*) AS n FROM trace').get() as { n: number }).n;
    log(`loaded ${loaded.traces} traces (${loaded.perS.toFixed(0)}/s), shipped; PostgreSQL ${await pgTraces()}, spool ${fileBytes(spool) / 1e6} MB`);

    const pgDir = join(dir, 'pg');
    /** CPU seconds of this process (agent: writer, shipper) and of PostgreSQL during `fn`. */
    const cpu = async <T>(fn: () => Promise<T>): Promise<[T, { agentCpuS: number; pgCpuS: number }]> => {
      const a0 = process.cpuUsage();
      const p0 = clusterCpuSeconds(pgDir);
      const r = await fn();
      const a = process.cpuUsage(a0);
      return [r, { agentCpuS: (a.user + a.system) / 1e6, pgCpuS: clusterCpuSeconds(pgDir) - p0 }];
    };
    const service = (env: Record<string, string>) => new RetentionService(store, stores.traces, stores.paths, stores.flows, loadConfig({ ...base, ...env }), new MetricsService());
    // 1. The reference: PostgreSQL follows the spool (the deletes ship).
    let t0 = performance.now();
    let followSpoolS = 0;
    const [follow, followCpu] = await cpu(async () => {
      const r = await service({ LIVETRACE_RETENTION_ROWS: String(N - PRUNE), LIVETRACE_RETENTION_DAYS: '0' }).round();
      followSpoolS = (performance.now() - t0) / 1000;
      await store.shipper!.synced(3_600_000);
      return r;
    });
    const followS = (performance.now() - t0) / 1000;
    out.follow = { ...follow, spoolSeconds: followSpoolS, shippedSeconds: followS, perS: follow.traces / followS, ...followCpu, pgTraces: await pgTraces() };
    log('follow', JSON.stringify(out.follow));

    // 2. The spool's local prune, muted (now + 1 h: every lifetime ended long enough ago).
    const local = service({ LIVETRACE_RETENTION_ROWS: String(N - 2 * PRUNE), LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_CENTRAL_RETENTION_ROWS: String(N - 2 * PRUNE) });
    const jobMs: number[] = [];
    const submit = store.writer.submit.bind(store.writer);
    store.writer.submit = ((job: Parameters<typeof submit>[0]) =>
      submit((tx) => {
        const j0 = performance.now();
        try {
          return job(tx);
        } finally {
          jobMs.push(performance.now() - j0);
        }
      })) as typeof submit;
    t0 = performance.now();
    const [spoolRound, localCpu] = await cpu(() => local.round(Date.now() + 3_600_000));
    const localS = (performance.now() - t0) / 1000;
    store.writer.submit = submit;
    await store.shipper!.synced(3_600_000);
    const sorted = jobMs.sort((a, b) => a - b);
    out.local = {
      ...spoolRound,
      perS: spoolRound.traces / localS,
      ...localCpu,
      batchMs: { p50: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] },
      spoolTraces: spoolTraces(),
      pgTraces: await pgTraces(),
      backlogAfter: store.shipper!.state.backlog,
    };
    log('local', JSON.stringify(out.local));

    // 3. PostgreSQL's own retention: the traces the spool forgot.
    const batchMs: number[] = [];
    let b0 = performance.now();
    t0 = performance.now();
    const [central, centralCpu] = await cpu(() =>
      centralRound(store.central!.pool, { days: 0, keep: N - 2 * PRUNE }, Date.now(), {
        onBatch: () => {
          batchMs.push(performance.now() - b0);
          b0 = performance.now();
        },
      }),
    );
    const centralS = (performance.now() - t0) / 1000;
    const bs = batchMs.sort((a, b) => a - b);
    out.central = { ...central, perS: central.traces / centralS, ...centralCpu, batchMs: { p50: bs[Math.floor(bs.length / 2)], max: bs[bs.length - 1] }, pgTraces: await pgTraces() };
    log('central', JSON.stringify(out.central));
    out.load1AtEnd = loadavg()[0];
  } finally {
    await store.onApplicationShutdown().catch(() => undefined);
    await ds.destroy().catch(() => undefined);
    stopCluster(join(dir, 'pg'));
    rmSync(dir, { recursive: true, force: true });
  }
  const file = join(__dirname, `results-pg-retention-${N}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  log(`wrote ${file}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
