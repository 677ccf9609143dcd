// Upcalls read back on a real migrated SQLite file: an upcall is joined to the lifetime of its UFID
// in force at its time (a UFID comes back after deletion), and to the newest trace of the upcall or
// of that lifetime.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import type { StoreWriter } from '../../../src/storage/writer';
import { UpcallStore } from '../../../src/upcalls/upcall-store';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const UFID = '11111111-2222-4333-8444-555555555555';
const at = (s: number) => new Date(Date.UTC(2026, 11, 1, 0, 0, s)).toISOString();

describe('UpcallStore', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let upcalls: UpcallStore;
  let flows: DatapathFlowStore;

  const trace = (flowId: number | null, upcallId: number | null): number =>
    Number(
      db
        .prepare(
          `INSERT INTO trace (chassis, created_at, datapath_flow_id, upcall_id, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
           VALUES ('hv1', ?, ?, ?, 'trace', '0x0', '', '', '', '', ',', '{}', 0, x'')`,
        )
        .run(at(30), flowId, upcallId).lastInsertRowid,
    );

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-upcalls-', { entities: true }));
    upcalls = new UpcallStore({ db });
    flows = new DatapathFlowStore({ db });
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  it('joins each upcall to the lifetime of its UFID in force at its time, and to the newest trace of the upcall or that lifetime', async () => {
    const lifetime = { chassis: 'hv1', ufid: UFID, inPort: '2', recircId: '0x0', key: 'in_port(2)', actions: '3', packets: 1, bytes: 1, used: null, source: 'poller' as const };
    const [old, reborn] = await writer.submit((tx) => {
      const a = flows.create(tx, { ...lifetime, firstSeen: at(1), lastSeen: at(4) });
      flows.close(tx, a, at(5), 'ukey_removed');
      return [a, flows.create(tx, { ...lifetime, firstSeen: at(6), lastSeen: at(6) })];
    });
    const [early, late, elsewhere, unlinked] = await writer.submit((tx) => [
      upcalls.insert(tx, { chassis: 'hv1', source: 'usdt', time: at(3), heardAt: at(3), ufid: UFID, sampled: false }),
      upcalls.insert(tx, { chassis: 'hv1', source: 'usdt', time: at(7), heardAt: at(7), ufid: UFID, sampled: false }),
      upcalls.insert(tx, { chassis: 'hv2', source: 'usdt', time: at(7), heardAt: at(7), ufid: UFID, sampled: false }),
      upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: at(8), heardAt: at(8), sampled: true, extra: { line: 'x' } }),
    ]);
    trace(old, null);
    const newestOfOld = trace(old, null);
    const ofUpcall = trace(reborn, late);
    trace(reborn, null); // newer, but the upcall's own trace wins
    expect((await Promise.all([early, late, elsewhere, unlinked].map((id) => upcalls.get(id)))).map((u) => [u?.datapathFlowId, u?.traceId, u?.sampled])).toEqual([
      [old, newestOfOld, false],
      [reborn, ofUpcall, false],
      [null, null, false],
      [null, null, true],
    ]);
    expect((await upcalls.get(unlinked))?.extra).toEqual({ line: 'x' });
    expect(await upcalls.get(9999)).toBeUndefined();
    expect((await upcalls.list({ chassis: 'hv1', linked: true, limit: 1 })).map((u) => u.id)).toEqual([late, early]); // limit + 1: the next page exists
    expect((await upcalls.list({ source: 'vlog', limit: 10 })).map((u) => u.id)).toEqual([unlinked]);
    expect((await upcalls.list({ since: at(7), until: at(7), limit: 10 })).map((u) => u.id)).toEqual([elsewhere, late]);
  });
});
