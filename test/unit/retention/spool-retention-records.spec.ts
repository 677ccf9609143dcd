// An agent's spool under PostgreSQL's own retention (LIVETRACE_CENTRAL_RETENTION_*) drops the upcalls
// and cross-checks it has shipped once they are past its own limits (LIVETRACE_RETENTION_*), muted, as it
// does for traces, lifetimes and the ledger: PostgreSQL's round was their only one, so the spool on the
// hypervisor grew with every upcall the vswitchd log or a producer gave. What PostgreSQL does not hold
// yet (above the shipped mark) stays, and nothing of the prune is logged to ship.
import { CrossCheckStore } from '../../../src/cross-checks/cross-check-store';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { PathStore } from '../../../src/paths/path-store';
import { RetentionService } from '../../../src/retention/retention.service';
import { markKeys, setClaim, shippedTables } from '../../../src/storage/spool';
import type { StoreService } from '../../../src/storage/store.service';
import { TraceStore } from '../../../src/traces/trace-store';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { testConfig } from '../../support/app';
import { useSlotSpool } from '../../support/slot-spool';

const SLOT = 4;
const DAY = 86_400_000;
const NOW = Date.parse('2026-12-05T12:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const spool = useSlotSpool(SLOT);

it('drops the shipped upcalls and cross-checks past its own limits, muted; keeps the unshipped and the recent', async () => {
  const upcalls = new UpcallStore({ db: spool.db });
  const checks = new CrossCheckStore({ db: spool.db });
  /** One upcall and one cross-check made `agoMs` before NOW; their ids. */
  const add = (agoMs: number) =>
    spool.writer.submit((tx) => [
      upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: iso(agoMs), heardAt: iso(agoMs), sampled: true }),
      checks.insert(tx, { createdAt: iso(agoMs), traceId: 1, pathId: null, sessionId: null, result: 'match', argv: ['ovn-trace'], detail: { result: 'match' } }),
    ]);
  const old: number[][] = [];
  for (let i = 0; i < 3; i++) old.push(await add(40 * DAY)); // over LIVETRACE_RETENTION_DAYS=30
  const recent = await add(DAY);
  // PostgreSQL holds everything so far (the shipper's marks), then the agent goes on offline.
  for (const t of shippedTables(spool.db).filter((x) => x.name === 'upcall' || x.name === 'cross_check')) {
    const top = (spool.db.prepare(`SELECT MAX(id) AS m FROM ${t.name}`).get() as { m: number }).m;
    spool.db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(String(top), markKeys(t.name).shipped);
    setClaim(spool.db, t, SLOT, top);
  }
  spool.db.prepare('DELETE FROM ship_log').run();
  const unshipped = await add(40 * DAY); // as old, but only in the spool (an ingested upcall dated back)
  const logged = spool.db.prepare('SELECT tbl, pk FROM ship_log ORDER BY tbl, pk').all();

  const s = { db: spool.db, writer: spool.writer, central: { pool: {} } } as unknown as StoreService;
  const config = testConfig({ LIVETRACE_RETENTION_DAYS: '30', LIVETRACE_RETENTION_ROWS: '0', LIVETRACE_CENTRAL_RETENTION_DAYS: '365' });
  const retention = new RetentionService(s, new TraceStore({ db: spool.db, writer: spool.writer }), new PathStore(s), new DatapathFlowStore({ db: spool.db }), config, new MetricsService(), upcalls, checks);
  expect(retention.central).toBe(true);
  const r = await retention.round(NOW);

  const ids = (table: string) => (spool.db.prepare(`SELECT id FROM ${table} ORDER BY id`).all() as Array<{ id: number }>).map((x) => x.id);
  expect(ids('upcall')).toEqual([recent[0], unshipped[0]]);
  expect(ids('cross_check')).toEqual([recent[1], unshipped[1]]);
  expect(r.records).toBe(6);
  expect(spool.db.prepare('SELECT tbl, pk FROM ship_log ORDER BY tbl, pk').all()).toEqual(logged);
});
