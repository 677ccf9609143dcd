/**
 * Traces per second end to end against the sandbox's ovs-vswitchd, and what they cost it.
 *
 *   1. reference, offline way: `ovs-appctl ofproto/trace <key>` spawned per flow
 *   2. raw cost: ofproto/trace of the same keys over one persistent unixctl connection (UnixctlClient)
 *   3. end to end: the service in-process (poller on, LIVETRACE_TRACE_RATE=100000, so the ceiling
 *      is measured, not the limiter), POST /trace-sessions {"logicalPort":"lsp1","includeExisting":true}
 *      over every live flow, GET /trace-sessions/:id until the window ends: traces stored per second
 *      and ovs-vswitchd main-thread CPU per trace. The poll floor is raised so that no dump falls in
 *      the window (its CPU would be counted as the traces').
 *
 * BENCH_SEED=0 starts the service on an empty database, so its first poll cycle is the unseeded one
 * (created events, recirculation linking, every datapath_flow row written): its time, RSS and rows are
 * recorded before the session starts. After the session: how many distinct paths its traces fell into.
 *
 * Env: BENCH_SANDBOX, BENCH_TRACE_WINDOW_S (60), BENCH_SPAWN_N (200), BENCH_RAW_N (3000), BENCH_SEED (1),
 * BENCH_FIRST_CYCLE_S (max wait for the first cycle, 600).
 */
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import request from 'supertest';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import { traceKey } from '../../src/ovs/odp-key';
import { UnixctlClient } from '../../src/unixctl/client';
import { PollerService } from '../../src/collectors/poller.service';
import { cpuDelta, cpuOf, emit, env, loadLine, rssMb, sleep, vswitchdCtl, vswitchdPid } from './common';
import { sandboxEnv, startService } from './service';

const dir = env('BENCH_SANDBOX');
const WINDOW_MS = Number(process.env.BENCH_TRACE_WINDOW_S ?? 60) * 1000;
const SPAWN_N = Number(process.env.BENCH_SPAWN_N ?? 200);
const RAW_N = Number(process.env.BENCH_RAW_N ?? 3000);
const SEED = process.env.BENCH_SEED !== '0';
const FIRST_CYCLE_MS = Number(process.env.BENCH_FIRST_CYCLE_S ?? 600) * 1000;
const log = (s: string) => process.stderr.write(`  [traces] ${s}\n`);

async function main(): Promise<void> {
  const ctl = vswitchdCtl(dir);
  const pid = vswitchdPid(dir);
  const c = new UnixctlClient({ target: ctl, timeoutMs: 60_000 });
  const flows = parseDumpFlows(await c.call('dpctl/dump-flows', ['-m'])).items;
  const keys = flows.map((f) => traceKey(f.key));
  log(`${flows.length} live flows (${loadLine()})`);

  // 1. ovs-appctl per flow.
  let a = cpuOf(pid);
  let failed = 0;
  for (let i = 0; i < SPAWN_N; i++) {
    const r = spawnSync('ovs-appctl', ['-t', ctl, 'ofproto/trace', keys[i % keys.length]], { stdio: ['ignore', 'ignore', 'ignore'] });
    if (r.status !== 0) failed++;
  }
  let d = cpuDelta(a, cpuOf(pid));
  const spawned = { n: SPAWN_N, failed, perS: (SPAWN_N * 1000) / d.wallMs, mainCpuMsPerTrace: d.mainMs / SPAWN_N };
  log(`ovs-appctl per flow: ${spawned.perS.toFixed(0)}/s, ${spawned.mainCpuMsPerTrace.toFixed(2)} ms of the main thread each`);

  // 2. Persistent connection.
  a = cpuOf(pid);
  failed = 0;
  for (let i = 0; i < RAW_N; i++) await c.call('ofproto/trace', [keys[i % keys.length]]).catch(() => failed++);
  d = cpuDelta(a, cpuOf(pid));
  const raw = { n: RAW_N, failed, perS: (RAW_N * 1000) / d.wallMs, mainCpuMsPerTrace: d.mainMs / RAW_N, wallMsPerTrace: d.wallMs / RAW_N };
  log(`persistent unixctl: ${raw.perS.toFixed(0)}/s, ${raw.mainCpuMsPerTrace.toFixed(2)} ms of the main thread each`);
  c.close();

  // 3. End to end.
  const started = await startService(
    { ...sandboxEnv(dir), LIVETRACE_POLLER: 'true', LIVETRACE_POLL_INTERVAL_MS: '3600000', LIVETRACE_TRACE_RATE: '100000', LIVETRACE_TRACE_QUEUE: '1000000' },
    { seedFrom: SEED ? ctl : undefined },
  );
  const { app, seeded } = started;
  const db = new Database(started.dbPath, { readonly: true });
  try {
    const poller = app.get(PollerService);
    const tUp = performance.now();
    const errors: string[] = [];
    while (!poller.lastCycle && performance.now() - tUp < FIRST_CYCLE_MS) {
      await sleep(100);
      if (poller.lastError && errors[errors.length - 1] !== poller.lastError) errors.push(poller.lastError.slice(0, 200));
    }
    if (!poller.lastCycle) throw new Error(`no poll cycle: ${poller.lastError}`);
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const c1 = poller.lastCycle;
    const firstCycle = {
      seeded,
      waitS: (performance.now() - tUp) / 1000,
      flows: c1.flows,
      created: c1.created,
      dumpMs: c1.dumpMs,
      cycleMs: c1.cycleMs,
      errors,
      rss: rssMb(),
      rows: count('SELECT count(*) AS n FROM datapath_flow'),
      recircEdges: count('SELECT count(*) AS n FROM recirc_edge'),
    };
    log(`service up (${seeded === null ? 'unseeded' : `${seeded} seeded lifetimes`}); first cycle: ${JSON.stringify(firstCycle)}`);
    const http = request(app.getHttpServer());
    const t0 = performance.now();
    a = cpuOf(pid);
    const created = await http.post('/trace-sessions').send({ logicalPort: 'lsp1', includeExisting: true }).expect(201);
    const id = created.body.id as number;
    let stats = created.body.stats;
    const samples: Array<{ s: number; stored: number }> = [];
    while (performance.now() - t0 < WINDOW_MS) {
      await sleep(1000);
      stats = (await http.get(`/trace-sessions/${id}`).expect(200)).body.stats;
      samples.push({ s: (performance.now() - t0) / 1000, stored: stats.stored });
      if (samples.length % 10 === 0) log(`${samples[samples.length - 1].s.toFixed(0)} s: ${JSON.stringify(stats)}`);
      if (stats.selected > 0 && stats.traced + stats.dropped + Object.values(stats.failed as Record<string, number>).reduce((x, y) => x + y, 0) >= stats.selected) break;
    }
    d = cpuDelta(a, cpuOf(pid));
    const metrics = (await http.get('/metrics')).text.split('\n').filter((l) => l.startsWith('livetrace_traces_total'));
    await http.delete(`/trace-sessions/${id}`);
    // Give stores in flight a moment to commit before counting paths.
    await sleep(2000);
    const paths = db.prepare('SELECT count(*) AS traces, count(DISTINCT path_id) AS paths, sum(path_id IS NULL) AS noPath FROM trace WHERE session_id = ?').get(id);
    const pathRows = count('SELECT count(*) AS n FROM path');
    log(`paths: ${JSON.stringify(paths)}, path rows ${pathRows}`);
    const e2e = {
      windowS: d.wallMs / 1000,
      stats,
      storedPerS: (stats.stored * 1000) / d.wallMs,
      tracedPerS: (stats.traced * 1000) / d.wallMs,
      mainCpuMsPerTrace: d.mainMs / Math.max(1, stats.traced),
      mainSharePct: (100 * d.mainMs) / d.wallMs,
      processSharePct: (100 * d.processMs) / d.wallMs,
      rssMb: rssMb(),
      metrics,
      samples: samples.filter((_, i) => i % 5 === 4).map((x) => ({ s: Math.round(x.s), stored: x.stored })),
      paths: { ...(paths as object), pathRows },
    };
    log(`end to end: ${e2e.storedPerS.toFixed(0)} stored/s (${e2e.tracedPerS.toFixed(0)} traced/s), ${e2e.mainCpuMsPerTrace.toFixed(2)} ms of the main thread each`);
    emit({ bench: 'traces', flows: flows.length, firstCycle, spawned, raw, e2e, ceilingPerS: 1000 / raw.mainCpuMsPerTrace, load: loadLine() });
  } finally {
    db.close();
    await started.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
