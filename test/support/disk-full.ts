// A real full disk for a spec's migrated SQLite: SQLite's own SQLITE_FULL ('database or disk is
// full'), a passing failure for the vlog source (vlog-write-retry.ts passing), written again after a
// wait. A trigger raising an error stands in for it no longer: that is a constraint one row violates,
// an item's own error, and the source now gives such an item up at once (isolate). The file may not
// grow past its size now and MARGIN pages (PRAGMA max_page_count on the writer's connection); a spec's
// trigger whose body is `now` grows it past that in the statement that fired it (an INSERT on a full
// disk), one whose body is `atEnd` marks its transaction, grown past it at the transaction's end, after
// every job ran (a COMMIT on a full disk). Dropping the trigger frees the disk.
import type { MigratedSqlite } from './migrated-sqlite';
import type { StoreWriter } from '../../src/storage/writer';

/** Room left for the spec's own rows (pages). */
const MARGIN = 256;

export function diskFull(m: MigratedSqlite & { writer: StoreWriter }): { now: string; atEnd: string } {
  const page = m.db.pragma('page_size', { simple: true }) as number;
  m.db.exec('CREATE TABLE t_full_fill (b BLOB); CREATE TABLE t_full_mark (x INTEGER);');
  m.db.pragma(`max_page_count = ${(m.db.pragma('page_count', { simple: true }) as number) + MARGIN}`);
  const grow = `INSERT INTO t_full_fill VALUES (zeroblob(${(MARGIN + 16) * page}))`;
  m.writer.onChunkEnd((tx) => {
    if (tx.stmt('SELECT 1 FROM t_full_mark LIMIT 1').get()) tx.stmt(grow).run();
  });
  return { now: `${grow};`, atEnd: 'INSERT INTO t_full_mark VALUES (1);' };
}
