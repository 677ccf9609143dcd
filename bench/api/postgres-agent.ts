/**
 * bench/api/postgres-agent: one agent of the PostgreSQL bench (postgres.ts spawns three). Its store
 * is the app's own: a SQLite spool, the real StoreService with a `central` from openCentral, its
 * writer and its shipper (as test/postgres/shipper.spec.ts builds it). The history is generate.ts's
 * (World, load.ts: one writer job per pass, as the tracer), this chassis hosting every third tenant.
 *
 * Driven by the parent over the IPC channel, one step at a time so the three run each step at once:
 *   → ready {slot, stampSeconds}        after the spool is open, the slot claimed, the replies stamped
 *   ← load                              → spooled {at} once its writing ended, then
 *                                         loaded {spool: rate into the spool, shipped: rate into PostgreSQL, the drain's times and CPU}
 *   ← retention {prune}                 → pruned {spool seconds, shipped seconds}
 *   ← stop                              → (exits once shipped and closed)
 *
 * Environment: BENCH_PG_URL, BENCH_SPOOL, BENCH_CHASSIS, BENCH_INDEX (0..), BENCH_AGENTS, BENCH_TRACES (this agent's).
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { DataSource } from 'typeorm';
import { loadConfig } from '../../src/config/config';
import { pruneBatch, rowLimitCut } from '../../src/retention/retention';
import { RETENTION_BATCH } from '../../src/retention/retention.service';
import { openCentral } from '../../src/storage/central';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { StoreService } from '../../src/storage/store.service';
import { DAYS, TENANTS } from './generate';
import { load, loadStores } from './load';
import { nbUuid, rng, ufidOf, varyFlow, World } from './world';

const env = (k: string): string => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (bench/api/postgres.ts sets it)`);
  return v;
};
const URL = env('BENCH_PG_URL');
const SPOOL = env('BENCH_SPOOL');
const CHASSIS = env('BENCH_CHASSIS');
const INDEX = Number(env('BENCH_INDEX'));
const AGENTS = Number(env('BENCH_AGENTS'));
const TRACES = Number(env('BENCH_TRACES'));

const send = (m: Record<string, unknown>) => process.send!(m);
const next = () => new Promise<Record<string, unknown>>((resolve) => process.once('message', (m) => resolve(m as Record<string, unknown>)));
const cpuS = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;

/** The tenants this chassis hosts: every AGENTS-th from INDEX (a VM port lives on one chassis). */
const hosted = Array.from({ length: TENANTS }, (_, t) => t).filter((t) => t % AGENTS === INDEX);

async function main() {
  const cfg = loadConfig({
    LIVETRACE_DB: URL,
    LIVETRACE_SPOOL: SPOOL,
    LIVETRACE_ROLE: 'agent',
    LIVETRACE_CHASSIS: CHASSIS,
    LIVETRACE_POLLER: 'false',
    LIVETRACE_LOG_LEVEL: 'error',
    LIVETRACE_RETENTION_DAYS: '0',
    LIVETRACE_RETENTION_ROWS: '0',
    ...(process.env.LIVETRACE_SHIP_BATCH ? { LIVETRACE_SHIP_BATCH: process.env.LIVETRACE_SHIP_BATCH } : {}),
  });
  const ds = new DataSource({ ...dataSourceOptions(SPOOL), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const central = await openCentral(cfg, ds);
  const store = new StoreService(ds, central, cfg);
  const stores = loadStores(store);

  const t0 = performance.now();
  const full = new World({ tenants: TENANTS, seed: 1 });
  for (const t of hosted) for (let i = 0; i < full.templates.length; i++) full.reply(i, t);
  // load.ts draws tenants 0..n-1: map them onto the ones this chassis hosts.
  const world = { templates: full.templates, reply: (i: number, t: number) => full.reply(i, hosted[t]) } as unknown as World;
  send({ ready: true, slot: central!.slot, stampSeconds: (performance.now() - t0) / 1000 });

  for (;;) {
    const m = await next();
    if (m.cmd === 'load') {
      const generatorCpuSeconds = generatorCpu(world, TRACES);
      const end = Date.parse('2026-11-27T00:00:00Z');
      const cpu0 = process.cpuUsage();
      const s0 = performance.now();
      const spooled = await load(store.writer, stores, world, {
        traces: TRACES,
        tenants: hosted.length,
        chassis: CHASSIS,
        start: end - DAYS * 86400e3,
        end,
        seed: 2 + INDEX,
        // The tracer queues a job per pass as packets come, not 10k at once (generate.ts's bulk
        // window): a shipper's ship_log cleanup waits behind whatever is queued in the writer.
        window: 1000,
      });
      const spoolAt = (performance.now() - s0) / 1000;
      const backlogAtSpoolEnd = store.shipper!.state.backlog;
      // The drain (postgres-load.ts BENCH_DRAIN: PostgreSQL stopped while the spools were written):
      // from this agent's first batch after its writing ended, wall clock and CPU.
      const cpuAtSpoolEnd = process.cpuUsage();
      send({ spooled: true, at: Date.now(), backlog: backlogAtSpoolEnd });
      const batches0 = store.shipper!.state.batches;
      let firstBatchAt = 0;
      let cpuAtFirstBatch = cpuAtSpoolEnd;
      const watch = setInterval(() => {
        if (firstBatchAt || store.shipper!.state.batches === batches0) return;
        firstBatchAt = Date.now();
        cpuAtFirstBatch = process.cpuUsage();
      }, 20);
      // What the backlog is made of (ship_log entries by table) when the writing ended.
      const backlogByTable = Object.fromEntries(
        (store.db.prepare('SELECT tbl, COUNT(*) AS n FROM ship_log GROUP BY tbl ORDER BY n DESC').all() as Array<{ tbl: string; n: number }>).map((r) => [r.tbl, r.n]),
      );
      await store.shipper!.synced(3_600_000);
      const shippedAt = (performance.now() - s0) / 1000;
      clearInterval(watch);
      send({
        loaded: true,
        shippedAtEpoch: Date.now(),
        firstBatchAtEpoch: firstBatchAt || Date.now(),
        drainCpuSeconds: cpuS(process.cpuUsage(cpuAtFirstBatch)),
        afterSpoolCpuSeconds: cpuS(process.cpuUsage(cpuAtSpoolEnd)),
        traces: spooled.traces,
        spoolSeconds: spoolAt,
        shippedSeconds: shippedAt,
        backlogAtSpoolEnd,
        backlogByTable,
        shippedRows: store.shipper!.state.shippedRows,
        shipBatches: store.shipper!.state.batches,
        cpuSeconds: cpuS(process.cpuUsage(cpu0)),
        generatorCpuSeconds,
        load1: loadavg()[0],
      });
    } else if (m.cmd === 'retention') {
      const keep = TRACES - Number(m.prune);
      const w = store.writer;
      const r0 = performance.now();
      const limits = { before: null, maxPrunedId: await w.submit((tx) => rowLimitCut(tx, stores, keep)) };
      let traces = 0;
      let paths = 0;
      let flows = 0;
      for (;;) {
        const r = await w.submit((tx) => pruneBatch(tx, stores, limits, RETENTION_BATCH));
        if (!r.traces) break;
        traces += r.traces;
        paths += r.paths;
        flows += r.datapathFlows;
      }
      const spoolSeconds = (performance.now() - r0) / 1000;
      const backlog = store.shipper!.state.backlog;
      await store.shipper!.synced(3_600_000);
      send({ pruned: true, traces, paths, datapathFlows: flows, spoolSeconds, shippedSeconds: (performance.now() - r0) / 1000, backlogAtSpoolEnd: backlog });
    } else if (m.cmd === 'end-lifetimes') {
      // A history: its lifetimes have ended (as run.ts's retention does), so pruning may take them.
      // Muted in the spool and done by the parent in PostgreSQL with the same UPDATE: not shipped
      // row by row, which would be measured as retention.
      await store.writer.submit((tx) => {
        tx.stmt('INSERT OR IGNORE INTO ship_mute ("on") VALUES (1)').run();
        tx.stmt('UPDATE datapath_flow SET removed_at = last_seen WHERE removed_at IS NULL').run();
        tx.stmt('DELETE FROM ship_mute').run();
      });
      send({ ended: true });
    } else if (m.cmd === 'stop') {
      await store.onApplicationShutdown();
      await ds.destroy();
      send({ stopped: true });
      process.exit(0);
    }
  }
}

/**
 * The CPU the bench's own generation costs inside the load (load.ts: a reply drawn, each pass varied,
 * its ufid and port uuids made), run alone with the same draws and no store: the agents' CPU minus
 * this is what the app's writer and shipper cost, what a tracer would pay.
 */
let generatorSink = 0; // kept, so the generation is not optimised away
function generatorCpu(world: World, traces: number): number {
  const r = rng(99);
  let sink = 0;
  const cpu0 = process.cpuUsage();
  for (let written = 0; written < traces; ) {
    const tenant = Math.floor(r() * hosted.length);
    const reply = world.reply(Math.floor(r() * world.templates.length), tenant);
    sink += new Date(Date.now() + written).toISOString().length;
    for (const pass0 of reply) {
      const pass = varyFlow(pass0, r);
      sink += ufidOf(r).length + Math.floor(r() * 1000) + Math.floor(r() * 100000) + pass.flow.length;
      sink += new Map(pass.ports.map((x) => [x.logicalPort, nbUuid(x.logicalPort)])).size;
    }
    written += reply.length;
  }
  const s = cpuS(process.cpuUsage(cpu0));
  generatorSink = sink;
  return s;
}

main().catch((e) => {
  console.error(`agent ${CHASSIS}:`, e);
  process.exit(1);
});
