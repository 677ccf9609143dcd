/**
 * ofproto/detrace vs ofproto/trace of the flow's own key, side by side on the same real flows of the
 * sandbox's ovs-vswitchd (OVS >= 3.4; run by methods.sh per pair). What the default of
 * LIVETRACE_TRACE_METHOD is chosen from (bench/live/RESULTS.md, "detrace vs trace").
 *
 *   1. When does detrace answer? Fresh flows of two kinds, followed from first sight in a dump
 *      (polled every 250 ms, as the service sees a flow within one poll interval): one-packet flows
 *      (a lone SYN each) and continuing flows (the same SYN again every 200 ms for 3 s). Detrace is
 *      asked at first sight and 0.5, 1, 2 and 4 s later: the cumulative share answered at each step.
 *   2. Agreement, on the flows where both answer: the OVN cookies (non-zero, in order) of detrace's
 *      rules vs the matched steps of the own-key trace; also every step (table and cookie, cookie-0
 *      glue included).
 *   3. Cost, on those flows, over one persistent unixctl connection each (UnixctlClient, as the
 *      service): calls per second, ovs-vswitchd main-thread CPU per call (/proc), and our parse
 *      (+ pass building) time per reply. Rounds alternate detrace, trace, detrace, trace.
 *
 * The bench sends packets (netdev-dummy/receive) to make traffic; it never asks the daemon to
 * revalidate: caches appear as they do in production, from traffic and the revalidators' rounds.
 * Env: BENCH_SANDBOX, BENCH_FRESH (flows per kind, 200), BENCH_COST_CALLS (3000).
 */
import { detracePass } from '../../src/collectors/detrace-pass';
import { DumpedFlow, parseDumpFlows } from '../../src/ovs/dump-flows';
import { traceKey } from '../../src/ovs/odp-key';
import { parseOfprotoDetrace } from '../../src/ovs/ofproto-detrace';
import { parseOfprotoTrace } from '../../src/ovs/ofproto-trace';
import { UnixctlClient } from '../../src/unixctl/client';
import { pmdOf } from '../../src/collectors/datapath-diff';
import { cpuDelta, cpuOf, emit, env, loadLine, sleep, vswitchdCtl, vswitchdPid } from './common';
import { synFrom } from './fill';

const dir = env('BENCH_SANDBOX');
const FRESH = Number(process.env.BENCH_FRESH ?? 200);
const COST_CALLS = Number(process.env.BENCH_COST_CALLS ?? 3000);
const CHECKS_MS = [0, 500, 1000, 2000, 4000];
const log = (s: string) => process.stderr.write(`  [methods] ${s}\n`);

const args = (f: DumpedFlow) => {
  const pmd = pmdOf(f);
  return pmd === null ? [`ufid:${f.ufid}`] : [`ufid:${f.ufid}`, `pmd=${pmd}`];
};

async function dump(c: UnixctlClient): Promise<DumpedFlow[]> {
  return parseDumpFlows(await c.call('dpctl/dump-flows', ['-m'])).items.filter((f) => f.ufid);
}

async function answers(c: UnixctlClient, f: DumpedFlow): Promise<boolean> {
  try {
    return parseOfprotoDetrace(await c.call('ofproto/detrace', args(f))).kind === 'entries';
  } catch {
    return false;
  }
}

async function send(c: UnixctlClient, vif1: number, from: number, n: number): Promise<void> {
  for (let k = 0; k < n; k += 40) {
    await c.call('netdev-dummy/receive', ['vif1', ...Array.from({ length: Math.min(40, n - k) }, (_, j) => synFrom(vif1, from + k + j))]);
    await sleep(20);
  }
}

/** Part 1: fresh flows, followed from first sight. */
async function answerRate(c: UnixctlClient, vif1: number, kind: 'one-packet' | 'continuing', base: number) {
  const known = new Set((await dump(c)).map((f) => f.ufid!));
  const firstSeen = new Map<string, { flow: DumpedFlow; at: number; answeredAt: number | null; checks: number }>();
  const t0 = performance.now();
  await send(c, vif1, base, FRESH);
  let resend = kind === 'continuing' ? performance.now() + 200 : Infinity;
  const stopResend = performance.now() + 3000;
  while (performance.now() - t0 < 9000) {
    if (performance.now() >= resend && performance.now() < stopResend) {
      await send(c, vif1, base, FRESH);
      resend = performance.now() + 200;
    }
    const now = performance.now();
    for (const f of await dump(c)) {
      if (known.has(f.ufid!) || firstSeen.has(f.ufid!)) continue;
      firstSeen.set(f.ufid!, { flow: f, at: now, answeredAt: null, checks: 0 });
    }
    for (const s of firstSeen.values()) {
      if (s.answeredAt !== null || s.checks >= CHECKS_MS.length) continue;
      if (performance.now() - s.at < CHECKS_MS[s.checks]) continue;
      if (await answers(c, s.flow)) s.answeredAt = CHECKS_MS[s.checks];
      s.checks++;
    }
    await sleep(250);
  }
  const all = [...firstSeen.values()];
  const cumulative = CHECKS_MS.map((ms) => ({ ms, answered: all.filter((s) => s.answeredAt !== null && s.answeredAt <= ms).length }));
  log(`${kind}: ${all.length} flows; answered by ${cumulative.map((x) => `${x.ms} ms: ${x.answered}`).join(', ')}`);
  return { kind, flows: all.length, cumulative };
}

interface Both {
  flow: DumpedFlow;
  detrace: string;
  trace: string;
}

/** Part 2: the flows where both answer, and whether they agree. */
function agreement(both: Both[]) {
  let ovnSame = 0;
  let allSame = 0;
  let ovnCookies = 0;
  const differ: string[] = [];
  for (const b of both) {
    const d = parseOfprotoDetrace(b.detrace);
    const t = parseOfprotoTrace(b.trace);
    if (d.kind !== 'entries' || t.kind !== 'trace') continue;
    const steps = detracePass(d.entries, { key: '', actions: '' } as never).steps.filter((s) => s.outcome === 'match');
    const traced = t.pass.steps.filter((s) => s.outcome === 'match');
    const ovn = (xs: typeof steps) => xs.flatMap((s) => (s.cookie && s.cookie !== '0x00000000' ? [s.cookie] : [])).join(' ');
    const all = (xs: typeof steps) => xs.map((s) => `${s.table}:${s.cookie}`).join(' ');
    ovnCookies += ovn(steps).split(' ').filter(Boolean).length;
    if (ovn(steps) === ovn(traced)) ovnSame++;
    else if (differ.length < 3) differ.push(`${b.flow.ufid}: detrace ${ovn(steps)} | trace ${ovn(traced)}`);
    if (all(steps) === all(traced)) allSame++;
  }
  return { flows: both.length, ovnSame, allSame, ovnCookies, differ };
}

/**
 * Part 3: calls per second and ovs-vswitchd main-thread CPU per call, and our parse time. `miss`:
 * detrace of flows whose ukey has no cache ("Cache was not found"): what a fallback costs on top.
 */
async function cost(ctl: string, pid: number, both: Both[], method: 'detrace' | 'trace' | 'miss') {
  const c = new UnixctlClient({ target: ctl, timeoutMs: 60_000 });
  await c.call('version');
  let parseMs = 0;
  let failed = 0;
  const a = cpuOf(pid);
  for (let i = 0; i < COST_CALLS; i++) {
    const b = both[i % both.length];
    try {
      const text = method !== 'trace' ? await c.call('ofproto/detrace', args(b.flow)) : await c.call('ofproto/trace', [traceKey(b.flow.key)]);
      const p0 = performance.now();
      if (method === 'miss') {
        if (parseOfprotoDetrace(text).kind === 'entries') failed++;
      } else if (method === 'detrace') {
        const r = parseOfprotoDetrace(text);
        if (r.kind !== 'entries') failed++;
        else detracePass(r.entries, { key: '', actions: '' } as never);
      } else if (parseOfprotoTrace(text).kind !== 'trace') failed++;
      parseMs += performance.now() - p0;
    } catch {
      failed++;
    }
  }
  const d = cpuDelta(a, cpuOf(pid));
  c.close();
  const r = { method, calls: COST_CALLS, failed, perS: (COST_CALLS * 1000) / d.wallMs, mainCpuMsPerCall: d.mainMs / COST_CALLS, parseMsPerCall: parseMs / COST_CALLS };
  log(`${method}: ${r.perS.toFixed(0)} calls/s, ${r.mainCpuMsPerCall.toFixed(3)} ms of the main thread, ${r.parseMsPerCall.toFixed(3)} ms parse each (${failed} failed)`);
  return r;
}

async function main(): Promise<void> {
  const ctl = vswitchdCtl(dir);
  const pid = vswitchdPid(dir);
  const c = new UnixctlClient({ target: ctl, timeoutMs: 60_000 });
  const version = (await c.call('version')).trim().split('\n')[0];
  if (!(await c.has('ofproto/detrace'))) throw new Error(`${version} has no ofproto/detrace`);
  const vif1 = Number(/^\s+vif1 \d+\/(\d+):/m.exec(await c.call('dpif/show'))?.[1]);
  log(`${version} (${loadLine()})`);

  const oneShot = await answerRate(c, vif1, 'one-packet', 100_000);
  const continuing = await answerRate(c, vif1, 'continuing', 200_000);

  // The flows where both answer: the continuing ones (their caches exist by now) and any other.
  const both: Both[] = [];
  const pending: Both[] = [];
  let detraceNo = 0;
  let traceNo = 0;
  for (const f of await dump(c)) {
    let detrace = '';
    let trace = '';
    try {
      detrace = await c.call('ofproto/detrace', args(f));
    } catch {
      /* counted below */
    }
    try {
      trace = await c.call('ofproto/trace', [traceKey(f.key)]);
    } catch {
      /* counted below */
    }
    const dOk = detrace !== '' && parseOfprotoDetrace(detrace).kind === 'entries';
    const tOk = trace !== '' && parseOfprotoTrace(trace).kind === 'trace';
    if (!dOk) detraceNo++;
    if (!dOk && /^Cache was not found/.test(detrace)) pending.push({ flow: f, detrace, trace });
    if (!tOk) traceNo++;
    if (dOk && tOk) both.push({ flow: f, detrace, trace });
  }
  c.close();
  const agree = agreement(both);
  log(`both answer on ${both.length} flows (detrace did not on ${detraceNo}, trace did not on ${traceNo}); OVN cookies equal on ${agree.ovnSame}, every step on ${agree.allSame}`);
  if (!both.length) throw new Error('no flow where both methods answer');

  const rounds: Array<Awaited<ReturnType<typeof cost>>> = [];
  for (const m of ['detrace', 'trace', 'detrace', 'trace'] as const) rounds.push(await cost(ctl, pid, both, m));
  if (pending.length) for (let i = 0; i < 2; i++) rounds.push(await cost(ctl, pid, pending, 'miss'));
  const best = (m: string, k: 'perS' | 'mainCpuMsPerCall' | 'parseMsPerCall') => {
    const xs = rounds.filter((r) => r.method === m).map((r) => r[k]);
    if (!xs.length) return NaN;
    return k === 'perS' ? Math.max(...xs) : Math.min(...xs);
  };
  const summary = {
    detracePerS: best('detrace', 'perS'),
    tracePerS: best('trace', 'perS'),
    detraceMainCpuMs: best('detrace', 'mainCpuMsPerCall'),
    traceMainCpuMs: best('trace', 'mainCpuMsPerCall'),
    detraceParseMs: best('detrace', 'parseMsPerCall'),
    traceParseMs: best('trace', 'parseMsPerCall'),
    missPerS: best('miss', 'perS'),
    missMainCpuMs: best('miss', 'mainCpuMsPerCall'),
  };
  log(
    `detrace ÷ trace: calls/s ${(summary.detracePerS / summary.tracePerS).toFixed(2)}, main-thread CPU ${(summary.detraceMainCpuMs / summary.traceMainCpuMs).toFixed(2)}, parse ${(summary.detraceParseMs / summary.traceParseMs).toFixed(2)}`,
  );
  emit({ bench: 'methods', version, load: loadLine(), answerRate: [oneShot, continuing], both: both.length, detraceNo, traceNo, agree, rounds, summary });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
