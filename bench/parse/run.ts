/**
 * bench/parse: a 200,000-flow `dpctl/dump-flows -m` built from the captured fixtures, parsed by
 * our parser (all of it: keys, masks and actions into structures) and by OVS's Python parser
 * (ovs.flow.odp.ODPFlow, the one behind ovs-flowviz) side by side in one run. The Python parser
 * manages a few thousand flows a second, so it parses a sample and its time for the whole dump
 * is extrapolated (the output says so). Each side runs in its own process for its own peak RSS.
 *
 * Usage: npx ts-node --swc -P tsconfig.json bench/parse/run.ts [FLOWS=200000] [PYTHON_SAMPLE=5000]
 */
import { execFileSync } from 'child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'fs';
import { join } from 'path';
import { cpus, loadavg } from 'os';

const ROOT = join(__dirname, '../..');
const CAPTURED = join(ROOT, 'test/fixtures/captured');

interface SideResult {
  flows: number;
  seconds: number;
  flows_per_s: number;
  peak_rss_kb: number;
  errors?: number;
  failed?: number;
  build_all_seconds?: number;
}

function capturedLines(): string[] {
  const out: string[] = [];
  for (const s of readdirSync(CAPTURED)) {
    const f = join(CAPTURED, s, 'dump-flows.txt');
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, 'utf8').split('\n')) if (l.startsWith('ufid:')) out.push(l);
  }
  return out;
}

/** Repeats captured lines with a fresh UFID each and the endpoint addresses varied. */
export function buildDump(flows: number): string {
  const base = capturedLines();
  if (base.length === 0) throw new Error(`no captured dump lines under ${CAPTURED}: run scripts/capture-fixtures`);
  const parts: string[] = ['flow-dump from the main thread:'];
  for (let i = 0; i < flows; i++) {
    if (i === flows >> 1) parts.push('flow-dump from pmd on cpu core: 1');
    const hex = i.toString(16).padStart(12, '0');
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const mac = `50:54:00:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
    const line = base[i % base.length]
      .replace(/^ufid:[0-9a-f-]{36}/, `ufid:${hex.slice(0, 8)}-0000-4000-8000-${hex}`)
      .replace(/=10\.0\.0\.1(?=[/,)])/g, `=${a}`)
      .replace(/src=50:54:00:00:00:01/g, `src=${mac}`);
    parts.push(line);
  }
  return `${parts.join('\n')}\n`;
}

function runOurs(file: string): SideResult {
  const tsNode = require.resolve('ts-node/dist/bin.js');
  const out = execFileSync(process.execPath, [tsNode, '--swc', '-P', join(ROOT, 'tsconfig.json'), join(__dirname, 'ours.ts'), file], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as SideResult;
}

function runPython(file: string, sample: number): SideResult {
  const out = execFileSync('/usr/bin/python3', [join(__dirname, 'python_odp.py'), file, String(sample)], { encoding: 'utf8' });
  return JSON.parse(out.trim()) as SideResult;
}

function main(): void {
  const flows = Number(process.argv[2] ?? 200_000);
  const sample = Number(process.argv[3] ?? 5_000);
  const dir = join(ROOT, 'bench/data');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `dump-${flows}.txt`);
  writeFileSync(file, buildDump(flows));
  const size = readFileSync(file).length;
  console.log(`dump: ${flows} flows, ${(size / 1e6).toFixed(1)} MB, built from ${capturedLines().length} captured lines (${file})`);

  console.log(`load average at start: ${loadavg()[0].toFixed(2)} on ${cpus().length} cores (other work on the machine skews both sides)`);
  const ours = runOurs(file);
  const py = runPython(file, sample);
  const pyWhole = flows / py.flows_per_s;
  const row = (name: string, r: SideResult, note: string) =>
    console.log(
      `${name.padEnd(22)} ${String(r.flows).padStart(7)} flows ${r.seconds.toFixed(3).padStart(8)} s ` +
        `${Math.round(r.flows_per_s).toString().padStart(9)} flows/s  peak RSS ${(r.peak_rss_kb / 1024).toFixed(0).padStart(5)} MB  ${note}`,
    );
  row('ovn-livetrace (TS)', ours, ours.errors ? `${ours.errors} line errors!` : 'checked whole, objects built on read');
  const built = ours.seconds + (ours.build_all_seconds ?? 0);
  console.log(`${''.padEnd(22)} + building every key/action object: ${(ours.build_all_seconds ?? 0).toFixed(3)} s ` +
    `(${built.toFixed(3)} s, ${Math.round(flows / built)} flows/s, ${(flows / built / py.flows_per_s).toFixed(1)}x Python, all objects)`);
  row('ovs.flow.odp.ODPFlow', py, `sample${py.failed ? ` (${py.failed} rejected)` : ''}; whole dump extrapolated: ${pyWhole.toFixed(1)} s`);
  console.log(`ratio: ${(ours.flows_per_s / py.flows_per_s).toFixed(1)}x the Python parser (flows/s)`);
  console.log(`target: ${flows} flows in < 2 s: ${ours.seconds < 2 ? 'met' : 'NOT met'} (${ours.seconds.toFixed(3)} s)`);
}

main();
