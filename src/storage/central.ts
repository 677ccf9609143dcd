// The central PostgreSQL store as this process sees it (issue 19): opened, migrated, this spool's
// writer slot claimed and entered, the spool's triggers installed: all before any provider that
// writes is built (StorageModule resolves CENTRAL first), so no row is written outside the slot.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { LivetraceConfig } from '../config/config.schema';
import { sqliteHandle } from './data-source.options';
import { isPostgresUrl, openPostgres, poolOf, redactUrl } from './postgres';
import { enterSlot, installTriggers, ShippedTable, shippedTables, writerSlot } from './spool';
import { restoreApiIndexes, shedApiIndexes } from './spool-indexes';

export const CENTRAL = Symbol('CENTRAL');

export interface Central {
  url: string;
  dataSource: DataSource;
  pool: Pool;
  slot: number;
  tables: ShippedTable[];
}

/** The SQLite file TypeORM opens: the store itself, or with PostgreSQL this process's spool. */
export function localFile(cfg: LivetraceConfig): string {
  return isPostgresUrl(cfg.LIVETRACE_DB) ? cfg.LIVETRACE_SPOOL : cfg.LIVETRACE_DB;
}

export async function openCentral(cfg: LivetraceConfig, spool: DataSource): Promise<Central | null> {
  const db = sqliteHandle(spool);
  if (!isPostgresUrl(cfg.LIVETRACE_DB)) {
    // A former spool is the store now: the API reads it, so it needs the indexes the spool did without.
    restoreApiIndexes(db);
    return null;
  }
  const url = cfg.LIVETRACE_DB.trim();
  const dataSource = await openPostgres(url, cfg.LIVETRACE_PG_POOL);
  const pool = poolOf(dataSource);
  const writer = `${cfg.LIVETRACE_ROLE}@${hostname()}:${cfg.LIVETRACE_CHASSIS || '-'}#${randomUUID().slice(0, 8)}`;
  try {
    const slot = await writerSlot(db, pool, writer);
    const tables = shippedTables(db);
    enterSlot(db, tables, slot);
    installTriggers(db, tables, slot);
    shedApiIndexes(db);
    return { url: redactUrl(url), dataSource, pool, slot, tables };
  } catch (err) {
    await dataSource.destroy().catch(() => undefined);
    throw err;
  }
}
