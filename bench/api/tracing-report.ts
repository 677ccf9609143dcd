/**
 * bench/api/RESULTS-tracing.md from bench/data/tracing-load.ndjson (one line per tracing-load.sh run):
 * per run, its phases side by side. Usage: tracing-report.ts [NDJSON] [LABEL...] (default: every run).
 */
import { readFileSync } from 'node:fs';

interface Stat { n: number; p50: number; p99: number; max: number }
interface Phase { phase: string; packets: number; traces: number; sightToStoredMs: Stat; packetToStoredMs: Stat; reads?: { perS: number; p50: number; p99: number; non2xx: number }; load: string }
interface Run { label: string; pair: string; date: string; rate: number; phaseS: number; readers: number; page: string; pageBytes: number; prefillTraces: number; phases: Phase[] }

const [file = 'bench/data/tracing-load.ndjson', ...labels] = process.argv.slice(2);
const runs = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Run).filter((r) => !labels.length || labels.includes(r.label));
const s = (x: Stat) => `${x.p50} / ${x.p99} / ${x.max}`;
for (const r of runs) {
  console.log(`### ${r.label} (${r.pair}, ${r.date.slice(0, 16).replace('T', ' ')} UTC)\n`);
  console.log(`${r.rate} packets/s for ${r.phaseS} s a phase (3 passes each); readers: ${r.readers} connections on \`${r.page}\` (${r.pageBytes.toLocaleString('en')} bytes), ${r.prefillTraces.toLocaleString('en')} traces stored at the end.\n`);
  console.log('| phase | traces | first sight → stored, ms p50 / p99 / max | packet → stored, ms p50 / p99 / max | reads/s, p50 / p99 ms | load |');
  console.log('|---|---|---|---|---|---|');
  for (const p of r.phases)
    console.log(`| ${p.phase} | ${p.traces} of ${p.packets * 3} | ${s(p.sightToStoredMs)} | ${s(p.packetToStoredMs)} | ${p.reads ? `${p.reads.perS.toFixed(0)}, ${p.reads.p50} / ${p.reads.p99}${p.reads.non2xx ? ` (${p.reads.non2xx} non-2xx)` : ''}` : '—'} | ${p.load.replace('load ', '')} |`);
  console.log('');
}
