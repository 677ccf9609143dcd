// A bare agent spool for unit specs of the spool's SQL (src/storage/spool.ts, src/retention/
// spool-retention-store.ts): a fresh SQLite file, migrated (migrated-sqlite.ts), holding one id slot
// with the ship_log triggers on, as an agent's spool is before its shipper runs; no PostgreSQL (that
// is spool-stores.ts). useSlotSpool: one for a spec file, with the StoreWriter the retention specs use.
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { enterSlot, installTriggers, shippedTables } from '../../src/storage/spool';
import { StoreWriter } from '../../src/storage/writer';
import { closeMigratedSqlite, type MigratedSqlite, openMigratedSqlite } from './migrated-sqlite';

/** A migrated spool in `slot`, triggers installed; the caller closes it (closeMigratedSqlite). */
export async function openSlotSpool(slot: number): Promise<MigratedSqlite> {
  const spool = await openMigratedSqlite('livetrace-spool-', { writer: false });
  const tables = shippedTables(spool.db);
  enterSlot(spool.db, tables, slot);
  installTriggers(spool.db, tables, slot);
  return spool;
}

export interface SlotSpool {
  ds: DataSource;
  db: Database;
  writer: StoreWriter;
}

/**
 * A spool in `slot` with a StoreWriter on it, opened before the file's tests and closed (writer,
 * data source, folder) after them: its fields are set once the file's first beforeAll has run.
 */
export function useSlotSpool(slot: number): SlotSpool {
  const spool = {} as SlotSpool & Partial<MigratedSqlite>;
  beforeAll(async () => {
    const opened = await openSlotSpool(slot);
    Object.assign(spool, opened, { writer: new StoreWriter(opened.db) });
  });
  afterAll(() => closeMigratedSqlite(spool));
  return spool;
}
