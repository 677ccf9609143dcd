/**
 * bench/live/RESULTS.md from the RESULT lines run.sh collected (bench/data/live/results.ndjson).
 * Usage: report.ts RESULTS_NDJSON > RESULTS.md
 */
import { readFileSync } from 'node:fs';

/* eslint-disable @typescript-eslint/no-explicit-any */
const rows: any[] = readFileSync(process.argv[2], 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l));
const of = (b: string) => rows.filter((r) => r.bench === b);
const f0 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en'));
const f1 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(1));
const f2 = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(2));
const out: string[] = [];
const p = (s = '') => out.push(s);

const m = of('machine')[0] ?? {};
p('# bench/live results');
p();
p("ofproto/detrace vs ofproto/trace of the flow's own key (OVS 3.5 and 4.0, side by side, and why LIVETRACE_TRACE_METHOD defaults to `trace`): [RESULTS-methods.md](RESULTS-methods.md), by `bench/live/methods.sh`.");
p();
p(`Run by \`bench/live/run.sh\` on ${m.date ?? '?'}: ${m.cpu ?? '?'}, ${m.cores ?? '?'} cores, ${m.memGb ?? '?'} GiB, ${m.ovs ?? ''}, node ${m.node ?? ''}.`);
p(`Load average at the start: ${m.load ?? '?'} (other sessions share the machine: absolute times are noisy, ratios less so).`);
p('The service runs in-process (createApp, ts-node transpile-only; its start is not measured).');
if (m.commit) p(`Code measured: commit ${m.commit} (a \`git archive\` of it, so uncommitted edits in the working tree are not in these numbers).`);
p();
p('**Real** = flows installed in the sandbox\'s ovs-vswitchd (userspace datapath, megaflows disabled, TCP SYNs from lsp1');
p('to lsp2 through the allow-related ACL: three flows per connection, recirc 0 → 0x1 → 0x2).');
p('**Replayed** = the dummy datapath cannot hold more than 65,536 flows: a replay server (`fake-vswitchd.ts`) answers');
p('`dpctl/dump-flows` over unixctl with the real captured lines repeated with fresh UFIDs and varied addresses; between dumps');
p('10% of the flows\' counters grow. VswitchdService, PollerService, the parser, the diff and the writer are unchanged.');
p();

p('## Poller: cycle time, RSS, ovs-vswitchd CPU');
p();
p('Every run starts the service on a database that already holds the dumped flows as open lifetimes (PollerService.seedFromStore,');
p('its restart path), so all cycles are steady ones; the first (unseeded) cycle is measured below. Dump = VswitchdService.call round trip');
p('(ovs-vswitchd formatting, transfer, our framing and JSON decoding); cycle = dump + parseDumpFlows + DatapathFlowTable.apply +');
p('writer commit. Interval = the one the poller chose (floor 1 s, cap LIVETRACE_POLL_MAX_SHARE); medians of the steady cycles.');
p('vswitchd CPU is /proc utime+stime of its main thread (the one answering unixctl), idle rate subtracted, per cycle.');
p();
p('| flows | source | cycles | dump ms | cycle ms | updates/cycle | interval chosen (share) | vswitchd main CPU ms/cycle | main thread busy over time | RSS after / peak MB | `ovs-appctl dpctl/dump-flows -m >/dev/null` ms | its vswitchd CPU ms | cycle ÷ ovs-appctl |');
p('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of of('poller').filter((x) => x.seeded !== null)) {
  const v = r.vswitchd;
  p(
    `| ${f0(r.size)} | ${r.mode === 'real' ? 'real' : 'replayed'} | ${r.steady.cycles + 1} | ${f0(r.steady.dumpMs)} | ${f0(r.steady.cycleMs)} | ${f0(r.steady.updated)} | ` +
      `${f1(r.steady.intervalMs / 1000)} s (${r.share ?? ''}) | ${v ? f0(v.mainCpuMsPerCycle) : 'n/a (replay)'} | ${v ? `${f2(v.mainSharePct)}% (idle ${f2(v.idleMainSharePct)}%)` : '–'} | ` +
      `${f0(r.rss.afterMb)} / ${f0(r.rss.peakMb)} | ${f0(r.reference.wallMs)} | ${r.reference.mainCpuMs === null ? 'n/a (replay)' : f0(r.reference.mainCpuMs)} | ${f2(r.steady.cycleMs / r.reference.wallMs)} |`,
  );
}
p();
if (!of('poller').some((x) => x.mode === 'replay')) {
  p('Replayed sizes were not re-run this time (time box); the previous run (before the recirculation fixes, seeded, so steady cycles');
  p('only) had 10k: cycle 131 ms, 50k: 1,165 ms, 200k: 5,199 ms (RSS peak 2,705 MB). Steady cycles do no linking, so they are not');
  p('expected to change. `bench/live/run.sh` with BENCH_PHASES=replay re-runs them.');
} else p('For replayed sizes `ovs-appctl` talks to the replay server, so its time is the client side only (decoding and printing the reply).');
const asis = of('poller').filter((x) => x.seeded === null);
for (const r of asis) {
  p();
  p(`Unseeded poller.ts run at ${f0(r.size)} ${r.mode} flows: ${r.errors.length ? `first cycle failed after ${f1(r.errors[0].afterS)} s: \`${r.errors[0].error}\`` : 'no error'}; first cycle ${f0(r.first.cycleMs)} ms, ${f0(r.first.created)} created; peak RSS ${f0(r.rss.peakMb)} MB.`);
}
p();

const l = of('links')[0];
p('## First cycle: recirculation linking (src/collectors/recirc-index.ts)');
p();
p('DatapathFlowTable.apply links a created flow to the flows it recirculates into / from through RecircIndex: a child must be a packet');
p('the parent\'s own key and masks accept (fields the parent rewrites excluded), looked up by match shape and masked values. The first');
p('apply of a dump, no daemon, no database (`links.ts`). The sandbox shape is one VM opening N TCP connections through the');
p('allow-related ACL (every pass 0 ends in `ct(zone=1),recirc(0x1)`): exactly 2 links per connection are true.');
p();
p('| flows | sandbox shape: apply ms | links returned | true links (2 per connection) | before the fix: ms / links | replayed lines: apply ms | links |');
p('|---|---|---|---|---|---|---|');
const before: Record<number, string> = { 1000: '1,171 / 222,111', 2000: '4,809 / 889,111', 4000: '22,282 / 3,555,111', 10000: 'not run (quadratic)' };
for (const r of l?.rows ?? []) {
  const full = Math.floor(r.flows / 3);
  p(`| ${f0(r.flows)} | ${f0(r.sandbox.ms)} | ${f0(r.sandbox.links)} | ${f0(full * 2)} | ${before[r.flows] ?? '–'} | ${f0(r.replay.ms)} | ${f0(r.replay.links)} |`);
}
p();
p('Sandbox shape: links are now exactly 2 per complete connection and time grows linearly. The replayed column still grows ~N²,');
p('but that is the replay generator, not the index: `replayLines` repeats 60 captured lines and varies only 10.0.0.1 and one MAC,');
p('so lines without them (lsp2↔lsp3 traffic, …) repeat with identical keys: 10,000 lines hold 7,513 distinct keys, some');
p('repeated 167 times, and each copy of a parent rightly accepts each copy of its child. A real datapath holds one flow per key,');
p('so this cannot happen there; the replay generator should vary every address (not done: replay was not re-run here).');
p();
const tr = of('traces');
p('The service\'s **first (unseeded) poll cycle** over the real flows, then a session `{logicalPort: lsp1, includeExisting: true}`');
p('over them (traces.ts with BENCH_SEED=0: empty database, poller on, first cycle timed by PollerService.lastCycle; rows counted in the');
p('service\'s SQLite file after the cycle):');
p();
p('| flows | first cycle ms (dump ms) | created | datapath_flow rows | recirc_edge rows | RSS after MB | errors | session selected / stored | before the fix |');
p('|---|---|---|---|---|---|---|---|---|');
for (const t of tr.filter((x) => x.firstCycle)) {
  const c = t.firstCycle;
  const was = t.flows > 20000 ? 'RangeError (Map > 2^24 links), 0 rows, peak 2,987 MB; session froze the service 5+ min' : 'not completed (quadratic: 4k flows alone took 22 s of linking)';
  p(`| ${f0(t.flows)} | ${f0(c.cycleMs)} (${f0(c.dumpMs)}) | ${f0(c.created)} | ${f0(c.rows)} | ${f0(c.recircEdges)} | ${f0(c.rss.rssMb)} | ${c.errors.length ? c.errors.join('; ') : 'none'} | ${f0(t.e2e.stats.selected)} / ${f0(t.e2e.stats.stored)} | ${was} |`);
}
p();

p('## Traces per second and their cost to ovs-vswitchd');
p();
for (const t of tr) {
  p(`On ${f0(t.flows)} real live flows (${t.load}); main-thread CPU from /proc, no poll dump inside the windows.`);
  p();
  p('| way | traces/s | ovs-vswitchd main-thread CPU per trace | % of the raw ceiling |');
  p('|---|---|---|---|');
  p(`| \`ovs-appctl ofproto/trace <key>\` spawned per flow (offline way), ${t.spawned.n} flows | ${f0(t.spawned.perS)} | ${f2(t.spawned.mainCpuMsPerTrace)} ms | ${f1((100 * t.spawned.perS) / t.raw.perS)}% |`);
  p(`| ofproto/trace over one persistent unixctl connection (UnixctlClient), ${t.raw.n} calls | ${f0(t.raw.perS)} | ${f2(t.raw.mainCpuMsPerTrace)} ms | 100% |`);
  p(
    `| end to end: session {logicalPort: lsp1, includeExisting}, LIVETRACE_TRACE_RATE=100000, ${f1(t.e2e.windowS)} s | ${f0(t.e2e.storedPerS)} stored (${f0(t.e2e.tracedPerS)} traced) | ${f2(t.e2e.mainCpuMsPerTrace)} ms | ${f1((100 * t.e2e.tracedPerS) / t.raw.perS)}% |`,
  );
  p();
  p(`Session stats at the end: \`${JSON.stringify(t.e2e.stats)}\`; RSS ${f0(t.e2e.rssMb.rssMb)} MB; stored over time (s → traces): ${(t.e2e.samples ?? []).map((x: any) => `${x.s} → ${f0(x.stored)}`).join(', ')}.`);
  if (t.e2e.paths) p(`Paths: the session's ${f0(t.e2e.paths.traces)} traces fell into **${f0(t.e2e.paths.paths)} distinct paths** (${f0(Math.floor(t.flows / 3))} connections; ${f0(t.e2e.paths.noPath)} traces without a path; ${f0(t.e2e.paths.pathRows)} path rows). Before the fix: 1 path for all 4,497.`);
  p(`The issue's target: ≥ 80% of the 1-ms-per-trace ceiling, i.e. ≥ 800 traces/s end to end. One ofproto/trace costs`);
  p(`${f2(t.raw.mainCpuMsPerTrace)} ms of the main thread (ceiling ${f0(1000 / t.raw.mainCpuMsPerTrace)}/s of CPU; ${f0(t.raw.perS)}/s measured on the wire).`);
  p(`End to end: **${f0(t.e2e.storedPerS)}/s — target ${t.e2e.storedPerS >= 800 ? 'met' : 'NOT met'}** (before the fix: 74/s at 10k). ovs-vswitchd's main thread was busy ${f1(t.e2e.mainSharePct)}% of the window.`);
  p();
}

p('## Before and after the recirculation fixes (commits 21a61f2, 88f2c80)');
p();
p('| measurement | before (run of 2026-11-27 06:23) | now |');
p('|---|---|---|');
const lk = (n: number) => (l?.rows ?? []).find((r: any) => r.flows === n);
if (lk(4000)) p(`| links.ts 4k sandbox flows: apply ms / links | 22,282 / 3,555,111 | ${f0(lk(4000).sandbox.ms)} / ${f0(lk(4000).sandbox.links)} |`);
if (lk(10000)) p(`| links.ts 10k sandbox flows: apply ms / links | not run (quadratic) | ${f0(lk(10000).sandbox.ms)} / ${f0(lk(10000).sandbox.links)} |`);
for (const t of tr) {
  const big = t.flows > 20000;
  p(`| first unseeded cycle, ${f0(t.flows)} real flows: ms / rows / RSS MB | ${big ? 'RangeError, 0 rows, 2,987 MB peak' : 'not completed (seeded runs used instead)'} | ${f0(t.firstCycle?.cycleMs)} / ${f0(t.firstCycle?.rows)} / ${f0(t.firstCycle?.rss.rssMb)} |`);
  p(`| end to end traces/s, ${f0(t.flows)} flows | ${big ? 'service froze (event loop blocked 5+ min)' : '74'} | ${f0(t.e2e.storedPerS)} |`);
  p(`| distinct paths, ${f0(t.flows)} flows | ${big ? '–' : '1'} | ${f0(t.e2e.paths?.paths)} |`);
}
p();

p('## What the numbers still say about src/collectors (for the owners; bench/ does not change src/)');
p();
p('1. **The adaptive interval uses the round trip (dumpMs), not ovs-vswitchd\'s time**: the round trip includes our JSON decoding and');
p('   event-loop delays, several times the main-thread CPU the dump costs (compare "dump ms" with "vswitchd main CPU ms/cycle"), so');
p('   the poller backs off more than the 5% cap requires (conservative, but the reported share overstates the cost).');
p('2. The poller always dumps everything in the committed code measured here: sessions scoped to a port do not narrow the dump');
p('   with `filter=` (the issue asks for it; in progress in the working tree at the time of this run, not measured).');
p('3. bench/live\'s replay generator repeats identical keys (see above); its link counts are not evidence against RecircIndex.');
p('4. **Memory after a large session**: RSS grows with the traces a session stores (see the RSS after each session above; at 50k it was');
p('   ~1.8 GB after 50k traces, against 0.8 GB after the first cycle). Not investigated (heap not profiled) — worth a heap snapshot.');
p('5. End to end now reaches ~39% of the raw ofproto/trace wire rate while ovs-vswitchd\'s main thread stays ~25–28% busy: the');
p('   remaining limit is on our side (annotation + store per trace); our process CPU was not sampled in this run.');
p('6. Nothing measured here is slow any more, so nothing was profiled in the service. For the record, `node --cpu-prof links.ts` on 50,000');
p('   sandbox-shape flows (sandbox column only; apply 1.7 s, 33,333 links, linear with 10k\'s 318 ms): garbage collector 26% of');
p('   samples, then scanKeyFields src/ovs/odp-key.ts:49 6%, childrenOf src/collectors/recirc-index.ts:213 4%, apply');
p('   src/collectors/datapath-diff.ts:11 4%, scanAttr odp-key.ts:115 3%, linksOf datapath-diff.ts:78 3%, matchShape recirc-index.ts:40 3%,');
p('   valuesUnder recirc-index.ts:67 3% (lines of the transpiled output, close to the sources\'): no hot spot, parsing and allocation dominate.');
p();
p('fill.ts now waits for the revalidators\' dynamic flow limit before each chunk: over the limit they evict every flow idle for 100 ms,');
p('and a first attempt of this run lost 10,002 filled flows down to 4,052 before the measurements (discarded).');
p();
p('Reproduce: `bench/live/run.sh` (this run: BENCH_PHASES="links real traces", ~6 min; replay adds ~15 min); raw results in bench/data/live/results.ndjson; `links.ts`, `stages.ts SOCKET` alone.');
process.stdout.write(out.join('\n') + '\n');
