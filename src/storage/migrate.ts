// `npm run migration:run` and `npm run migration:revert`: the migrations by hand, from the same
// configuration file and environment as the service (data-source.ts). With LIVETRACE_DB=postgres://…
// through the service's own path (storage/pg-migrate.ts): under its advisory lock, so never at the
// same time as an agent's or api instance's start-up migrations, with the same statement and lock
// timeouts and tries (the typeorm CLI took no lock). With SQLite through StoreDataSource: under the
// file's write lock as every start (storage/sqlite-migrate.ts), spool indexes rebuilt first.
import 'reflect-metadata';
import { loadConfig } from '../config/config';
import dataSource from './data-source';
import { migrateUnderLock, migrationLock } from './pg-migrate';
import { isPostgresUrl, redactUrl } from './postgres';

async function main(what: string): Promise<void> {
  if (what !== 'run' && what !== 'revert') throw new Error(`usage: migrate.ts run|revert (got ${JSON.stringify(what)})`);
  const cfg = loadConfig();
  dataSource.setOptions({ logging: ['error', 'schema', 'migration'] });
  await dataSource.initialize();
  try {
    if (isPostgresUrl(cfg.LIVETRACE_DB)) {
      console.log(`PostgreSQL ${redactUrl(cfg.LIVETRACE_DB.trim())}: waiting for the migrations' advisory lock, then ${what === 'run' ? 'the pending migrations' : 'reverting the last one'}`);
      await migrateUnderLock(dataSource, migrationLock(cfg), what);
    } else if (what === 'run') await dataSource.runMigrations();
    else await dataSource.undoLastMigration();
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv[2]).catch((err: Error) => {
  console.error(`migration ${process.argv[2] ?? ''} failed: ${err.message}`);
  process.exitCode = 1;
});
