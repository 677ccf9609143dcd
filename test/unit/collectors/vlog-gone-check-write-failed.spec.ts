// A check whose answer could not be written (vlog-source.service.ts flushWrites): checkGone took it
// (GoneChecks.take unwatches the lifetime until its answer is written or it is watched again) and
// queued its answer with the batch of log events; the batch's write failed (here a real SQLITE_BUSY:
// another process on the same SQLite file holding the write lock past the busy timeout), the writer
// gave up the job, and the source only logged it. Nothing watched the lifetime again: open for ever,
// never asked again. The failed batch's checks are now watched again, so a later check ends it. The
// captured OVS 3.5 main-thread flow_add read from a file, the daemon's dpctl_error texts, a real
// migrated SQLite, checks at the service's own times.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GONE_REASON } from '../../../src/collectors/vlog-gone-check';
import { versionDir } from '../../support/captured-model';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import { ENOENT, lifetimeRows, NETDEV, startVlogSource, timeOf } from '../../support/vlog-source';
import type { VlogSourceService } from '../../../src/collectors/vlog-source.service';
import type { StoreWriter } from '../../../src/storage/writer';

const log = readFileSync(join(versionDir('ovs-3.5.0_ovn-25.03.0'), 'icmp-allow-related', 'vswitchd.log'), 'utf8').split('\n');
const first = log.findIndex((l) => l.includes('|dpif_netdev|DBG|flow_add: '));

describe('a gone-check whose answer failed to be written', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  let source: VlogSourceService | undefined;
  afterEach(async () => {
    jest.restoreAllMocks();
    await source?.onApplicationShutdown();
    source = undefined;
    await closeMigratedSqlite(m);
  });

  it('is checked again later and ends the lifetime, not left open for ever', async () => {
    m = await openMigratedSqlite('livetrace-vlog-write-failed-');
    const running = await startVlogSource(m, async () => Promise.reject(ENOENT), [NETDEV]);
    source = running.source;
    // The main thread's flow_add, its `flow match:`, and the line after them (the parser holds the last record).
    const lines = log.slice(first, first + 3);
    await running.append(lines);
    const at = (s: number) => timeOf(lines[0]) + s * 1000;
    // Another writer on the file holds its lock across the first check's write (busy timeout shortened).
    m.db.pragma('busy_timeout = 20');
    const other = new Database(m.file);
    other.exec('BEGIN IMMEDIATE');
    const failed = jest.spyOn((source as unknown as { log: { error(m: string): void } }).log, 'error').mockImplementation(() => undefined);
    await running.checkAt(at(12));
    other.exec('ROLLBACK');
    other.close();
    expect(failed).toHaveBeenCalledWith(expect.stringMatching(/^storing \d+ log events failed: database is locked/));
    expect(lifetimeRows(m)).toEqual([{ removedAt: null, reason: null }]); // nothing written
    for (let s = 24; s <= 72; s += 12) await running.checkAt(at(s));
    expect(lifetimeRows(m)).toEqual([{ removedAt: new Date(at(24)).toISOString(), reason: GONE_REASON }]);
  });
});
