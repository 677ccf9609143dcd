// A write job of the vswitchd log source that ended a lifetime (a flow_del) and rolled back (its
// COMMIT failing, as on a full disk: here a deferred foreign key the end breaks), replayed by the
// writer and written again by the source's retry, as vlog-source.service.ts does (making, rolledBack,
// a new job, committed). The end dropped the lifetime's PMD copies from memory and the rollback did
// not bring them back: the replay knew one copy (the PMD noted in the rolled-back run) or none, read
// the other copy's smaller counters in the same job as counters fallen, and wrote another history
// than the first run had: the live lifetime ended counters_reset, a new one begun, the flow_del
// ending that one. Driven by hand on VlogLifetimes (as vlog-pmd-copies-main.spec.ts), the captured
// OVS 3.5 main-thread flow_add, a real migrated SQLite and its StoreWriter.
import { LifetimeSpoolBound } from '../../../src/collectors/lifetime-spool-bound';
import { GoneChecks } from '../../../src/collectors/vlog-gone-check';
import { VlogLifetimes } from '../../../src/collectors/vlog-lifetimes';
import { committed, writeJob } from '../../../src/collectors/vlog-write-job';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import type { WriteContext } from '../../../src/storage/writer';
import { capturedFlow, foundInstalled } from '../../support/captured-vlog-flow';
import { closeMigratedSqlite, type MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';
import type { StoreWriter } from '../../../src/storage/writer';

const PMD = 'pmd-c01/id:5';
const rowsOf = (m: MigratedSqlite) =>
  m.db.prepare('SELECT first_seen AS firstSeen, removed_at AS removedAt, removal_reason AS reason, packets FROM datapath_flow ORDER BY id').all();

describe('a vlog write job that ended a lifetime, rolled back', () => {
  let m: MigratedSqlite & { writer: StoreWriter };
  afterEach(() => closeMigratedSqlite(m));

  const setUp = async (prefix: string) => {
    m = await openMigratedSqlite(prefix);
    const spool = { full: false };
    const lifetimes = new VlogLifetimes(new DatapathFlowStore({ db: m.db }), new GoneChecks(), new LifetimeSpoolBound({ shipper: { state: spool } } as never, new MetricsService()));
    return { spool, lifetimes };
  };

  /** `write` as one job whose COMMIT fails (the writer's replay of it alone too), undone, then written again as a new job. */
  const failingOnce = async (lifetimes: VlogLifetimes, write: (tx: WriteContext) => void) => {
    m.db.exec(`CREATE TABLE t_parent (id INTEGER PRIMARY KEY);
      CREATE TABLE t_child (p INTEGER REFERENCES t_parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER t_end AFTER UPDATE OF removed_at ON datapath_flow BEGIN INSERT INTO t_child VALUES (1); END;`);
    const job = writeJob();
    // Matched by its fields: better-sqlite3's SqliteError class is the first test file's of this jest
    // worker (the addon is loaded once a process), not instanceof this file's Error, so toThrow says "did not throw".
    await expect(m.writer.submit((tx) => lifetimes.making(job, () => write(tx)))).rejects.toMatchObject({ message: 'FOREIGN KEY constraint failed' });
    lifetimes.rolledBack(job);
    m.db.exec('DROP TRIGGER t_end');
    const again = writeJob();
    await m.writer.submit((tx) => lifetimes.making(again, () => write(tx)));
    committed(again);
  };

  it("of a stored lifetime: the replay counts the PMD's copy as the first run did, and ends it flow_del alone", async () => {
    const { lifetimes } = await setUp('livetrace-vlog-rollback-ended-');
    const { flow, t } = capturedFlow();
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'main'));
    // get-flow reads the main thread's copy: 40 packets.
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, 1, 40, Date.parse(t(12))), 'hv1'));
    // One job: PMD core 1 installs its copy, get-flow reads it (3 packets: the main one idled out), the flow is deleted.
    await failingOnce(lifetimes, (tx) => {
      lifetimes.installed(tx, flow, t(20), 'hv1', PMD);
      lifetimes.checked(tx, foundInstalled(flow, 1, 3, Date.parse(t(24))), 'hv1');
      lifetimes.deleted(tx, flow.ufid, t(30), 'hv1');
    });
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: t(30), reason: 'flow_del', packets: 43 }]);
  });

  it('of a held-back lifetime stored late in it: its copies are back under its held-back id, the replay stores it as first seen', async () => {
    const { spool, lifetimes } = await setUp('livetrace-vlog-rollback-ended-late-');
    const { flow, t } = capturedFlow();
    // Held back, two copies (main, PMD core 1), the main one read while full: 40 packets.
    spool.full = true;
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0), 'hv1', 'main'));
    await m.writer.submit((tx) => lifetimes.installed(tx, flow, t(0.5), 'hv1', PMD));
    await m.writer.submit((tx) => lifetimes.checked(tx, foundInstalled(flow, -1, 40, Date.parse(t(12))), 'hv1'));
    expect(rowsOf(m)).toEqual([]);
    // Room: one job reads the PMD's copy (3 packets), stores the lifetime late, and the flow is deleted.
    spool.full = false;
    await failingOnce(lifetimes, (tx) => {
      lifetimes.checked(tx, foundInstalled(flow, -1, 3, Date.parse(t(24))), 'hv1');
      lifetimes.deleted(tx, flow.ufid, t(30), 'hv1');
    });
    expect(rowsOf(m)).toEqual([{ firstSeen: t(0), removedAt: t(30), reason: 'flow_del', packets: 43 }]);
  });
});
