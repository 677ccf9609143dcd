/**
 * bench/parse, trace part: ofproto/trace replies parsed per second (tree, steps, cookies, actions,
 * Datapath actions through the ODP parser), on the realistic mix of the captured replies (from
 * 3-step ARP passes to ~490-line routed ones), side by side with ovn-detrace's own reading of the
 * same text (its regexes, Python, cookies only: it does far less).
 * Usage: npm run bench:parse-traces [-- REPEAT]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseOfprotoTrace } from '../../src/ovs/ofproto-trace';

// The Debian 12 capture, as in earlier runs (test/fixtures/captured/<version>/, one folder per OVS/OVN pair).
const root = join(__dirname, '../../test/fixtures/captured/ovs-3.1.0_ovn-23.03.1');
const texts: string[] = [];
for (const scenario of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
  const dir = join(root, scenario.name, 'traces');
  for (const f of readdirSync(dir).filter((f) => /^[0-9a-f-]{36}\.txt$/.test(f))) texts.push(readFileSync(join(dir, f), 'utf8'));
}
const repeat = Number(process.argv[2] ?? 200);
const mix = Array.from({ length: repeat }, () => texts).flat();
const lines = texts.map((t) => t.split('\n').length).sort((a, b) => a - b);

for (const t of texts) parseOfprotoTrace(t); // warm-up
let steps = 0;
const t0 = process.hrtime.bigint();
for (const t of mix) {
  const r = parseOfprotoTrace(t);
  if (r.kind === 'trace') steps += r.pass.steps.length;
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

const file = join(__dirname, '../data/trace-mix.txt');
writeFileSync(file, mix.join('\n\u0000\n'));
const py = JSON.parse(execFileSync('/usr/bin/python3', [join(__dirname, 'detrace_scan.py'), file], { encoding: 'utf8' })) as { traces_per_s: number };

const ours = mix.length / seconds;
console.log(`captured replies: ${texts.length} (lines: min ${lines[0]}, median ${lines[lines.length >> 1]}, max ${lines[lines.length - 1]}), mix of ${mix.length}`);
console.log(`ours (structured parse):           ${ours.toFixed(0)} traces/s, ${(steps / seconds).toFixed(0)} steps/s`);
console.log(`ovn-detrace's line scan (Python):  ${py.traces_per_s.toFixed(0)} traces/s (cookies only)`);
console.log(`ratio ours / reference:            ${(ours / py.traces_per_s).toFixed(2)}x`);
