/**
 * Our side of bench/parse, run in its own process so its peak RSS is its own.
 * Usage: ts-node --swc bench/parse/ours.ts DUMP_FILE
 * Prints one JSON line: flows, errors, seconds, flows_per_s, peak_rss_kb, build_all_seconds.
 * `seconds` is the dump parse (every line checked against the whole key/action grammar, stats
 * and ufid read); `build_all_seconds` is building every key and action object afterwards.
 */
import { readFileSync } from 'fs';
import { parseDumpFlows } from '../../src/ovs/dump-flows';

function main(): void {
  const text = readFileSync(process.argv[2], 'utf8');
  // One warm-up pass on a slice so the timing is of optimised code, as in a long-running service.
  parseDumpFlows(text.slice(0, 2_000_000));
  const start = process.hrtime.bigint();
  const dump = parseDumpFlows(text);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // Then build every flow's key and action objects (what a consumer reading all flows pays on top).
  const buildStart = process.hrtime.bigint();
  let fields = 0;
  for (const f of dump.items) fields += f.key.fields.length + f.actions.length;
  const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
  process.stdout.write(
    `${JSON.stringify({
      flows: dump.items.length,
      errors: dump.errors.length,
      seconds,
      flows_per_s: dump.items.length / seconds,
      peak_rss_kb: process.resourceUsage().maxRSS,
      build_all_seconds: buildSeconds,
      built_items: fields,
    })}\n`,
  );
}

main();
