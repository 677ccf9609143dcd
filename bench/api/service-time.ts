/**
 * Times the read services in process (no HTTP) at 1M: per-call ms of the port query and the
 * audits, including the JSON of the answer. For profiling with `node --cpu-prof`; quick,
 * not a reported number. Usage: npm run bench:api-service-time [-- N [REPEAT]]
 */
import Database from 'better-sqlite3';
import { createApp } from '../../src/bootstrap';
import { LogicalFlowsService } from '../../src/logical-flows/logical-flows.service';
import { TracesService } from '../../src/traces/traces.service';
import { historyAppConfig, targets } from './app-config';
import { dbFile } from './generate';

const N = Number(process.argv[2] ?? 1_000_000);
const REPEAT = Number(process.argv[3] ?? 300);

async function main() {
  const ro = new Database(dbFile(N), { readonly: true });
  const { ports, dpGroup, portFlows, acls } = targets(ro);
  ro.close();
  const app = await createApp(historyAppConfig(N));
  const traces = app.get(TracesService);
  const audits = app.get(LogicalFlowsService);
  // Each call gives the response body (the audits write their JSON themselves).
  const runs: Record<string, (i: number) => Promise<string | Buffer>> = {
    port: async (i) => JSON.stringify(await traces.list({ logicalPort: ports[i % ports.length], limit: 50, withSteps: false })),
    dpgroup: (i) => audits.datapathFlowsJson(dpGroup[i % dpGroup.length], undefined, 50),
    portflow: (i) => audits.datapathFlowsJson(portFlows[i % portFlows.length], undefined, 50),
    acl: (i) => audits.northboundFlowsJson('ACL', acls[i % acls.length], undefined, 50),
  };
  for (const [name, fn] of Object.entries(runs)) {
    // The reads are async (one SqlReader for SQLite and PostgreSQL): awaited, on SQLite they answer at once.
    for (let i = 0; i < 30; i++) await fn(i);
    const xs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < REPEAT; i++) {
      const t = performance.now();
      bytes += (await fn(i)).length;
      xs.push(performance.now() - t);
    }
    xs.sort((a, b) => a - b);
    console.log(name, 'mean', (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2), 'p50', xs[xs.length >> 1].toFixed(2), 'p99', xs[Math.floor(xs.length * 0.99)].toFixed(2), 'bytes', Math.round(bytes / REPEAT));
  }
  await app.close();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
