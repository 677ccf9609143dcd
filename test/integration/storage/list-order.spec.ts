// GET /traces's order on SQLite (trace-read-store.ts's list): newest first by trace time, then id,
// whatever order the writer gave ids in (an ingested event carries its own, older, time); a port's
// path rows added later carry their trace's time; paging by the position is exact; an `id:` cursor
// from before is placed at its trace's time; the stream's walk (`above`) stays by id.
import type { Database } from 'better-sqlite3';
import type { DataSource } from 'typeorm';
import { traceCursor } from '../../../src/common/query';
import { StoreWriter } from '../../../src/storage/writer';
import type { TraceListQuery } from '../../../src/traces/trace-read-store';
import { TraceStore } from '../../../src/traces/trace-store';
import { capturedPasses } from '../../support/captured-passes';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const iso = (sec: number) => new Date(T0 + sec * 1000).toISOString();

interface Item {
  id: number;
  createdAt: string;
}
const newestFirst = (a: Item, b: Item) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.id - a.id);
const pick = (t: Item) => ({ id: t.id, createdAt: t.createdAt });

describe('GET /traces order on SQLite', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let traces: TraceStore;
  const stored: Item[] = [];
  const passes = capturedPasses();
  const port = passes[0].port;

  beforeAll(async () => {
    ({ dir, ds, db } = await openMigratedSqlite('livetrace-list-order-', { writer: false }));
    const writer = new StoreWriter(db);
    traces = new TraceStore({ db, writer });
    // Times out of id order (ingested events stamped with their own time), one tie.
    for (const sec of [5, 1, 9, 3, 9, 0, 7]) {
      const id = await writer.submit((tx) => traces.insert(tx, { trace: passes[0].pass, chassis: 'hv1', createdAt: iso(sec), portUuids: new Map() }));
      stored.push({ id, createdAt: iso(sec) });
    }
    // A later pass of the same packet adds the path's ports to an older trace; none to a trace that is gone.
    await writer.submit((tx) => {
      traces.addPathPorts(tx, stored[1].id, [{ name: 'lsp-far', uuid: null, bindingUuid: null, datapath: null, role: 'outport' }]);
      traces.addPathPorts(tx, 999_999, [{ name: 'lsp-far', uuid: null, bindingUuid: null, datapath: null, role: 'outport' }]);
    });
  });

  afterAll(async () => {
    await closeMigratedSqlite({ dir, ds });
  });

  const list = async (q: Partial<TraceListQuery>) => (await traces.list({ limit: 500, withSteps: false, ...q })) as { items: Item[]; next: string | null };

  async function walk(q: Partial<TraceListQuery>, limit: number): Promise<Item[]> {
    const out: Item[] = [];
    let after: Partial<TraceListQuery> = {};
    for (let i = 0; i < 50; i++) {
      const p = await list({ ...q, ...after, limit });
      out.push(...p.items);
      if (!p.next) return out;
      after = traceCursor({ cursor: p.next });
    }
    throw new Error('no end');
  }

  it('lists newest first by time, then id, whole and paged, for all traces and a port', async () => {
    const expected = [...stored].sort(newestFirst);
    expect(expected.map((t) => t.id)).not.toEqual([...stored].map((t) => t.id).reverse());
    expect((await list({})).items.map(pick)).toEqual(expected);
    expect((await list({ portName: port })).items.map(pick)).toEqual(expected);
    for (const limit of [1, 2, 3]) {
      expect((await walk({}, limit)).map(pick)).toEqual(expected);
      expect((await walk({ portName: port }, limit)).map(pick)).toEqual(expected);
    }
    const window = expected.filter((t) => t.createdAt >= iso(3) && t.createdAt <= iso(7));
    expect((await walk({ portName: port, since: iso(3), until: iso(7) }, 1)).map(pick)).toEqual(window);
  });

  it("writes a port row with its trace's time, also for a path's port added later, and none for a trace no longer stored", async () => {
    expect(db.prepare('SELECT COUNT(*) AS n FROM trace_port p JOIN trace t ON t.id = p.trace_id WHERE p.created_at <> t.created_at').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT trace_id, created_at FROM trace_port WHERE port_name = ?').all('lsp-far')).toEqual([{ trace_id: stored[1].id, created_at: iso(1) }]);
    expect((await list({ portName: 'lsp-far' })).items.map(pick)).toEqual([pick(stored[1])]);
  });

  it('places an id: cursor at its trace time, or below the newest older trace of its slot once it is gone', async () => {
    const expected = [...stored].sort(newestFirst);
    expect((await list({ cursor: expected[2].id })).items.map(pick)).toEqual(expected.slice(3));
    const top = Math.max(...stored.map((t) => t.id));
    expect((await list({ cursor: top + 10 })).items.map(pick)).toEqual(expected.slice(expected.findIndex((t) => t.id === top)));
  });

  it("keeps the stream's walk of a slot by id (above)", async () => {
    const ids = stored.map((t) => t.id);
    const floor = ids[1];
    expect((await list({ above: floor })).items.map((t) => t.id)).toEqual(ids.filter((id) => id > floor).reverse());
    expect((await list({ portName: port, above: floor, cursor: ids[5] })).items.map((t) => t.id)).toEqual(ids.filter((id) => id > floor && id < ids[5]).reverse());
  });
});
