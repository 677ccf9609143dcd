/**
 * bench/api/postgres-load: only the load step of postgres.ts (three agents at once, each its own
 * spool, writer and shipper, into a PostgreSQL cluster of the bench's own), for before/after
 * comparisons of the spool and shipper: CPU per trace of the agents and of PostgreSQL (from /proc
 * and process.cpuUsage: steadier than wall time on a shared machine), traces/s committed together,
 * and the backlog each spool held when its writing ended.
 *
 * Usage: node -r ts-node/register/transpile-only bench/api/postgres-load.ts [N=60000]
 * (BENCH_CPU_PROF=<dir>: each agent writes a V8 CPU profile there.)
 *
 * BENCH_DRAIN=1: what one PostgreSQL takes from three agents when their writing is not on the same
 * cores (on hypervisors of their own it is not): PostgreSQL is stopped while the three spools are
 * written (the agents' fault path), then started, and the three shippers drain at once; the rate is
 * from the agents' first batch to the last commit, with the shippers' and PostgreSQL's CPU.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Agent, clusterCpuSeconds, loadPhase, startCluster, stopCluster } from './postgres-lib';

const N = Number(process.argv[2] ?? 60_000);
const AGENTS = 3;
const DIR = mkdtempSync(join(tmpdir(), 'livetrace-bench-pgload-'));
const log = (...a: unknown[]) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

async function main() {
  chmodSync(DIR, 0o755); // the cluster's folder inside runs as the postgres user
  const pgDir = join(DIR, 'pg');
  const url = await startCluster(pgDir);
  const per = Math.ceil(N / AGENTS);
  const agents = Array.from(
    { length: AGENTS },
    (_, i) =>
      new Agent(`hv${i + 1}`, { BENCH_PG_URL: url, BENCH_SPOOL: join(DIR, `spool-hv${i + 1}.sqlite`), BENCH_CHASSIS: `hv${i + 1}`, BENCH_INDEX: String(i), BENCH_AGENTS: String(AGENTS), BENCH_TRACES: String(per) }),
  );
  try {
    if (process.env.BENCH_DRAIN) return await drain(agents, pgDir);
    const load = await loadPhase(url, agents, pgDir, log);
    const generatorCpuSeconds = load.perAgent.reduce((n, a) => n + Number((a as Record<string, unknown>).generatorCpuSeconds ?? 0), 0);
    const summary = {
      n: N,
      at: new Date().toISOString(),
      commit: process.env.BENCH_LABEL ?? '',
      tracesPerS: Math.round(load.perS),
      agentCpuMsPerTrace: +((1000 * load.cpu.agentCpuSeconds) / load.traces).toFixed(3),
      pgCpuMsPerTrace: +((1000 * load.cpu.pgCpuSeconds) / load.traces).toFixed(3),
      // The agents' CPU less the bench's own generation (postgres-agent.ts generatorCpu): the app's
      // writer and shipper, what users pay; and the 2-core bound on that.
      generatorCpuMsPerTrace: +((1000 * generatorCpuSeconds) / load.traces).toFixed(3),
      appAgentCpuMsPerTrace: +((1000 * (load.cpu.agentCpuSeconds - generatorCpuSeconds)) / load.traces).toFixed(3),
      appTwoCoreBoundPerS: Math.round((2 * load.traces) / (load.cpu.agentCpuSeconds - generatorCpuSeconds + load.cpu.pgCpuSeconds)),
      spoolPerS: load.perAgent.map((a) => Math.round(a.spoolPerS)),
      backlogAtSpoolEnd: load.perAgent.map((a) => (a as Record<string, unknown>).backlogAtSpoolEnd),
      backlogByTable: (load.perAgent[0] as Record<string, unknown>).backlogByTable,
      shippedRowsPerTrace: +(load.perAgent.reduce((n, a) => n + Number((a as Record<string, unknown>).shippedRows), 0) / load.traces).toFixed(2),
      shipBatches: load.perAgent.map((a) => (a as Record<string, unknown>).shipBatches),
    };
    log(JSON.stringify(summary));
    writeFileSync(join(process.env.BENCH_OUT_DIR ?? __dirname, `results-postgres-load-${N}${process.env.BENCH_LABEL ? `-${process.env.BENCH_LABEL}` : ''}.json`), JSON.stringify({ summary, load }, null, 2));
  } finally {
    for (const a of agents) if (a.proc.exitCode === null) a.send({ cmd: 'stop' });
    await Promise.all(agents.map((a) => (a.proc.exitCode === null ? new Promise((r) => a.proc.once('exit', r)) : null)));
    stopCluster(pgDir);
    rmSync(DIR, { recursive: true, force: true });
  }
}

/** BENCH_DRAIN: the spools written while PostgreSQL is stopped, then drained by the three shippers at once. */
async function drain(agents: Agent[], pgDir: string): Promise<void> {
  const pgCluster = join(__dirname, '../../scripts/pg-cluster');
  const ready = await Promise.all(agents.map((a) => a.wait('ready')));
  log('agents ready', ready.map((r) => `slot ${r.slot}`).join('; '));
  execFileSync(pgCluster, ['stop', pgDir]);
  log('PostgreSQL stopped; the agents write their spools');
  const t0 = performance.now();
  for (const a of agents) a.send({ cmd: 'load' });
  const spooled = await Promise.all(agents.map((a) => a.wait('spooled')));
  log(`spools written in ${((performance.now() - t0) / 1000).toFixed(1)} s, backlogs ${spooled.map((m) => m.backlog).join(' / ')}; starting PostgreSQL`);
  execFileSync(pgCluster, ['start', pgDir], { encoding: 'utf8' });
  const pgCpu0 = clusterCpuSeconds(pgDir);
  const loaded = await Promise.all(agents.map((a) => a.wait('loaded')));
  const pgCpuSeconds = clusterCpuSeconds(pgDir) - pgCpu0;
  const traces = loaded.reduce((n, l) => n + Number(l.traces), 0);
  const first = Math.min(...loaded.map((l) => Number(l.firstBatchAtEpoch)));
  const last = Math.max(...loaded.map((l) => Number(l.shippedAtEpoch)));
  const seconds = (last - first) / 1000;
  const shipperCpuSeconds = loaded.reduce((n, l) => n + Number(l.drainCpuSeconds), 0);
  const summary = {
    n: N,
    mode: 'drain',
    at: new Date().toISOString(),
    commit: process.env.BENCH_LABEL ?? '',
    traces,
    seconds: +seconds.toFixed(1),
    tracesPerS: Math.round(traces / seconds),
    perAgentPerS: loaded.map((l) => Math.round(Number(l.traces) / ((Number(l.shippedAtEpoch) - Number(l.firstBatchAtEpoch)) / 1000))),
    shipperCpuMsPerTrace: +((1000 * shipperCpuSeconds) / traces).toFixed(3),
    pgCpuMsPerTrace: +((1000 * pgCpuSeconds) / traces).toFixed(3),
    // What PostgreSQL alone would take on one core of its own, and with two.
    pgBoundPerS: { oneCore: Math.round(traces / pgCpuSeconds), twoCores: Math.round((2 * traces) / pgCpuSeconds) },
    backlogs: spooled.map((m) => m.backlog),
    shippedRowsPerTrace: +(loaded.reduce((n, l) => n + Number(l.shippedRows), 0) / traces).toFixed(2),
    load1: loaded.map((l) => l.load1),
  };
  log(JSON.stringify(summary));
  writeFileSync(join(__dirname, `results-postgres-drain-${N}.json`), JSON.stringify({ summary, loaded }, null, 2));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
