// A bare agent spool for unit specs of the spool's SQL (src/storage/spool.ts, src/retention/
// spool-retention-store.ts): a fresh SQLite file, migrated, holding one id slot with the ship_log
// triggers on, as an agent's spool is before its shipper runs; no PostgreSQL (that is spool-stores.ts).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { enterSlot, installTriggers, shippedTables } from '../../src/storage/spool';

/** A migrated spool in `slot`, triggers installed; the caller destroys `ds`. */
export async function openSlotSpool(slot: number): Promise<{ ds: DataSource; db: Database }> {
  const ds = new DataSource({ ...dataSourceOptions(join(mkdtempSync(join(tmpdir(), 'livetrace-spool-')), 'spool.sqlite')), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const db = (ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
  const tables = shippedTables(db);
  enterSlot(db, tables, slot);
  installTriggers(db, tables, slot);
  return { ds, db };
}
