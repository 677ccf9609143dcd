/**
 * Our side of bench/parse, run in its own process so its peak RSS is its own.
 * Usage (started by run.ts): node -r ts-node/register/transpile-only bench/parse/ours.ts DUMP_FILE [MODE]
 *   MODE all (default): every flow's key fields (with masks) and actions built into structures
 *        while parsing, shared through the per-dump memo; all flows retained to the end.
 *   MODE nomemo: the same without the memo (every flow its own objects).
 *   MODE on-read: every line checked whole, objects built only when read (nothing read here).
 *   MODE on-read+read: on-read, then every flow's key and actions read (built through the memo):
 *        what a poller's first cycle pays, all new flows.
 * Prints one JSON line: mode, flows, errors, seconds, flows_per_s, peak_rss_kb, fields, actions,
 * memo counters, node flags.
 */
import { readFileSync } from 'fs';
import { parseDumpFlows, ParseDumpOptions } from '../../src/ovs/dump-flows';
import type { OdpKeyField } from '../../src/ovs/odp-key';

function options(mode: string): ParseDumpOptions {
  if (mode === 'on-read' || mode === 'on-read+read') return { build: 'on-read' };
  if (mode === 'nomemo') return { build: 'all', memoEntries: 0 };
  return { build: 'all' };
}

function countAttrs(fields: readonly OdpKeyField[]): number {
  let n = 0;
  for (const f of fields) {
    n++;
    if (f.kind === 'attrs') n += f.attrs.length;
    else if (f.kind === 'encap') n += countAttrs(f.fields);
  }
  return n;
}

function main(): void {
  const text = readFileSync(process.argv[2], 'utf8');
  const mode = process.argv[3] ?? 'all';
  const opts = options(mode);
  // One warm-up pass on a slice so the timing is of optimised code, as in a long-running service.
  parseDumpFlows(text.slice(0, 2_000_000), opts);
  const start = process.hrtime.bigint();
  const dump = parseDumpFlows(text, opts);
  if (mode === 'on-read+read') for (const f of dump.items) if (f.key.fields.length + f.actions.length < 0) throw new Error('unreachable');
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // Proof of what was built (outside the timing; on-read would build here, so it is skipped).
  let fields = 0;
  let actions = 0;
  if (mode !== 'on-read') {
    for (const f of dump.items) {
      fields += countAttrs(f.key.fields);
      actions += f.actions.length;
    }
  }
  process.stdout.write(
    `${JSON.stringify({
      mode,
      flows: dump.items.length,
      errors: dump.errors.length,
      seconds,
      flows_per_s: dump.items.length / seconds,
      peak_rss_kb: process.resourceUsage().maxRSS,
      heap_used_mb: Math.round(process.memoryUsage().heapUsed / 1e6),
      fields_and_attrs: fields,
      actions,
      node_flags: process.execArgv.filter((a) => a.startsWith('--')),
    })}\n`,
  );
}

main();
