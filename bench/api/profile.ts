/**
 * Profiles the app serving one route at 1M (bench/api): start it under `node --cpu-prof`, drive
 * it with autocannon (cannon.ts) for a few seconds per scenario, print p50/p99 and req/s.
 *
 * Usage: npm run bench:api-profile [-- N=1000000 [SECONDS=8] [CONNECTIONS=4] [scenario substring]] (profiles in bench/data/prof)
 */
import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import { createApp } from '../../src/bootstrap';
import { cannon } from './cannon';
import { historyAppConfig, targets } from './app-config';
import { dbFile } from './generate';

const N = Number(process.argv[2] ?? 1_000_000);
const SECONDS = Number(process.argv[3] ?? 8);
const CONNECTIONS = Number(process.argv[4] ?? 4);
const ONLY = process.argv[5] ?? '';

async function main() {
  const ro = new Database(dbFile(N), { readonly: true });
  const { ports, dpGroup, portFlows, acls } = targets(ro);
  ro.close();
  const port = 20000 + Math.floor(Math.random() * 2000);
  const app = await createApp(historyAppConfig(N));
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const scenarios: Record<string, string[]> = {
    port: ports.map((p) => `/traces?logical_port=${p}`),
    dpgroup: dpGroup.map((u) => `/logical-flows/${u}/datapath-flows`),
    portflow: portFlows.map((u) => `/logical-flows/${u}/datapath-flows`),
    acl: acls.map((u) => `/northbound/ACL/${u}/datapath-flows`),
  };
  for (const [name, paths] of Object.entries(scenarios)) {
    if (ONLY && !name.includes(ONLY)) continue;
    await cannon(url, paths.slice(0, 50), { duration: 1 });
    const res = await cannon(url, paths, { duration: SECONDS, connections: CONNECTIONS, seed: 11 + CONNECTIONS });
    console.log(name, `[${CONNECTIONS}]`, JSON.stringify({ ...res, load1: loadavg()[0] }));
  }
  await app.close();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
