/**
 * bench/parse: a 200,000-flow `dpctl/dump-flows -m` built from the captured fixtures, parsed by
 * our parser and by OVS's Python parser (ovs.flow.odp.ODPFlow, the one behind ovs-flowviz) side
 * by side in one run. THE number is ours fully materialised: every flow's key fields (masks
 * included) and actions built into the typed structures the service uses, every flow retained to
 * the end (as Python's list of ODPFlow objects is). Beside it: the same without the per-dump memo,
 * with a larger young generation, the check-only mode (`build: 'on-read'`), and a dump where every
 * address, MAC and port differs per flow (the memo's worst realistic case). The Python parser
 * manages a few thousand flows a second, so it parses a sample (twice: each flow dropped at once,
 * then every flow kept in a list as ovs-flowviz does and as our side does) and its time for the
 * whole dump is extrapolated (the output says so). Each side runs in its own process for its own
 * peak RSS. Ratios are given against both Python rates; the comparison is kept vs kept.
 *
 * Usage: npm run bench:parse [-- FLOWS=200000 [PYTHON_SAMPLE=20000]]
 */
import { execFileSync } from 'child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { cpus, loadavg } from 'os';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import { formatField } from '../../src/ovs/odp-key';
import { CAPTURED, capturedDumpLines } from '../captured';

const ROOT = join(__dirname, '../..');

interface SideResult {
  mode?: string;
  flows: number;
  seconds: number;
  flows_per_s: number;
  peak_rss_kb: number;
  heap_used_mb?: number;
  errors?: number;
  failed?: number;
  discarded_flows_per_s?: number;
  fields_and_attrs?: number;
  actions?: number;
}

/**
 * Repeats captured lines with a fresh UFID each. `captured` (the dump the target is measured on,
 * unchanged since the bench was written): the first VM's IPv4 address (10.0.0.1) and MAC vary per
 * flow. `distinct`: every 10.0.0.N address, every 50:54:00 MAC and every tp/icmp port varies too.
 */
export function buildDump(flows: number, variation: 'captured' | 'distinct' = 'captured'): string {
  const base = capturedDumpLines();
  if (base.length === 0) throw new Error(`no captured dump lines under ${CAPTURED}: run scripts/capture-fixtures`);
  const parts: string[] = ['flow-dump from the main thread:'];
  for (let i = 0; i < flows; i++) {
    if (i === flows >> 1) parts.push('flow-dump from pmd on cpu core: 1');
    const hex = i.toString(16).padStart(12, '0');
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const mac = `50:54:00:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`;
    let line = base[i % base.length].replace(/^ufid:[0-9a-f-]{36}/, `ufid:${hex.slice(0, 8)}-0000-4000-8000-${hex}`);
    if (variation === 'captured') {
      line = line.replace(/=10\.0\.0\.1(?=[/,)])/g, `=${a}`).replace(/src=50:54:00:00:00:01/g, `src=${mac}`);
    } else {
      const n = (i >> 8) & 255;
      line = line
        .replace(/=10\.0\.0\.(\d+)(?=[/,):])/g, (_m, d: string) => `=10.${n}.${i & 255}.${d}`)
        .replace(/=50:54:00:00:(\w\w):(\w\w)/g, (_m, x: string, y: string) => `=50:54:${hex.slice(8, 10)}:${hex.slice(10, 12)}:${x}:${y}`)
        .replace(/(tp_src|tp_dst|src_port|dst_port|type|code)=(\d+)(?=[/,)])/g, (_m, k: string, v: string) => `${k}=${(Number(v) + i) & 0xffff}`)
        .replace(/((?:tcp|udp)\(src=)(\d+)/g, (_m, k: string, v: string) => `${k}${(Number(v) + i) & 0xffff}`);
    }
    parts.push(line);
  }
  return `${parts.join('\n')}\n`;
}

/** How often field texts and action lists recur: what the per-dump memo can share. */
function repetition(lines: string[]): string {
  const dump = parseDumpFlows(lines.join('\n'), { memoEntries: 0 });
  const fields = new Set<string>();
  const actions = new Set<string>();
  let occurrences = 0;
  for (const f of dump.items) {
    for (const field of f.key.fields) {
      fields.add(formatField(field));
      occurrences++;
    }
    actions.add(f.actionsText ?? '');
  }
  const n = dump.items.length;
  return `${n} flows: ${fields.size} distinct field texts of ${occurrences} (${((1 - fields.size / occurrences) * 100).toFixed(0)}% repeats), ` +
    `${actions.size} distinct action lists (${((1 - actions.size / n) * 100).toFixed(0)}% repeats)`;
}

function runOurs(file: string, mode: string, nodeFlags: string[] = []): SideResult {
  const out = execFileSync(process.execPath, [...nodeFlags, '-r', 'ts-node/register/transpile-only', join(__dirname, 'ours.ts'), file, mode], {
    cwd: ROOT,
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
  const sample = Number(process.argv[3] ?? 20_000);
  const dir = join(ROOT, 'bench/data');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `dump-${flows}.txt`);
  const distinctFile = join(dir, `dump-${flows}-distinct.txt`);
  writeFileSync(file, buildDump(flows));
  writeFileSync(distinctFile, buildDump(flows, 'distinct'));
  const size = readFileSync(file).length;
  const captured = capturedDumpLines();
  console.log(`dump: ${flows} flows, ${(size / 1e6).toFixed(1)} MB, built from ${captured.length} captured lines (${file})`);
  console.log(`repetition, captured fixtures (real daemons, 10 scenarios): ${repetition(captured)}`);
  const sampleOf = (f: string) => readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('ufid:')).slice(0, 20_000);
  console.log(`repetition, bench dump (first 20k):          ${repetition(sampleOf(file))}`);
  console.log(`repetition, distinct dump (first 20k):       ${repetition(sampleOf(distinctFile))}`);

  const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`load average at start: ${load()} on ${cpus().length} cores (other work on the machine skews both sides)`);
  const semi = ['--max-semi-space-size=64'];
  const runs: [string, SideResult, string][] = [
    ['ours, materialised', runOurs(file, 'all'), 'node (no flags); THE number'],
    ['ours, materialised', runOurs(file, 'all', semi), `node ${semi.join(' ')}`],
    ['ours, no memo', runOurs(file, 'nomemo'), 'node (no flags); every flow its own objects'],
    ['ours, check only', runOurs(file, 'on-read'), "node (no flags); build: 'on-read', nothing built"],
    ['ours, on-read + read', runOurs(file, 'on-read+read'), "node (no flags); build: 'on-read', then every flow read (a poller's first cycle)"],
    ['ours, distinct dump', runOurs(distinctFile, 'all'), 'node (no flags); materialised, every address/port varies'],
  ];
  const py = runPython(file, sample);
  const pyWhole = flows / py.flows_per_s;
  console.log(`load average at end: ${load()}`);
  const pyDropped = py.discarded_flows_per_s ?? py.flows_per_s;
  const row = (name: string, r: SideResult, note: string) =>
    console.log(
      `${name.padEnd(22)} ${String(r.flows).padStart(7)} flows ${r.seconds.toFixed(3).padStart(7)} s ` +
        `${Math.round(r.flows_per_s).toString().padStart(8)} flows/s ${(r.flows_per_s / py.flows_per_s).toFixed(1).padStart(6)}x ` +
        `${(r.flows_per_s / pyDropped).toFixed(1).padStart(5)}x  peak RSS ${(r.peak_rss_kb / 1024).toFixed(0).padStart(5)} MB  ` +
        `${r.errors ? `${r.errors} line errors! ` : ''}${note}`,
    );
  console.log(`${''.padEnd(22)} ${''.padStart(7)}       ${''.padStart(7)}   ${''.padStart(8)}         vs kept / vs dropped Python`);
  for (const [name, r, note] of runs) row(name, r, note);
  row('ovs.flow.odp.ODPFlow', py, `/usr/bin/python3 (no flags), first ${py.flows} lines${py.failed ? ` (${py.failed} rejected)` : ''}, every ODPFlow kept; ` +
    `whole dump extrapolated: ${pyWhole.toFixed(1)} s`);
  console.log(`${'  same, dropped'.padEnd(22)} ${String(py.flows).padStart(7)} flows ${(py.flows / pyDropped).toFixed(3).padStart(7)} s ` +
    `${Math.round(pyDropped).toString().padStart(8)} flows/s (each ODPFlow dropped at once: nothing kept)`);
  const [, main] = runs[0];
  console.log(`built: ${main.fields_and_attrs} key fields+attributes, ${main.actions} actions, all retained`);
  console.log(`target: ${flows} flows materialised in < 2 s: ${main.seconds < 2 ? 'met' : 'NOT met'} (${main.seconds.toFixed(3)} s); ` +
    `>= 40x Python: ${main.flows_per_s / py.flows_per_s >= 40 ? 'met' : 'NOT met'} vs kept (${(main.flows_per_s / py.flows_per_s).toFixed(1)}x), ` +
    `${main.flows_per_s / pyDropped >= 40 ? 'met' : 'NOT met'} vs dropped (${(main.flows_per_s / pyDropped).toFixed(1)}x)`);
}

main();
