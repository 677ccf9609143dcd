// For the migration commands (`-d src/storage/data-source.ts`): the same options as the app,
// from the same configuration file and environment, and the entities found by file name. With
// LIVETRACE_DB=postgres://… it is the PostgreSQL store (migrations/postgres/; its schema mirrors
// SQLite's column types, so it is written, not generated). `npm run migration:run` and
// `migration:revert` use it through storage/migrate.ts, which takes the PostgreSQL migrations'
// advisory lock as every start does (a SQLite file's write lock: StoreDataSource); the typeorm CLI's
// own migration:run (npm run typeorm) takes neither.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config';
import { dataSourceOptions } from './data-source.options';
import { entityFiles } from './entities';
import { isPostgresUrl, pgDataSourceOptions } from './postgres';
import { StoreDataSource } from './spool-indexes';
import { sqliteMigrationWait } from './sqlite-migrate';

const cfg = loadConfig();
const db = cfg.LIVETRACE_DB;
// A SQLite file may be a spool that dropped some indexes: StoreDataSource builds them again first,
// and migrates under the file's write lock as a start does, waiting as long for it.
const sqlite = (): StoreDataSource => Object.assign(new StoreDataSource({ ...dataSourceOptions(db), entities: entityFiles() }), { migrationWait: sqliteMigrationWait(cfg) });
export default isPostgresUrl(db) ? new DataSource(pgDataSourceOptions(db)) : sqlite();
