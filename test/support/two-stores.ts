// One history on both stores, for the postgres project's specs that compare an answer's bytes (and
// PostgreSQL's statements) with SQLite's on rows they write themselves: a migrated PostgreSQL
// database of its own and a migrated SQLite file without a writer, each row written to both by
// `both` (the SQL in SQLite's `?` form, numbered for pg).
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { openPostgres, poolOf } from '../../src/storage/postgres';
import { numberPlaceholders } from '../../src/storage/sql';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from './migrated-sqlite';
import { startPostgres, TestPostgres } from './postgres';

export interface TwoStores {
  pg: TestPostgres;
  /** The PostgreSQL database's URL. */
  url: string;
  ds: DataSource;
  pool: Pool;
  lite: MigratedSqlite;
  /** One statement on both stores. */
  both(sql: string, ...params: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** When the specs' rows are written (their times are offsets from it), as the stores keep times. */
export const T0 = Date.parse('2026-12-05T03:00:00.000Z');
export const iso = (ms: number): string => new Date(ms).toISOString();
/** Writer slot 1's ids (slot·2^40 + n): past 32 bits, bound and compared as bigint on PostgreSQL. */
export const SLOT_BASE = 2 ** 40;

/** A PostgreSQL cluster of its own with database `name`, and a SQLite store in tmpdir()/livetrace-<name>-…, both migrated. */
export async function openTwoStores(name: string): Promise<TwoStores> {
  const pg = startPostgres();
  let ds: DataSource | undefined;
  let lite: MigratedSqlite | undefined;
  try {
    const url = await pg.database(name);
    ds = await openPostgres(url);
    const pool = poolOf(ds);
    lite = await openMigratedSqlite(`livetrace-${name.replace(/_/g, '-')}-`, { writer: false });
    const db = lite.db;
    return {
      pg,
      url,
      ds,
      pool,
      lite,
      async both(sql, ...params) {
        db.prepare(sql).run(...params);
        await pool.query(numberPlaceholders(sql), params);
      },
      async close() {
        await ds?.destroy();
        pg.stop();
        if (lite) await closeMigratedSqlite(lite);
      },
    };
  } catch (err) {
    await ds?.destroy().catch(() => undefined);
    pg.stop();
    if (lite) await closeMigratedSqlite(lite);
    throw err;
  }
}
