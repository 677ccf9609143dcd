/**
 * Poller cycle time, our RSS and ovs-vswitchd's CPU at one datapath size, in one process.
 *
 *   poller.ts real SIZE     the sandbox's ovs-vswitchd holds SIZE real flows (fill.ts made them)
 *   poller.ts replay SIZE   a replay server (fake-vswitchd.ts, own process) answers the dumps
 *
 * The service runs in-process (createApp, as the e2e tests do) with LIVETRACE_POLLER=true and the
 * default floor (1 s) and share (5%), so PollerService runs its own cycles: VswitchdService.call
 * ('dpctl/dump-flows', ['-m']) → parseDumpFlows → DatapathFlowTable.apply → the writer. Each
 * 'cycle' event records PollerService.lastCycle and a /proc sample of ovs-vswitchd. Side by side:
 * `ovs-appctl dpctl/dump-flows -m > /dev/null`, the reference any polling script pays.
 *
 * Env: BENCH_SANDBOX (sandbox folder), BENCH_CYCLES (default 5), BENCH_WINDOW_S (max wait, 180),
 * BENCH_POLL_MAX_SHARE (0.05). Prints progress on stderr and a RESULT line.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PollCycle, PollerService } from '../../src/collectors/poller.service';
import { Cpu, cpuDelta, cpuOf, emit, env, loadLine, median, ROOT, rssMb, sleep, vswitchdCtl, vswitchdPid } from './common';
import { sandboxEnv, startService } from './service';

const mode = process.argv[2] as 'real' | 'replay';
const size = Number(process.argv[3]);
const dir = env('BENCH_SANDBOX');
const CYCLES = Number(process.env.BENCH_CYCLES ?? 5);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_S ?? 180) * 1000;
const SHARE = process.env.BENCH_POLL_MAX_SHARE ?? '0.05';
/** 1: start on a database holding the flows as open lifetimes (steady cycles only); 0: as-is. */
const SEED = process.env.BENCH_SEED !== '0';
const log = (s: string) => process.stderr.write(`  [poller ${mode} ${size}] ${s}\n`);

async function startReplay(socket: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'fake-vswitchd.ts'), socket, String(size)], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`replay server exited ${code}`)));
  });
  return child;
}

/** ovs-appctl dpctl/dump-flows -m > /dev/null: wall time and ovs-vswitchd CPU per run. */
function reference(target: string, pid: number | null, runs: number): { wallMs: number[]; mainMs: number[]; bytes: number } {
  const devnull = openSync('/dev/null', 'w');
  const wallMs: number[] = [];
  const mainMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = pid ? cpuOf(pid) : null;
    const t0 = performance.now();
    const r = spawnSync('ovs-appctl', ['-t', target, 'dpctl/dump-flows', '-m'], { stdio: ['ignore', devnull, 'inherit'], timeout: 120_000 });
    wallMs.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`ovs-appctl exited ${r.status}`);
    if (a) mainMs.push(cpuDelta(a, cpuOf(pid!)).mainMs);
  }
  const out = spawnSync('ovs-appctl', ['-t', target, 'dpctl/dump-flows', '-m'], { maxBuffer: 1 << 30 });
  return { wallMs, mainMs, bytes: out.stdout.length };
}

async function main(): Promise<void> {
  const e = sandboxEnv(dir);
  let replay: ChildProcess | undefined;
  let target: string;
  let pid: number | null = null;
  if (mode === 'replay') {
    target = join(dir, `bench-replay-${process.pid}.ctl`);
    replay = await startReplay(target);
    process.on('exit', () => replay?.kill('SIGTERM'));
  } else {
    target = vswitchdCtl(dir);
    pid = vswitchdPid(dir);
  }
  let service: { close(): Promise<void> } | undefined;
  try {
    log(`reference: ovs-appctl dpctl/dump-flows -m > /dev/null ×5 (${loadLine()})`);
    const ref = reference(target, pid, 5);

    // ovs-vswitchd's own background (revalidators dump every flow twice a second; the main thread idles).
    let idle: ReturnType<typeof cpuDelta> | null = null;
    if (pid) {
      const a = cpuOf(pid);
      await sleep(5000);
      idle = cpuDelta(a, cpuOf(pid));
    }
    const rssBefore = rssMb();

    const cycles: Array<PollCycle & { cpu: Cpu | null; rssMb: number }> = [];
    const errors: Array<{ afterS: number; error: string }> = [];
    const tStart = Date.now();
    let poller!: PollerService;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const started = await startService(
      {
        ...e,
        LIVETRACE_POLLER: 'true',
        LIVETRACE_POLL_INTERVAL_MS: '1000',
        LIVETRACE_POLL_MAX_SHARE: SHARE,
        ...(mode === 'replay' ? { LIVETRACE_VSWITCHD_CTL: target } : {}),
      },
      {
        seedFrom: SEED ? target : undefined,
        beforeInit: (a) => {
          poller = a.get(PollerService);
          poller.on('cycle', () => {
            const c = poller.lastCycle!;
            cycles.push({ ...c, cpu: pid ? cpuOf(pid) : null, rssMb: rssMb().rssMb });
            log(`cycle ${cycles.length}: ${c.flows} flows, +${c.created} ~${c.updated} -${c.removed}, dump ${c.dumpMs} ms, cycle ${c.cycleMs} ms, next in ${c.nextIntervalMs} ms (rss ${Math.round(rssMb().rssMb)} MB)`);
            if (cycles.length >= CYCLES) resolveDone();
          });
        },
      },
    );
    service = started;
    if (started.seeded !== null) log(`database seeded with ${started.seeded} open lifetimes`);
    const watch = setInterval(() => {
      const err = poller.lastError;
      if (err && errors[errors.length - 1]?.error !== err) {
        errors.push({ afterS: (Date.now() - tStart) / 1000, error: err.slice(0, 200) });
        log(`cycle failed after ${((Date.now() - tStart) / 1000).toFixed(1)} s: ${err.slice(0, 200)} (peak rss ${Math.round(rssMb().peakMb)} MB)`);
      }
    }, 100);
    const t0 = Date.now();
    await Promise.race([done, sleep(WINDOW_MS)]);
    clearInterval(watch);
    if (cycles.length < 2) throw new Error(`only ${cycles.length} cycles in ${WINDOW_MS} ms (last error: ${poller.lastError})`);
    const steady = cycles.slice(1);
    const first = cycles[0];
    const last = cycles[cycles.length - 1];
    let vswitchd = null;
    if (pid && first.cpu && last.cpu) {
      const d = cpuDelta(first.cpu, last.cpu);
      const n = cycles.length - 1;
      const idleRate = idle!.mainMs / idle!.wallMs;
      vswitchd = {
        windowS: d.wallMs / 1000,
        mainCpuMsPerCycle: (d.mainMs - idleRate * d.wallMs) / n,
        mainSharePct: (100 * d.mainMs) / d.wallMs,
        idleMainSharePct: 100 * idleRate,
        processSharePct: (100 * d.processMs) / d.wallMs,
        idleProcessSharePct: (100 * idle!.processMs) / idle!.wallMs,
      };
    }
    const result = {
      bench: 'poller',
      mode,
      size,
      seeded: started.seeded,
      share: SHARE,
      errors,
      flowsSeen: last.flows,
      parseErrors: last.parseErrors,
      first: { dumpMs: first.dumpMs, cycleMs: first.cycleMs, created: first.created },
      steady: {
        cycles: steady.length,
        dumpMs: median(steady.map((c) => c.dumpMs)),
        cycleMs: median(steady.map((c) => c.cycleMs)),
        updated: median(steady.map((c) => c.updated)),
        intervalMs: last.nextIntervalMs,
      },
      rss: { beforeAppMb: rssBefore.rssMb, afterMb: rssMb().rssMb, peakMb: rssMb().peakMb },
      vswitchd,
      reference: {
        wallMs: median(ref.wallMs),
        mainCpuMs: ref.mainMs.length ? median(ref.mainMs) : null,
        mb: ref.bytes / 1e6,
      },
      load: readFileSync('/proc/loadavg', 'utf8').split(' ')[0],
      seconds: (Date.now() - t0) / 1000,
    };
    emit(result);
  } finally {
    await service?.close();
    replay?.kill('SIGTERM');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
