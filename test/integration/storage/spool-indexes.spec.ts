// The spool's API-only indexes on real migrated SQLite files: every name on the list is an index the
// migrations build (a rename or removal fails here, not silently on a spool), the app's start
// (migrateStore) migrates a spool that dropped them at any earlier version, even through the
// migrations that rebuild or drop them, and a spool used again as a store gets them back exactly as
// the migrations wrote them.
import 'reflect-metadata';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { API_ONLY_INDEXES, migrateStore, restoreApiIndexes, shedApiIndexes, StoreDataSource } from '../../../src/storage/spool-indexes';
import { MIGRATION_FILES, onSqliteFile } from '../../support/migrated-sqlite';

const files = MIGRATION_FILES;

/** As the app starts (migrateStore), with the migrations up to `upTo` only: an older version's file. */
async function migrate(file: string, upTo = files.length): Promise<void> {
  const ds = new DataSource({ ...dataSourceOptions(file), migrations: files.slice(0, upTo), logging: false });
  await ds.initialize();
  try {
    await migrateStore(ds);
  } finally {
    await ds.destroy();
  }
}

const indexes = (db: Database.Database): Record<string, string> =>
  Object.fromEntries((db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name`).all() as Array<{ name: string; sql: string }>).map((r) => [r.name, r.sql]));
const onFile = onSqliteFile;
const remembered = (db: Database.Database) => db.prepare(`SELECT key FROM meta WHERE key LIKE 'spool_dropped_index:%' ORDER BY key`).all();

describe('the indexes a spool does without', () => {
  let dir: string;
  let full: Record<string, string>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'livetrace-spool-idx-'));
    await migrate(join(dir, 'full.sqlite'));
    full = onFile(join(dir, 'full.sqlite'), indexes);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names only indexes the migrations build', () => {
    expect(files.length).toBeGreaterThan(10);
    for (const name of API_ONLY_INDEXES) expect(full[name]).toMatch(/^CREATE INDEX/);
  });

  it('drops them, remembers each, and builds them again exactly as they were', async () => {
    const file = join(dir, 'round.sqlite');
    await migrate(file);
    onFile(file, (db) => {
        expect(shedApiIndexes(db)).toEqual([...API_ONLY_INDEXES]);
        const shed = indexes(db);
        for (const name of API_ONLY_INDEXES) expect(shed[name]).toBeUndefined();
        expect(Object.keys(shed).length).toBe(Object.keys(full).length - API_ONLY_INDEXES.length);
        expect(remembered(db)).toHaveLength(API_ONLY_INDEXES.length);
        // Shedding again (every start of the agent) finds nothing to drop and keeps what it remembered.
        expect(shedApiIndexes(db)).toEqual([]);
        expect(remembered(db)).toHaveLength(API_ONLY_INDEXES.length);

        expect(restoreApiIndexes(db)).toEqual({ built: [...API_ONLY_INDEXES].sort(), failed: [] });
        expect(indexes(db)).toEqual(full);
        expect(remembered(db)).toEqual([]);
        expect(restoreApiIndexes(db)).toEqual({ built: [], failed: [] });
    });
  });

  it('builds a remembered index taken off the list since (a later version needs it), and forgets one that no longer applies', async () => {
    const file = join(dir, 'stale.sqlite');
    await migrate(file);
    onFile(file, (db) => {
        const remember = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
        remember.run('spool_dropped_index:idx_needed_now', 'CREATE INDEX "idx_needed_now" ON "trace" ("chassis")');
        remember.run('spool_dropped_index:idx_of_a_gone_table', 'CREATE INDEX "idx_of_a_gone_table" ON "no_such_table" ("x")');
        expect(restoreApiIndexes(db)).toEqual({ built: ['idx_needed_now'], failed: ['idx_of_a_gone_table'] });
        expect(indexes(db)).toEqual({ ...full, idx_needed_now: 'CREATE INDEX "idx_needed_now" ON "trace" ("chassis")' });
        expect(remembered(db)).toEqual([]);
    });
  });

  it('keeps what it remembered when building fails for a reason other than a gone table (a full disk), and says so', async () => {
    const file = join(dir, 'full-disk.sqlite');
    await migrate(file);
    onFile(file, (db) => {
      shedApiIndexes(db);
      db.exec('VACUUM');
      db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
      expect(() => restoreApiIndexes(db)).toThrow(/full/);
      expect(remembered(db)).toHaveLength(API_ONLY_INDEXES.length);
      db.pragma('max_page_count = 4294967294');
      expect(restoreApiIndexes(db).built).toHaveLength(API_ONLY_INDEXES.length);
      expect(indexes(db)).toEqual(full);
    });
  });

  it('a start that sheds builds first a remembered index no longer on the list, with no migration to run', async () => {
    const file = join(dir, 'off-list.sqlite');
    await migrate(file);
    onFile(file, (db) => {
      // As a spool of a version that also dropped idx_trace_dpflow_cover, which this one keeps.
      db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('spool_dropped_index:idx_trace_dpflow_cover', full.idx_trace_dpflow_cover);
      db.exec('DROP INDEX idx_trace_dpflow_cover');
      expect(shedApiIndexes(db)).toEqual([...API_ONLY_INDEXES]);
      expect(indexes(db).idx_trace_dpflow_cover).toBe(full.idx_trace_dpflow_cover);
      expect(remembered(db)).toHaveLength(API_ONLY_INDEXES.length);
    });
  });

  it("the typeorm CLI's data source builds them again before it undoes a migration that drops one", async () => {
    const file = join(dir, 'cli.sqlite');
    await migrate(file);
    onFile(file, shedApiIndexes);
    // PushSignature's down() is a plain DROP INDEX "idx_dpflow_push": on the shed spool it failed.
    const plain = new DataSource({ ...dataSourceOptions(file), migrations: files, logging: false });
    await plain.initialize();
    // The later migrations (none touches these indexes) undone first.
    while (((await plain.query('SELECT name FROM migrations ORDER BY id DESC LIMIT 1')) as Array<{ name: string }>)[0].name !== 'PushSignature1796600000000')
      await plain.undoLastMigration();
    await expect(plain.undoLastMigration()).rejects.toThrow(/no such index: idx_dpflow_push/);
    await plain.destroy();
    const cli = new StoreDataSource({ ...dataSourceOptions(file), migrations: files, logging: false });
    await cli.initialize();
    try {
      await cli.undoLastMigration();
      await cli.runMigrations();
    } finally {
      await cli.destroy();
    }
    onFile(file, (after) => {
        expect(indexes(after)).toEqual(full);
    });
  });

  it('migrates a spool that dropped them at any earlier version, through the migrations that touch them', async () => {
    let shedAt = 0;
    for (let k = 1; k < files.length; k++) {
      const file = join(dir, `at-${k}.sqlite`);
      await migrate(file, k);
      onFile(file, (db) => {
        const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get();
        if (hasMeta && shedApiIndexes(db).length) shedAt++;
      });
      await expect(migrate(file)).resolves.toBeUndefined();
      onFile(file, (after) => {
        expect([k, indexes(after)]).toEqual([k, full]);
        expect(remembered(after)).toEqual([]);
      });
    }
    // Most versions had some of them to drop (they came with several migrations), so the loop meant something.
    expect(shedAt).toBeGreaterThan(files.length / 2);
  });

  it('leaves a spool with nothing to migrate as it is: no index built at every start', async () => {
    const file = join(dir, 'current.sqlite');
    await migrate(file);
    onFile(file, shedApiIndexes);
    await migrate(file);
    onFile(file, (after) => {
        for (const name of API_ONLY_INDEXES) expect(indexes(after)[name]).toBeUndefined();
        expect(remembered(after)).toHaveLength(API_ONLY_INDEXES.length);
    });
  });
});
