/**
 * Steady state (issue 4): the southbound replica synced against a live SB that real ovn-northd
 * writes while churn.sh adds and removes NB ports in a loop. Reports the rows/s the replica
 * applied, the time spent inside Replica.applyUpdate2 (its capacity, independent of how fast
 * northd produces), and the event-loop lag of this process during the churn.
 *
 *   node churn.js SB_REMOTE CHURN_SCRIPT SECONDS
 * Prints one JSON line.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Replica } from '../../src/ovsdb/replica/replica';
import { ReplicaFollower } from '../../src/ovsdb/replica/follower';
import { SOUTHBOUND } from '../../src/replicas/ovn-tables';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Event-loop lag: a 10 ms timer re-armed each time, lag = how late it fired. (monitorEventLoopDelay
 * reports whole intervals, so its numbers sit on top of its resolution.)
 */
function lagSampler(intervalMs = 10) {
  const lags: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  let expected = 0;
  const tick = () => {
    const now = performance.now();
    lags.push(Math.max(0, now - expected));
    expected = now + intervalMs;
    timer = setTimeout(tick, intervalMs);
  };
  return {
    start() {
      expected = performance.now() + intervalMs;
      timer = setTimeout(tick, intervalMs);
    },
    stop() {
      clearTimeout(timer);
      const sorted = [...lags].sort((a, b) => a - b);
      const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
      return { samples: sorted.length, p50: pct(50), p99: pct(99), max: sorted[sorted.length - 1] ?? 0 };
    },
  };
}

async function main(): Promise<void> {
  const [remote, script, secondsText] = process.argv.slice(2);
  const seconds = Number(secondsText ?? 20);
  const replica = new Replica('OVN_Southbound', SOUTHBOUND);

  // Time spent applying notifications (not the initial dump): the replica's own cost.
  let applyMs = 0;
  let applyMaxMs = 0;
  let firstAt = 0;
  let lastAt = 0;
  let counting = false;
  const original = replica.applyUpdate2.bind(replica);
  replica.applyUpdate2 = (updates) => {
    const t = performance.now();
    original(updates);
    if (!counting) return;
    const d = performance.now() - t;
    applyMs += d;
    applyMaxMs = Math.max(applyMaxMs, d);
    if (!firstAt) firstAt = t;
    lastAt = t + d;
  };

  const follower = new ReplicaFollower(replica, { remotes: remote }).start();
  const t0 = performance.now();
  await follower.waitSynced();
  const syncSeconds = (performance.now() - t0) / 1000;
  await sleep(2000); // let northd's reaction to its own restart settle before counting
  const before = follower.getStatus();
  counting = true;

  const lag = lagSampler();
  lag.start();
  const churnStart = performance.now();
  const child = spawn('bash', [script, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let churnOut = '';
  child.stdout.on('data', (b: Buffer) => (churnOut += b.toString()));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
  const churnSeconds = (performance.now() - churnStart) / 1000;

  // Drain: northd and the server may still be behind the last nbctl call.
  let last = follower.getStatus().updatesApplied;
  let quietSince = performance.now();
  const drainLimit = performance.now() + 120_000;
  while (performance.now() - quietSince < 10_000 && performance.now() < drainLimit) {
    await sleep(200);
    const n = follower.getStatus().updatesApplied;
    if (n !== last) {
      last = n;
      quietSince = performance.now();
    }
  }
  const lagMs = lag.stop();
  const after = follower.getStatus();
  follower.close();

  const rows = after.rowsChanged - before.rowsChanged;
  const updates = after.updatesApplied - before.updatesApplied;
  const window = (lastAt - firstAt) / 1000;
  console.log(
    JSON.stringify({
      syncSeconds,
      churnExit: code,
      churnSeconds,
      churn: churnOut.trim().split('\n').pop(),
      updates,
      rowsChanged: rows,
      windowSeconds: window,
      rowsPerSecond: window > 0 ? rows / window : 0,
      applyMs,
      applyMaxMs,
      applyCapacityRowsPerSecond: applyMs > 0 ? rows / (applyMs / 1000) : 0,
      lagMs,
      rows: after.rows,
      maxRssKb: process.resourceUsage().maxRSS,
    }),
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
