// Processes starting together on a SQLite file that does not exist yet (a new install: an api
// instance and an `all` process on one host, or two agents' tests on one file): each start runs
// migrateStore. Its look at what is pending must not write: TypeORM's showMigrations creates the
// migrations table when missing, outside the file's write lock, and the second start failed on
// 'table "migrations" already exists' (Nest logged "Unable to connect to the database" and tried
// again). Two data sources in one process make the interleaving of the two starts the same each run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { migrateStore } from '../../../src/storage/spool-indexes';
import { MIGRATION_FILES, onSqliteFile } from '../../support/migrated-sqlite';

describe('two starts together on a new SQLite file', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'livetrace-migrate-new-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('both start; each migration is run once', async () => {
    const file = join(dir, 'db.sqlite');
    const starts = [0, 1].map(() => new DataSource({ ...dataSourceOptions(file), logging: false }));
    try {
      for (const ds of starts) await ds.initialize();
      const results = await Promise.allSettled(starts.map((ds) => migrateStore(ds, { waitMs: 60_000 })));
      expect(results.map((r) => (r.status === 'fulfilled' ? 'started' : String(r.reason)))).toEqual(['started', 'started']);
    } finally {
      for (const ds of starts) if (ds.isInitialized) await ds.destroy();
    }
    const names = onSqliteFile(file, (db) => (db.prepare('SELECT name FROM migrations').all() as Array<{ name: string }>).map((r) => r.name));
    expect(names).toHaveLength(MIGRATION_FILES.length);
    expect(new Set(names).size).toBe(names.length);
  });
});
