// addPathPorts writes to SQLite only the path-scoped port rows it does not know of (write-caches.ts
// PathPortRows): the rows must be what an INSERT OR IGNORE of every port on every pass leaves, through
// a port added later, a role added for a port already there, a rolled-back transaction (its rows
// gone, so known no more) and a pruned trace (its rows gone; none written for it after).
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { StoreWriter } from '../../../src/storage/writer';
import { TraceStore } from '../../../src/traces/trace-store';
import { capturedPasses } from '../../support/captured-passes';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

type Port = { name: string; uuid: string | null; bindingUuid: string | null; datapath: string | null; role: string };
const port = (name: string, role = 'outport'): Port => ({ name, uuid: null, bindingUuid: null, datapath: null, role });

describe('path-scoped port rows written once', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let traces: TraceStore;
  const pass = capturedPasses()[0].pass;

  beforeAll(async () => {
    ({ dir, ds, db } = await openMigratedSqlite('livetrace-path-port-rows-', { writer: false }));
    writer = new StoreWriter(db);
    traces = new TraceStore({ db, writer });
  });

  afterAll(async () => {
    await closeMigratedSqlite({ dir, ds });
  });

  const insert = () => writer.submit((tx) => traces.insert(tx, { trace: pass, chassis: 'hv1', createdAt: '2026-12-06T08:00:00.000Z', portUuids: new Map() }));
  const pathRows = (id: number) =>
    db.prepare(`SELECT port_name AS name, role, created_at AS at FROM trace_port WHERE trace_id = ? AND scope = 'path' ORDER BY port_name, role`).all(id);

  it('adds every new (port, role) of later passes, and each once', async () => {
    const a = await insert();
    const b = await insert();
    await writer.submit((tx) => {
      for (const t of [a, b]) traces.addPathPorts(tx, t, [port('p1')]);
    });
    await writer.submit((tx) => {
      for (const t of [a, b]) traces.addPathPorts(tx, t, [port('p1'), port('p2')]);
    });
    await writer.submit((tx) => {
      for (const t of [a, b]) traces.addPathPorts(tx, t, [port('p1'), port('p2'), port('p2', 'inport')]);
    });
    const want = [
      { name: 'p1', role: 'outport', at: '2026-12-06T08:00:00.000Z' },
      { name: 'p2', role: 'inport', at: '2026-12-06T08:00:00.000Z' },
      { name: 'p2', role: 'outport', at: '2026-12-06T08:00:00.000Z' },
    ];
    expect(pathRows(a)).toEqual(want);
    expect(pathRows(b)).toEqual(want);
  });

  it('writes again the rows of a transaction that rolled back', async () => {
    const a = await insert();
    const failed = writer.submit((tx) => {
      traces.addPathPorts(tx, a, [port('p9')]);
      throw new Error('the job fails after its rows were written');
    });
    await expect(failed).rejects.toThrow('the job fails');
    expect(pathRows(a)).toEqual([]);
    await writer.submit((tx) => traces.addPathPorts(tx, a, [port('p9')]));
    expect(pathRows(a)).toEqual([{ name: 'p9', role: 'outport', at: '2026-12-06T08:00:00.000Z' }]);
  });

  it('writes nothing for a pruned trace', async () => {
    const a = await insert();
    await writer.submit((tx) => traces.addPathPorts(tx, a, [port('p1')]));
    await writer.submit((tx) => traces.prune(tx, [a]));
    await writer.submit((tx) => traces.addPathPorts(tx, a, [port('p1'), port('p3')]));
    expect(db.prepare('SELECT COUNT(*) AS n FROM trace_port WHERE trace_id = ?').get(a)).toEqual({ n: 0 });
  });
});
