// One process's start on a SQLite file, as StorageModule opens the store: the data source on the
// file, then migrateStore. Run by test/support/store-starts.ts as `node -r swc-register store-start.ts
// <file> [wait ms]`: it loads everything, says `ready`, and opens the store only when told `go` on stdin, so
// several started together migrate at the same moment. Says `started <names of the migrations table>`
// once open; exits 1 with the error on stderr if the start failed, as the service does.
import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { migrateStore } from '../../src/storage/spool-indexes';
import { SQLITE_MIGRATION_WAIT_DEFAULT } from '../../src/storage/sqlite-migrate';

async function start(file: string, waitMs: number): Promise<void> {
  const ds = new DataSource({ ...dataSourceOptions(file), logging: ['error', 'schema', 'migration'] });
  await ds.initialize();
  try {
    await migrateStore(ds, { waitMs });
    const names = (await ds.query('SELECT name FROM migrations ORDER BY id')) as Array<{ name: string }>;
    console.log(`started ${names.map((r) => r.name).join(',')}`);
  } finally {
    await ds.destroy();
  }
}

const [file, waitMs] = [process.argv[2], Number(process.argv[3] ?? SQLITE_MIGRATION_WAIT_DEFAULT.waitMs)];
console.log('ready');
const rl = createInterface({ input: process.stdin });
rl.once('line', () => {
  rl.close();
  start(file, waitMs).catch((err: Error) => {
    console.error(`start failed: ${err.message}`);
    process.exitCode = 1;
  });
});
