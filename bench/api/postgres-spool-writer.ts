/**
 * bench/api/postgres-spool-writer: what the spool's ship triggers cost the tracer's write path, alone
 * (no PostgreSQL, no shipper): load.ts's passes through one writer into a SQLite file, CPU ms a trace.
 *
 * Usage: node -r ts-node/register/transpile-only bench/api/postgres-spool-writer.ts MODE [N=20000]
 *   plain    no triggers (a SQLite store)
 *   marks    the spool's triggers (installTriggers with a slot: marked tables log at or below the claim)
 *   logall   triggers logging every row (no marks: what spools did before marks)
 *   x-floor  the spool's triggers with WHEN 0 (the cost of invoking a trigger at all)
 *   x-nomute the spool's triggers without the ship_mute test
 *   x-const  (the claims are constants in the triggers since setClaim: the same as marks)
 * The claims stay at the start of the range, as if the shipper never ran: every marked row is above.
 */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enterSlot, installTriggers, shippedTables } from '../../src/storage/spool';
import { storeHandles } from '../../src/storage/store.service';
import { DAYS } from './generate';
import { load, loadStores, openStore } from './load';
import { World } from './world';
const MODE = process.argv[2]; const N = Number(process.argv[3] ?? 20000);
(async () => {
  const world = new World({ tenants: 60, seed: 1 });
  for (let t = 0; t < 60; t++) for (let i = 0; i < world.templates.length; i++) world.reply(i, t);
  const { ds, db } = await openStore(join(mkdtempSync(join(tmpdir(), 'trig-')), 's.sqlite'));
  if (MODE !== 'plain') { const tables = shippedTables(db); enterSlot(db, tables, 1); installTriggers(db, tables, MODE === 'logall' ? undefined : 1); }
  if (MODE === 'logall') db.exec(`DELETE FROM meta WHERE key LIKE 'ship%'`);
  if (MODE.startsWith('x-')) {
    for (const r of db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger'`).all() as Array<{ name: string; sql: string }>) {
      let sql = r.sql;
      if (MODE === 'x-floor') sql = sql.replace(/WHEN .* BEGIN/, 'WHEN 0 BEGIN');
      if (MODE === 'x-nomute') sql = sql.replace('NOT EXISTS (SELECT 1 FROM ship_mute) AND ', '');
      if (MODE === 'x-const') sql = sql.replace(/\(SELECT CAST\(value AS INTEGER\) FROM meta WHERE key = '([^']+)'\)/, (_, k: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string }).value);
      if (MODE === 'x-none') sql = '';
      db.exec(`DROP TRIGGER "${r.name}"`);
      if (sql) db.exec(sql);
    }
  }
  const h = storeHandles(db);
  const end = Date.parse('2026-11-27T00:00:00Z');
  const r = await load(h.writer, loadStores(h), world, { traces: N, tenants: 60, chassis: 'hv1', start: end - DAYS * 86400e3, end, seed: 2, window: 1000 });
  const log = (db.prepare('SELECT COUNT(*) AS n FROM ship_log').get() as { n: number }).n;
  console.log(MODE, 'ms/trace', (1000 * r.cpuSeconds / r.traces).toFixed(3), 'perS', r.perS.toFixed(0), 'ship_log', log);
  await ds.destroy();
})();
