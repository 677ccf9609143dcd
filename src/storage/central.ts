// The central PostgreSQL store as this process sees it (issue 19): opened, migrated, this spool's
// writer slot claimed and entered, the spool's triggers installed: all before any provider that
// writes is built (StorageModule resolves CENTRAL first), so no row is written outside the slot.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { LivetraceConfig } from '../config/config.schema';
import { sqliteHandle } from './data-source.options';
import { endPool } from './pg-client';
import { migrationLock, MigrationLockOptions } from './pg-migrate';
import { isPostgresUrl, openPostgres, pgPoolOptions, pgUnreachable, poolOf, redactUrl } from './postgres';
import { enterSlot, installTriggers, knownSlot, ShippedTable, shippedTables } from './spool';
import { writerSlot } from './slot-take';
import { restoreApiIndexes, shedApiIndexes } from './spool-indexes';
import { checkClaim, confirmClaim, givenIds, rememberClaim } from './slot-claim';

export const CENTRAL = Symbol('CENTRAL');
const log = new Logger('Storage');

export interface Central {
  url: string;
  pool: Pool;
  slot: number;
  tables: ShippedTable[];
  /**
   * Set when the process started while PostgreSQL was away (an agent whose spool knows its slot):
   * resolves once PostgreSQL answered and its schema was brought up to date, rejects before.
   * The shipper awaits it; nothing is shipped into a schema older than the spool's.
   */
  ready?: () => Promise<void>;
  /** Ends the connections, what is still connecting or checked out too (pg-client.ts endPool). */
  close(): Promise<void>;
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
  const writer = `${cfg.LIVETRACE_ROLE}@${hostname()}:${cfg.LIVETRACE_CHASSIS || '-'}#${randomUUID().slice(0, 8)}`;
  const known = knownSlot(db);
  let opened: { pool: Pool; close(): Promise<void>; ready?: () => Promise<void> };
  try {
    const dataSource = await openPostgres(url, cfg.LIVETRACE_PG_POOL, migrationLock(cfg));
    const pool = poolOf(dataSource);
    opened = { pool, close: () => endPool(pool, () => dataSource.destroy()) };
  } catch (err) {
    const slot = known;
    // An agent restarted while PostgreSQL is away (a reboot, an upgrade during an outage) traces
    // into its spool as one that lost it: its slot is in the spool, nothing else needs PostgreSQL.
    // An api instance reads PostgreSQL, and a new spool must claim a slot there: both fail.
    if (cfg.LIVETRACE_ROLE !== 'agent' || slot === undefined || !pgUnreachable(err)) throw err;
    log.warn(`${(err as Error).message}: tracing into the spool under writer slot ${slot}; shipped once PostgreSQL answers and its schema is up to date`);
    // What the spool had given before it writes offline: what PostgreSQL may hold of the slot.
    const atStart = givenIds(db);
    opened = deferred(url, cfg.LIVETRACE_PG_POOL, migrationLock(cfg), () => checkClaim(db, opened.pool, slot, writer, atStart));
  }
  try {
    const slot = await writerSlot(db, opened.pool, writer, cfg.LIVETRACE_SLOT_REUSE_DAYS);
    // A remembered slot may have been started on by a copy of this spool since, or this spool be a
    // backup restored (slot-claim.ts): refused before anything is written under it. Started while
    // PostgreSQL was away: checked once it answers, before anything ships (deferred).
    if (known === undefined) rememberClaim(db, writer);
    else if (!opened.ready) await confirmClaim(db, opened.pool, slot, writer);
    const tables = shippedTables(db);
    enterSlot(db, tables, slot);
    installTriggers(db, tables, slot);
    shedApiIndexes(db);
    return { url: redactUrl(url), slot, tables, ...opened };
  } catch (err) {
    await opened.close().catch(() => undefined);
    throw err;
  }
}

/**
 * A pool that connects when asked (pg's own: the shipper's and /health's attempts fail while
 * PostgreSQL is away, as for an agent that lost it), and `ready`: the migrations, run once
 * PostgreSQL answers (openPostgres on a connection of its own, then closed), then `claimed` (the
 * slot still this spool's), before anything ships.
 */
function deferred(url: string, poolSize: number, migration: MigrationLockOptions, claimed: () => Promise<void>): { pool: Pool; close(): Promise<void>; ready: () => Promise<void> } {
  const pool = new Pool(pgPoolOptions(url, poolSize));
  // An idle client's server going away is an 'error' on the pool: heard, not an uncaught exception.
  pool.on('error', () => undefined);
  let done = false;
  let running: Promise<void> | undefined;
  let said = '';
  const ready = (): Promise<void> => {
    if (done) return Promise.resolve();
    // Away: the shipper says so. Answering but its schema not brought up to date (a failed
    // migration), or the slot not this spool's, is not something a retry mends: said once, loudly;
    // /health has it too.
    const loudly = (what: string) => (err: Error) => {
      if (!pgUnreachable(err) && err.message !== said) log.error(`${what}: ${err.message}`);
      said = err.message;
      throw err;
    };
    // Two connections: openPostgres holds one for its advisory lock while the migrations take another.
    running ??= openPostgres(url, 2, migration)
      .then((ds) => ds.destroy())
      .catch(loudly('PostgreSQL answers but its schema could not be brought up to date; nothing ships until it is'))
      .then(() => claimed().catch(loudly('nothing ships from this spool')))
      .then(() => {
        done = true;
        log.log(`PostgreSQL ${redactUrl(url)} answers, its schema is up to date and this spool's writer slot is its own`);
      })
      .finally(() => (running = undefined));
    return running;
  };
  return { pool, ready, close: () => endPool(pool) };
}
