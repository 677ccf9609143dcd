/**
 * bench/api/generate: the synthetic history at bench/data/api-<N>.sqlite, loaded through the
 * writer (see load.ts). Reused when present (its meta row says it is complete).
 *
 * Usage: node --max-old-space-size=12000 -r ts-node/register/transpile-only bench/api/generate.ts [TRACES=1000000]
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { storeHandles } from '../../src/storage/store.service';
import { load, loadStores, openStore } from './load';
import { World } from './world';

export const DATA = join(__dirname, '../data');
export const TENANTS = 500;
export const DAYS = 7;
export const dbFile = (n: number) => join(DATA, `api-${n}.sqlite`);
export const doneFile = (n: number) => join(DATA, `api-${n}.done.json`);

export async function generate(n: number): Promise<Record<string, unknown>> {
  mkdirSync(DATA, { recursive: true });
  const file = dbFile(n);
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  const t0 = performance.now();
  const world = new World({ tenants: TENANTS, seed: 1 });
  for (let t = 0; t < TENANTS; t++) for (let i = 0; i < world.templates.length; i++) world.reply(i, t);
  const buildS = (performance.now() - t0) / 1000;
  console.log(`templates stamped: ${world.built} (template, tenant) replies in ${buildS.toFixed(1)} s`);
  const { ds, db } = await openStore(file);
  // The writer and read connection exactly as the app's StoreService makes them.
  const { writer, db: reader } = storeHandles(db);
  const stores = loadStores({ db: reader, writer });
  const end = Date.parse('2026-11-27T00:00:00Z');
  const res = await load(writer, stores, world, {
    traces: n,
    tenants: TENANTS,
    chassis: 'hv1',
    start: end - DAYS * 86400e3,
    end,
    seed: 2,
    onProgress: (done, perS) => console.log(`  ${done} traces, ${perS.toFixed(0)}/s`),
  });
  console.log(`loaded: ${JSON.stringify(res)}`);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const counts = Object.fromEntries(
    ['trace', 'trace_citation', 'trace_port', 'of_rule', 'logical_flow_snapshot', 'ovn_object', 'datapath_flow', 'path', 'recirc_edge'].map((t) => [
      t,
      (db.prepare(`SELECT count(*) AS c FROM ${t}`).get() as { c: number }).c,
    ]),
  );
  reader.close();
  await ds.destroy();
  const summary = { ...res, stampSeconds: buildS, bytes: statSync(file).size, counts, tenants: TENANTS, days: DAYS, at: new Date().toISOString() };
  writeFileSync(doneFile(n), JSON.stringify(summary, null, 2));
  return summary;
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 1_000_000);
  if (existsSync(doneFile(n))) console.log(`reusing ${dbFile(n)}`);
  else generate(n).then((s) => console.log(JSON.stringify(s, null, 2)));
}
