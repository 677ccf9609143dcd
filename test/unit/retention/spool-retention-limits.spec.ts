// The spool's own round (RetentionService with LIVETRACE_CENTRAL_RETENTION_*) cuts the rows no trace
// takes with it by the spool's limits as the SQLite round does (retention.ts untracedLimits): the age
// cutoff, and the oldest trace kept only once the row limit pruned traces. A round whose traces went
// by age alone, far under the row limit, must not take what is younger than LIVETRACE_RETENTION_DAYS.
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { PathStore } from '../../../src/paths/path-store';
import { RetentionService } from '../../../src/retention/retention.service';
import { markKeys, setClaim, shippedTables, SLOT_BITS } from '../../../src/storage/spool';
import type { StoreService } from '../../../src/storage/store.service';
import { packSteps } from '../../../src/traces/step-pack';
import { TraceStore } from '../../../src/traces/trace-store';
import { testConfig } from '../../support/app';
import { useSlotSpool } from '../../support/slot-spool';

const SLOT = 3;
const BASE = SLOT * 2 ** SLOT_BITS;
const DAY = 86_400_000;
const NOW = Date.parse('2026-12-05T12:00:00Z');
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const spool = useSlotSpool(SLOT);

const lifetime = (id: number, agoMs: number) =>
  spool.db
    .prepare(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, ?, '0', 'k', 'a', 1, 1, 'poller')`,
    )
    .run(id, `u-${id}`, iso(agoMs), iso(agoMs), iso(agoMs));
/** An on-demand trace (no path, no lifetime) made `agoMs` before NOW. */
const trace = (id: number, agoMs: number) =>
  spool.db
    .prepare(
      `INSERT INTO trace (id, chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES (?, 'hv1', ?, 'trace', '0', 'f', 'f', 'm', 'a', ',', '{}', 0, ?)`,
    )
    .run(id, iso(agoMs), packSteps([]));

it('a round of traces pruned by age alone keeps the untraced lifetimes younger than the age limit', async () => {
  const [oldTrace, newTrace, oldFlow, youngFlow] = [1, 2, 3, 4].map((n) => BASE + n);
  trace(oldTrace, 40 * DAY); // over LIVETRACE_RETENTION_DAYS=30
  trace(newTrace, DAY);
  lifetime(oldFlow, 35 * DAY); // over it too
  lifetime(youngFlow, 10 * DAY); // within it, and 2 traces are far under LIVETRACE_RETENTION_ROWS
  const tables = shippedTables(spool.db);
  for (const t of tables) {
    const mark = t.name === 'trace_citation' ? Math.floor((BASE + 10) / 32) : BASE + 10;
    spool.db.prepare('UPDATE meta SET value = ? WHERE key = ?').run(String(mark), markKeys(t.name).shipped);
    setClaim(spool.db, t, SLOT, mark);
  }
  spool.db.prepare('DELETE FROM ship_log').run();

  const s = { db: spool.db, writer: spool.writer, central: { pool: {} } } as unknown as StoreService;
  const config = testConfig({ LIVETRACE_RETENTION_DAYS: '30', LIVETRACE_RETENTION_ROWS: '1000', LIVETRACE_CENTRAL_RETENTION_DAYS: '365' });
  const retention = new RetentionService(s, new TraceStore({ db: spool.db, writer: spool.writer }), new PathStore(s), new DatapathFlowStore({ db: spool.db }), config, new MetricsService());
  expect(retention.central).toBe(true);
  await retention.round(NOW);

  expect((spool.db.prepare('SELECT id FROM trace ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id)).toEqual([newTrace]);
  expect((spool.db.prepare('SELECT id FROM datapath_flow ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id)).toEqual([youngFlow]);
});
