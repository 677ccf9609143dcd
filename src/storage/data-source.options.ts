// The one TypeORM data source definition, used by the app and by the typeorm CLI
// (`npm run migration:run`, `migration:generate`). Migrations live in the top-level
// migrations/ folder; the glob matches both the .ts sources (CLI, tests) and the .js that
// `nest build` writes to dist/migrations. Entities are not here: the app's modules register
// theirs, the CLI globs them (entities.ts).
import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Database } from 'better-sqlite3';
import type { DataSource, DataSourceOptions } from 'typeorm';

const ROOT = join(__dirname, '../..');

export function dataSourceOptions(dbFile: string): DataSourceOptions {
  if (dbFile !== ':memory:') mkdirSync(dirname(dbFile), { recursive: true });
  const isTs = __filename.endsWith('.ts');
  return {
    type: 'better-sqlite3',
    database: dbFile,
    migrations: [join(ROOT, 'migrations', isTs ? '*.ts' : '*.js')],
    migrationsTableName: 'migrations',
    synchronize: false,
    enableWAL: true,
    statementCacheSize: 500,
    prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
      // WAL + NORMAL: durable across process crashes, fsync only at checkpoints.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      // A million traces are GBs: the default 2 MB page cache thrashes on the random index
      // inserts (trace_port, idx_step_lflow, ufids) and on reads. 256 MB of cache, reads through
      // mmap (no copy into the cache), sorts and temp b-trees in memory (bench/api/RESULTS.md).
      db.pragma('cache_size = -262144');
      db.pragma('mmap_size = 4294967296');
      db.pragma('temp_store = MEMORY');
      // Checkpoint less often: fewer fsyncs and fewer rewrites of the same hot index pages.
      db.pragma('wal_autocheckpoint = 10000');
      db.pragma('journal_size_limit = 268435456');
    },
  };
}

/** The better-sqlite3 connection under a data source built from these options. */
export function sqliteHandle(ds: DataSource): Database {
  return (ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
}
