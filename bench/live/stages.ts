/**
 * Where a poll cycle's time and memory go, stage by stage, outside the service: the unixctl
 * round trip (ovs-vswitchd formatting + transfer + our JSON framing and decoding), parseDumpFlows,
 * DatapathFlowTable.apply (first = every flow created, then steady), with RSS after each.
 * No database: the writer's part is cycleMs − (dump + parse + apply) in poller.ts's numbers.
 *
 * Usage: stages.ts SOCKET [ROUNDS=3]
 */
import { DatapathFlowTable } from '../../src/collectors/datapath-diff';
import { parseDumpFlows } from '../../src/ovs/dump-flows';
import { UnixctlClient } from '../../src/unixctl/client';
import { emit, rssMb } from './common';

async function main(): Promise<void> {
  const socket = process.argv[2];
  const rounds = Number(process.argv[3] ?? 3);
  const c = new UnixctlClient({ target: socket, timeoutMs: 120_000 });
  const table = new DatapathFlowTable();
  const rows: object[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const text = await c.call('dpctl/dump-flows', ['-m']);
    const t1 = performance.now();
    const rssCall = rssMb().rssMb;
    const dump = parseDumpFlows(text);
    const t2 = performance.now();
    const rssParse = rssMb().rssMb;
    const { events } = table.apply(dump.items, new Date().toISOString());
    const t3 = performance.now();
    const row = {
      round: r + 1,
      flows: dump.items.length,
      mb: text.length / 1e6,
      callMs: Math.round(t1 - t0),
      parseMs: Math.round(t2 - t1),
      applyMs: Math.round(t3 - t2),
      events: events.length,
      rssAfterCallMb: Math.round(rssCall),
      rssAfterParseMb: Math.round(rssParse),
      rssAfterApplyMb: Math.round(rssMb().rssMb),
      heapUsedMb: Math.round(process.memoryUsage().heapUsed / 1048576),
    };
    process.stderr.write(`  [stages] ${JSON.stringify(row)}\n`);
    rows.push(row);
  }
  c.close();
  emit({ bench: 'stages', socket, rounds: rows, peakMb: Math.round(rssMb().peakMb) });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
