/**
 * bench/api/postgres-load: only the load step of postgres.ts (three agents at once, each its own
 * spool, writer and shipper, into a PostgreSQL cluster of the bench's own), for before/after
 * comparisons of the spool and shipper: CPU per trace of the agents and of PostgreSQL (from /proc
 * and process.cpuUsage: steadier than wall time on a shared machine), traces/s committed together,
 * and the backlog each spool held when its writing ended.
 *
 * Usage: node -r ts-node/register/transpile-only bench/api/postgres-load.ts [N=60000]
 * (BENCH_CPU_PROF=<dir>: each agent writes a V8 CPU profile there.)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, loadPhase, startCluster, stopCluster } from './postgres-lib';

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
    const load = await loadPhase(url, agents, pgDir, log);
    const summary = {
      n: N,
      at: new Date().toISOString(),
      commit: process.env.BENCH_LABEL ?? '',
      tracesPerS: Math.round(load.perS),
      agentCpuMsPerTrace: +((1000 * load.cpu.agentCpuSeconds) / load.traces).toFixed(3),
      pgCpuMsPerTrace: +((1000 * load.cpu.pgCpuSeconds) / load.traces).toFixed(3),
      spoolPerS: load.perAgent.map((a) => Math.round(a.spoolPerS)),
      backlogAtSpoolEnd: load.perAgent.map((a) => (a as Record<string, unknown>).backlogAtSpoolEnd),
      backlogByTable: (load.perAgent[0] as Record<string, unknown>).backlogByTable,
      shippedRowsPerTrace: +(load.perAgent.reduce((n, a) => n + Number((a as Record<string, unknown>).shippedRows), 0) / load.traces).toFixed(2),
      shipBatches: load.perAgent.map((a) => (a as Record<string, unknown>).shipBatches),
    };
    log(JSON.stringify(summary));
    writeFileSync(join(__dirname, `results-postgres-load-${N}.json`), JSON.stringify({ summary, load }, null, 2));
  } finally {
    for (const a of agents) if (a.proc.exitCode === null) a.send({ cmd: 'stop' });
    await Promise.all(agents.map((a) => (a.proc.exitCode === null ? new Promise((r) => a.proc.once('exit', r)) : null)));
    stopCluster(pgDir);
    rmSync(DIR, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
