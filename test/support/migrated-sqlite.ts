// A fresh SQLite store with every migration run, in a temporary folder of its own, for the
// integration specs that read and write the store's tables directly: its data source, the raw
// better-sqlite3 connection and (unless asked not to) a StoreWriter on it. closeMigratedSqlite
// closes the writer and the data source and removes the folder.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { dataSourceOptions, sqliteHandle } from '../../src/storage/data-source.options';
import { entityFiles } from '../../src/storage/entities';
import { StoreWriter } from '../../src/storage/writer';

export interface MigratedSqlite {
  /** The temporary folder (`mkdtemp` of tmpdir()/<prefix>), removed by closeMigratedSqlite. */
  dir: string;
  /** The store's file: <dir>/db.sqlite. */
  file: string;
  ds: DataSource;
  db: Database;
  writer?: StoreWriter;
}

export interface MigratedSqliteOptions {
  /** A StoreWriter on the connection (the default); false: the spec makes its own, or none. */
  writer?: boolean;
  /** How long the writer's jobs wait for a write lock another connection holds before they fail (StoreWriter, LOCK_WAIT_MS by default). */
  lockWaitMs?: number;
  /** The entities globbed as the CLI does (entityFiles()); none by default, as the app's modules register theirs. */
  entities?: boolean;
}

/** A new folder under tmpdir() named from `prefix`, its db.sqlite opened and every migration run. */
export async function openMigratedSqlite(prefix: string, opts: MigratedSqliteOptions & { writer: false }): Promise<MigratedSqlite>;
export async function openMigratedSqlite(prefix: string, opts?: MigratedSqliteOptions & { writer?: true }): Promise<MigratedSqlite & { writer: StoreWriter }>;
export async function openMigratedSqlite(prefix: string, opts: MigratedSqliteOptions = {}): Promise<MigratedSqlite> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'db.sqlite');
  const ds = new DataSource({ ...dataSourceOptions(file), ...(opts.entities ? { entities: entityFiles() } : {}), logging: false });
  try {
    await ds.initialize();
    await ds.runMigrations();
  } catch (e) {
    await closeMigratedSqlite({ dir, ds });
    throw e;
  }
  const db = sqliteHandle(ds);
  return { dir, file, ds, db, writer: opts.writer === false ? undefined : new StoreWriter(db, { lockWaitMs: opts.lockWaitMs }) };
}

/** Closes the writer (if any) and the data source, then removes the folder; what was never opened is skipped. */
export async function closeMigratedSqlite(store: { dir?: string; ds?: DataSource; writer?: StoreWriter }): Promise<void> {
  await store.writer?.close();
  if (store.ds?.isInitialized) await store.ds.destroy();
  if (store.dir) rmSync(store.dir, { recursive: true, force: true });
}

/** The SQLite migrations' sources in the order they run: `slice(0, n)` is an older version's. */
export const MIGRATION_FILES: string[] = readdirSync(join(__dirname, '../../migrations'))
  .filter((f) => /^\d+-.*\.ts$/.test(f))
  .sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]))
  .map((f) => join(__dirname, '../../migrations', f));

/** `fn` on a connection of its own to `file`, closed after. */
export function onSqliteFile<T>(file: string, fn: (db: Database) => T): T {
  const db = new BetterSqlite3(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
