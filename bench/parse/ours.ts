/**
 * Our side of bench/parse, run in its own process so its peak RSS is its own.
 * Usage: ts-node --swc bench/parse/ours.ts DUMP_FILE
 * Prints one JSON line: flows, errors, seconds, flows_per_s, peak_rss_kb.
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
  process.stdout.write(
    `${JSON.stringify({
      flows: dump.items.length,
      errors: dump.errors.length,
      seconds,
      flows_per_s: dump.items.length / seconds,
      peak_rss_kb: process.resourceUsage().maxRSS,
    })}\n`,
  );
}

main();
