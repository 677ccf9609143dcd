// A real PostgreSQL (startPostgres) and the stores of processes that spool into it, as the app builds
// them (StoreService with openCentral), for the specs of the spool and its shipper: one cluster per
// file, every store shut down after it.
import { waitFor } from './wait';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { openCentral } from '../../src/storage/central';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { StoreService } from '../../src/storage/store.service';
import { testConfig } from './app';
import { startPostgres, TestPostgres } from './postgres';

/** A fresh spool file in a folder of its own. */
export const newSpool = (): string => join(mkdtempSync(join(tmpdir(), 'livetrace-spool-')), 'spool.sqlite');

/** Starts the cluster before the file's tests and stops it, and every store opened, after them. */
export function usePostgresSpools(): { pg(): TestPostgres; storeOn(url: string, spool?: string, env?: Record<string, string>): Promise<StoreService> } {
  let pg: TestPostgres | undefined;
  const opened: StoreService[] = [];
  beforeAll(() => {
    pg = startPostgres();
  });
  afterAll(async () => {
    for (const s of opened) await s.onApplicationShutdown().catch(() => undefined);
    pg?.stop();
  });
  return {
    pg: () => pg!,
    /** An agent's store on `spool` (a new one by default), shipping to `url`; `env`: more configuration keys. */
    async storeOn(url: string, spool = newSpool(), env: Record<string, string> = {}): Promise<StoreService> {
      const cfg = testConfig({ LIVETRACE_DB: url, LIVETRACE_SPOOL: spool, LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv-test', ...env });
      const ds = new DataSource({ ...dataSourceOptions(spool), migrationsRun: true });
      await ds.initialize();
      await ds.runMigrations();
      const s = new StoreService(ds, await openCentral(cfg, ds), cfg);
      opened.push(s);
      return s;
    },
  };
}

/** Rows of one statement on its own connection (pg's own parsers: int8 as text). */
export async function pgRows(url: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/**
 * Waits until PostgreSQL knows every lifetime `s`'s spool holds has its traces in PostgreSQL
 * (writer_slot.traced_flow_id, storage/ship-synced.ts): PostgreSQL's retention prunes a lifetime only
 * then, and a spec's lifetimes are written dated back, after the spool last said so.
 */
export async function tracedUp(s: StoreService, url: string): Promise<void> {
  const top = (s.db.prepare('SELECT MAX(id) AS m FROM datapath_flow').get() as { m: number | null }).m;
  if (top === null) return;
  await s.shipper!.synced();
  await waitFor('PostgreSQL to know the spool\'s lifetimes traced', async () => {
    const r = await pgRows(url, 'SELECT traced_flow_id FROM writer_slot WHERE slot = $1', [s.central!.slot]);
    return r.length > 0 && r[0].traced_flow_id !== null && Number(r[0].traced_flow_id) >= top;
  });
}
