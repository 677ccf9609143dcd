// The local SQLite file (LIVETRACE_DB, or with PostgreSQL LIVETRACE_SPOOL) checked before Nest
// starts. Left to TypeORM, a folder the service may not write was opened ten times over ~30 s, each
// "SqliteError: unable to open database file" (no key, no path), and the process exited 1.
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LivetraceConfig } from '../config/config.schema';
import { isPostgresUrl } from './postgres';

/** Why the local store file cannot be used, naming its key and path; null when it can. */
export function checkStorePath(config: LivetraceConfig): string | null {
  const key = isPostgresUrl(config.LIVETRACE_DB) ? 'LIVETRACE_SPOOL' : 'LIVETRACE_DB';
  const file = config[key];
  if (file === ':memory:') return null;
  const folder = dirname(file);
  const refuse = (why: string) => `${key}=${JSON.stringify(file)}: ${why}`;
  try {
    mkdirSync(folder, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') return refuse(`cannot create its folder ${folder}: a part of it is a file, not a folder`);
    return refuse(`cannot create its folder ${folder}: ${(err as Error).message}`);
  }
  // SQLite in WAL mode creates the -wal and -shm files beside the database: the folder must be writable too.
  try {
    accessSync(folder, constants.W_OK | constants.X_OK);
  } catch (err) {
    return refuse(`folder ${folder} is not writable by this process (uid ${process.getuid?.() ?? '?'}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) return refuse('is a folder: expected the path of the SQLite file (e.g. /var/lib/ovn-livetrace/livetrace.sqlite)');
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch (err) {
      return refuse(`the file is not readable and writable by this process (uid ${process.getuid?.() ?? '?'}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return null;
}
