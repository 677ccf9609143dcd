// A trace and its port rows reach PostgreSQL together under the byte bound
// (LIVETRACE_SHIP_BATCH_BYTES). A batch reads its ranges table by table (trace before trace_port)
// and the bound may end in one: the traces read then went to PostgreSQL in a batch without their
// ports, which came one or more batches later (after a crash, when the agent is back). Meanwhile
// the traces were there without their ports, and PostgreSQL's own retention (it takes a trace's
// ports with it) could take such a trace: its ports, shipped after, stayed for good, pointing at
// nothing and never pruned.
import { centralRound } from '../../src/retention/central-retention-store';
import type { StoreService } from '../../src/storage/store.service';
import { packSteps } from '../../src/traces/step-pack';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const BOUND = 1024 ** 2;

/** Traces of ~300 kB (their flow text) with three port rows each. */
function writeTraces(s: StoreService, n: number): Promise<number[]> {
  return s.writer.submit((tx) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = Number(
        tx
          .stmt(
            `INSERT INTO trace (chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
             VALUES ('hv1', '2026-12-01T00:00:01Z', 'trace', '0x0', ?, 'f', 'm', 'drop', '[]', '{"kind":"drop"}', 0, ?)`,
          )
          .run(`in_port=${i},${'x'.repeat(300_000)}`, packSteps([])).lastInsertRowid,
      );
      for (const port of ['lsp1', 'lsp2', 'lsp3'])
        tx.stmt(`INSERT INTO trace_port (trace_id, port_name, role, scope, port_uuid, created_at) VALUES (?, ?, 'in', 'logical', NULL, '2026-12-01T00:00:01Z')`).run(id, port);
      ids.push(id);
    }
    return ids;
  });
}

const withoutPorts = `SELECT COUNT(*)::int AS n FROM trace t WHERE (SELECT COUNT(*) FROM trace_port p WHERE p.trace_id = t.id) <> 3`;
const orphanPorts = `SELECT COUNT(*)::int AS n FROM trace_port p WHERE NOT EXISTS (SELECT 1 FROM trace t WHERE t.id = p.trace_id)`;

describe('a trace and its ports under the byte bound (real PostgreSQL)', () => {
  it('every batch brings a trace with all its ports', async () => {
    const url = await spools.pg().database('ship_together');
    const s = await storeOn(url, newSpool(), { LIVETRACE_SHIP_BATCH_BYTES: String(BOUND) });
    await s.shipper!.stop();
    await writeTraces(s, 10);
    let batches = 0;
    while ((await s.shipper!.shipSome()) > 0) {
      batches++;
      expect(await pgRows(url, withoutPorts)).toEqual([{ n: 0 }]);
    }
    expect(batches).toBeGreaterThanOrEqual(3);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM trace')).toEqual([{ n: 10 }]);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM trace_port')).toEqual([{ n: 30 }]);
  });

  it("a trace's ports are claimed with it when an earlier trace had none (the port mark behind the trace mark)", async () => {
    const url = await spools.pg().database('ship_together_claims');
    const s = await storeOn(url, newSpool(), { LIVETRACE_SHIP_BATCH: '2' });
    await s.shipper!.stop();
    // A trace without port rows: trace_port's shipped mark stays below trace's.
    await s.writer.submit((tx) =>
      tx
        .stmt(
          `INSERT INTO trace (chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
           VALUES ('hv1', '2026-12-01T00:00:01Z', 'trace', '0x0', 'in_port=9', 'f', 'm', 'drop', '[]', '{"kind":"drop"}', 0, ?)`,
        )
        .run(packSteps([])),
    );
    while ((await s.shipper!.shipSome()) > 0);
    await pgRows(url, `DELETE FROM trace`);
    await writeTraces(s, 6);
    while ((await s.shipper!.shipSome()) > 0) expect(await pgRows(url, withoutPorts)).toEqual([{ n: 0 }]);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM trace_port')).toEqual([{ n: 18 }]);
  });

  it("PostgreSQL's retention between two batches leaves no port rows without their trace", async () => {
    const url = await spools.pg().database('ship_together_retention');
    const s = await storeOn(url, newSpool(), { LIVETRACE_SHIP_BATCH_BYTES: String(BOUND) });
    await s.shipper!.stop();
    await writeTraces(s, 10);
    expect(await s.shipper!.shipSome()).toBeGreaterThan(0);
    // The traces are days old: the round takes every one PostgreSQL has, with its ports.
    const round = await centralRound(s.central!.pool, { days: 1, keep: 0 }, Date.parse('2026-12-05T00:00:00Z'));
    expect(round.traces).toBeGreaterThan(0);
    while ((await s.shipper!.shipSome()) > 0);
    expect(await pgRows(url, orphanPorts)).toEqual([{ n: 0 }]);
  });
});
