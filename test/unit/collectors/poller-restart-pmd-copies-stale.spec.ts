// The poller started again on a lifetime whose pmd_copies no longer describe its counters. Every
// write of this poller sets both in one statement (packets = retired + the copies), but an agent
// before f1042cb, run on the same spool in between (a rollback: its migrations table ignores the
// newer PmdCopies, the column stays), updates the counters alone and leaves the JSON of the last
// newer run. Read back as the copies, that JSON made a lifetime's packets fall with no end (counted
// again from the old copies: 53 -> 35 below). A JSON that does not add up to the row's counters was
// not written with them: read as none, the total alone (as a NULL row of an older agent). Captured
// OVS 3.1 lines (test/support/pmd-copies-dump.ts); the store a real migrated SQLite.
import { pollerCopiesOf } from '../../../src/collectors/pmd-copies-column';
import { PMD_PACKET_BYTES, pmdCopiesText, pmdCounts, restartedPoller } from '../../support/pmd-copies-dump';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

describe("the poller started again, a lifetime whose pmd_copies an older agent's run left behind its counters", () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  let dump = '';
  const rows = () => m.db.prepare('SELECT removed_at AS removedAt, removal_reason AS reason, packets, bytes FROM datapath_flow ORDER BY id').all();
  /** A run of the service: a poller on the store, which picks up the lifetimes left open as at its start. */
  const run = () => restartedPoller(m, () => dump);
  const counts = pmdCounts;

  it('reads the copies as none and goes on from the total alone: its packets never fall', async () => {
    m = await openMigratedSqlite('livetrace-poller-pmd-stale-');
    dump = pmdCopiesText({ 0: 19, 1: 2 });
    await run().cycle();
    // The older agent's run: core 0's copy idled out and came back, 30 packets on it; it counted
    // 19 + 30 + 4 and wrote them with its statement (DatapathFlowStore.update before f1042cb).
    m.db.prepare('UPDATE datapath_flow SET last_seen = ?, packets = ?, bytes = ?, used = ? WHERE id = ?').run(new Date().toISOString(), 53, 53 * PMD_PACKET_BYTES, '0.829s', 1);
    dump = pmdCopiesText({ 0: 31, 1: 4 });
    await run().cycle();
    // The total alone cannot tell core 0's new copy from the one that left: 35 < 53, ended
    // counters_reset with its 53 kept, as for a row with no pmd_copies.
    expect(rows()).toEqual([
      { removedAt: expect.any(String), reason: 'counters_reset', ...counts(53) },
      { removedAt: null, reason: null, ...counts(35) },
    ]);
  });

  it('the column: unreadable or hostile text never throws and reads as none', () => {
    const total = counts(21);
    expect(pollerCopiesOf(JSON.stringify({ c: { 0: [19, 19 * PMD_PACKET_BYTES], 1: [2, 2 * PMD_PACKET_BYTES] }, r: [0, 0] }), total)).not.toBeNull();
    for (const text of ['', '{', 'null', '[]', '"x"', '{"c":{},"r":[0,0]}', '{"c":{"0":[21,2226]}}', '{"c":{"0":[1e300,0]},"r":[0,0]}', '{"c":{"0":[-1,0]},"r":[22,2332]}', '{"c":{"__proto__":[21,2226]},"r":"x"}', '{"c":{"0":[21,2226,1]},"r":[0,0]}'])
      expect(pollerCopiesOf(text, total)).toBeNull();
    // Adds up to other counters: not written with this row's.
    expect(pollerCopiesOf(JSON.stringify({ c: { 0: [19, 0], 1: [2, 0] }, r: [0, 0] }), total)).toBeNull();
  });
});
