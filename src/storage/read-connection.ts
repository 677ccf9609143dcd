import Database from 'better-sqlite3';

/**
 * A read-only connection on the database file: under WAL it reads the last committed state while
 * the writer goes on. The API's connection in the service and the trace reader worker's.
 */
export function openReadConnection(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  // Reads come through mmap; a smaller page cache than the writer's does.
  db.pragma('cache_size = -65536');
  db.pragma('mmap_size = 4294967296');
  db.pragma('temp_store = MEMORY');
  return db;
}
