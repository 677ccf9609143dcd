/**
 * The service itself (in-process, default poll interval 1 s) under each LIVETRACE_TRACE_METHOD, on
 * the same traffic mix: a session on lsp1, then N one-packet connections (a lone SYN each) and N
 * continuing ones (their SYN again every 200 ms for 3 s), fresh flows for each method. Per method:
 * traces stored, how many by detrace and by key (and the recorded reasons), and the delay from the
 * poll cycle that first saw a flow to its stored trace. Run by methods.sh after methods.ts.
 * Env: BENCH_SANDBOX, BENCH_SERVICE_N (connections per kind, 100).
 */
import Database from 'better-sqlite3';
import request from 'supertest';
import { PollerService } from '../../src/collectors/poller.service';
import { UnixctlClient } from '../../src/unixctl/client';
import { emit, env, loadLine, median, sleep, vswitchdCtl } from './common';
import { synFrom } from './fill';
import { sandboxEnv, startService } from './service';

const dir = env('BENCH_SANDBOX');
const N = Number(process.env.BENCH_SERVICE_N ?? 100);
const log = (s: string) => process.stderr.write(`  [methods-service] ${s}\n`);

async function send(c: UnixctlClient, vif1: number, from: number, n: number): Promise<void> {
  for (let k = 0; k < n; k += 40) {
    await c.call('netdev-dummy/receive', ['vif1', ...Array.from({ length: Math.min(40, n - k) }, (_, j) => synFrom(vif1, from + k + j))]);
    await sleep(20);
  }
}

async function run(method: 'trace' | 'auto' | 'detrace', base: number) {
  const c = new UnixctlClient({ target: vswitchdCtl(dir), timeoutMs: 60_000 });
  const vif1 = Number(/^\s+vif1 \d+\/(\d+):/m.exec(await c.call('dpif/show'))?.[1]);
  // The previous run's flows out of the way (bench only; the service never does this).
  await c.call('dpctl/del-flows');
  const started = await startService({ ...sandboxEnv(dir), LIVETRACE_TRACE_METHOD: method, LIVETRACE_TRACE_RATE: '100000' }, {});
  const db = new Database(started.dbPath, { readonly: true });
  try {
    const poller = started.app.get(PollerService);
    for (let i = 0; i < 100 && !poller.lastCycle; i++) await sleep(100); // flows already there are seen before the session
    const http = request(started.app.getHttpServer());
    const id = (await http.post('/trace-sessions').send({ logicalPort: 'lsp1' }).expect(201)).body.id as number;
    await send(c, vif1, base, N); // one-packet
    const end = performance.now() + 3000;
    while (performance.now() < end) {
      await send(c, vif1, base + N, N); // continuing
      await sleep(200);
    }
    // Until every flow the session selected is handled (detrace mode waits 1 s for some).
    let stats = { selected: 0, stored: 0, failed: {} as Record<string, number> };
    for (let quiet = 0, last = -1; quiet < 4; ) {
      await sleep(1000);
      stats = (await http.get(`/trace-sessions/${id}`).expect(200)).body.stats;
      quiet = stats.stored === last && stats.stored > 0 ? quiet + 1 : 0;
      last = stats.stored;
    }
    const rows = db
      .prepare(
        `SELECT t.method AS method, t.method_reason AS reason, t.created_at AS at, d.first_seen AS seen
         FROM trace t JOIN datapath_flow d ON d.id = t.datapath_flow_id WHERE t.session_id = ?`,
      )
      .all(id) as Array<{ method: string; reason: string | null; at: string; seen: string }>;
    const delays = rows.map((r) => Date.parse(r.at) - Date.parse(r.seen));
    const reasons: Record<string, number> = {};
    for (const r of rows) reasons[`${r.method}: ${r.reason}`] = (reasons[`${r.method}: ${r.reason}`] ?? 0) + 1;
    const p90 = [...delays].sort((a, b) => a - b)[Math.floor(delays.length * 0.9)] ?? NaN;
    const out = {
      method,
      stored: stats.stored,
      selected: stats.selected,
      failed: stats.failed,
      byDetrace: rows.filter((r) => r.method === 'detrace').length,
      byTrace: rows.filter((r) => r.method === 'trace').length,
      reasons,
      delayMedianMs: median(delays),
      delayP90Ms: p90,
    };
    log(`${method}: ${out.stored} stored of ${out.selected} selected, ${out.byDetrace} by detrace, ${out.byTrace} by key; delay after first sight median ${out.delayMedianMs} ms, p90 ${p90} ms`);
    return out;
  } finally {
    db.close();
    await started.close();
    c.close();
  }
}

async function main(): Promise<void> {
  log(`${N} one-packet + ${N} continuing connections per method (${loadLine()})`);
  const runs = [];
  let base = 500_000;
  for (const m of ['trace', 'auto', 'detrace'] as const) {
    runs.push(await run(m, base));
    base += 2 * N;
  }
  emit({ bench: 'methods-service', load: loadLine(), perKind: N, runs });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
