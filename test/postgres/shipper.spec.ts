// The spool and its shipper against a real PostgreSQL (scripts/pg-cluster): what a process writes
// into its SQLite spool arrives in PostgreSQL whole, with its ids, whatever happens to PostgreSQL
// meanwhile; two writers never collide. The rows are written through the real writer, as stores do.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { openCentral } from '../../src/storage/central';
import { SLOT_BITS } from '../../src/storage/spool';
import { API_ONLY_INDEXES } from '../../src/storage/spool-indexes';
import { testConfig } from '../support/app';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';
import { waitFor } from '../support/wait';

// A stop and start of PostgreSQL, and the waits bounded inside the tests, take more than jest's
// default 5 s on a loaded machine.
jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const newPath = (chassis: string) => `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('${chassis}', '2026-12-05T00:00:00Z', 'u0', '{}')`;

describe('the spool shipper (real PostgreSQL)', () => {
  it('ships inserts, updates and deletes with the ids the spool gave, from the writer slot’s range', async () => {
    const url = await spools.pg().database('ship_basic');
    const s = await storeOn(url);
    const slot = s.central!.slot;
    const id = await s.writer.submit((tx) => Number(tx.stmt(newPath('hv1')).run().lastInsertRowid));
    expect(id).toBe(slot * 2 ** SLOT_BITS + 1);
    await s.shipper!.synced();
    expect(await pgRows(url, 'SELECT id, chassis, updated_at FROM path')).toEqual([{ id: String(id), chassis: 'hv1', updated_at: 'u0' }]); // pg's own parsers, untouched: int8 as text;

    await s.writer.submit((tx) => tx.stmt(`UPDATE path SET updated_at = 'u1' WHERE id = ?`).run(id));
    await s.shipper!.synced();
    expect(await s.query.all('SELECT id, updated_at FROM path')).toEqual([{ id, updated_at: 'u1' }]);

    await s.writer.submit((tx) => tx.stmt(`DELETE FROM path WHERE id = ?`).run(id));
    await s.shipper!.synced();
    expect(await s.query.all('SELECT id FROM path')).toEqual([]);
    expect(s.shipper!.state.backlog).toBe(0);
    // Reads run without JIT (postgres.ts: compiling cost more than the short reads themselves).
    expect(await s.query.get('SHOW jit')).toEqual({ jit: 'off' });
  });

  it('composite keys and blobs arrive byte for byte; the SQLite and PostgreSQL readers answer the same', async () => {
    const url = await spools.pg().database('ship_bytes');
    const s = await storeOn(url);
    const steps = Buffer.from([0, 1, 2, 254, 255, 0x27, 0x5c]);
    await s.writer.submit((tx) => {
      const id = Number(
        tx
          .stmt(
            `INSERT INTO trace (chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
             VALUES ('hv1', '2026-12-05T00:00:01Z', 'trace', '0x0', 'in_port=1', 'f', 'm', 'drop', '[]', '{"kind":"drop"}', 0, ?)`,
          )
          .run(steps).lastInsertRowid,
      );
      for (const [port, role] of [['lsp1', 'in'], ['lsp2', 'out'], ["o'neil", 'in']])
        tx.stmt(`INSERT INTO trace_port (trace_id, port_name, role, scope, port_uuid, created_at) VALUES (?, ?, ?, 'logical', NULL, '2026-12-05T00:00:01Z')`).run(id, port, role);
    });
    await s.shipper!.synced();
    const sql = 'SELECT t.id, t.steps, t.step_count, p.port_name, p.role, p.port_uuid FROM trace t JOIN trace_port p ON p.trace_id = t.id ORDER BY p.port_name';
    const fromPg = await s.query.all(sql);
    const fromSqlite = s.db.prepare(sql).all();
    expect(fromPg).toHaveLength(3);
    expect(fromPg).toEqual(fromSqlite);
    expect(JSON.stringify(fromPg)).toBe(JSON.stringify(fromSqlite));
  });

  it('an upsert of a row still waiting to be shipped (citation bitmaps ORed twice) commits and ships the last value', async () => {
    const url = await spools.pg().database('ship_upsert');
    const s = await storeOn(url);
    const upsert = 'INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (0, 7, 3, ?) ON CONFLICT (kind, ref, bucket) DO UPDATE SET bits = bits | excluded.bits';
    await s.writer.submit((tx) => {
      tx.stmt(upsert).run(1);
      tx.stmt(upsert).run(4);
    });
    await s.writer.submit((tx) => tx.stmt(upsert).run(16));
    await s.shipper!.synced();
    expect(await s.query.all('SELECT kind, ref, bucket, bits FROM trace_citation')).toEqual([{ kind: 0, ref: 7, bucket: 3, bits: 21 }]);
  });

  it('a stop with PostgreSQL answering ships the last writes: they are in PostgreSQL when stop() returns', async () => {
    // A planned stop (an agent decommissioned never starts again): what it wrote last must not wait
    // in its spool for a next start.
    const url = await spools.pg().database('ship_stop_flush');
    const s = await storeOn(url);
    await s.shipper!.synced();
    const ids = await s.writer.submit((tx) => [1, 2, 3].map(() => Number(tx.stmt(newPath('hv1')).run().lastInsertRowid)));
    await s.writer.submit((tx) => tx.stmt(`UPDATE path SET updated_at = 'last' WHERE id = ?`).run(ids[0]));
    await s.shipper!.stop();
    expect(await pgRows(url, 'SELECT id, updated_at FROM path ORDER BY id')).toEqual(ids.map((id, i) => ({ id: String(id), updated_at: i ? 'u0' : 'last' })));
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM ship_log').get()).toEqual({ n: 0 });
  });

  it('a row changed while its batch is on the way to PostgreSQL is shipped again, never forgotten', async () => {
    const url = await spools.pg().database('ship_race');
    const s = await storeOn(url);
    const id = await s.writer.submit((tx) => Number(tx.stmt(newPath('hv1')).run().lastInsertRowid));
    // Batches by hand from here: the shipper's own timer must not take the batch below.
    await s.shipper!.stop();
    await s.writer.submit((tx) => tx.stmt(`UPDATE path SET updated_at = 'v1' WHERE id = ?`).run(id));
    // The race a real server cannot be asked for: the next change lands after the shipper read the
    // row (v1) and before PostgreSQL committed it, while the batch waits for its connection.
    const pool = (s.shipper as unknown as { pool: { connect(): Promise<unknown> } }).pool;
    const connect = pool.connect.bind(pool);
    pool.connect = async () => {
      pool.connect = connect;
      await s.writer.submit((tx) => tx.stmt(`UPDATE path SET updated_at = 'v2' WHERE id = ?`).run(id));
      return connect();
    };
    expect(await s.shipper!.shipSome()).toBe(1);
    expect(await pgRows(url, 'SELECT updated_at FROM path')).toEqual([{ updated_at: 'v1' }]);
    expect(s.db.prepare('SELECT ver FROM ship_log').all()).toEqual([{ ver: 1 }]);
    expect(await s.shipper!.shipSome()).toBe(1);
    expect(await pgRows(url, 'SELECT updated_at FROM path')).toEqual([{ updated_at: 'v2' }]);
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM ship_log').get()).toEqual({ n: 0 });
  });

  it('two writers get disjoint id ranges; the same OpenFlow rule met by both is two rows, no conflict', async () => {
    const url = await spools.pg().database('ship_two');
    const [a, b] = [await storeOn(url), await storeOn(url)];
    expect(a.central!.slot).not.toBe(b.central!.slot);
    for (const s of [a, b])
      await s.writer.submit((tx) => {
        tx.stmt(newPath(s === a ? 'hv1' : 'hv2')).run();
        tx.stmt(`INSERT INTO of_rule (hash, bridge, table_id, priority, match, actions, cookie) VALUES ('h1', 'br-int', 8, 100, 'ip', 'drop', '0x1')`).run();
      });
    await Promise.all([a.shipper!.synced(), b.shipper!.synced()]);
    const paths = await a.query.all<{ id: number; chassis: string }>('SELECT id, chassis FROM path ORDER BY id');
    expect(paths.map((p) => p.chassis)).toEqual(['hv1', 'hv2']);
    expect(Math.floor(paths[0].id / 2 ** SLOT_BITS)).toBe(a.central!.slot);
    expect(Math.floor(paths[1].id / 2 ** SLOT_BITS)).toBe(b.central!.slot);
    expect(await a.query.all('SELECT hash FROM of_rule')).toEqual([{ hash: 'h1' }, { hash: 'h1' }]);
  });

  it('PostgreSQL stopped under writes: the spool keeps them, /health facts say so, and all arrive after the restart', async () => {
    const url = await spools.pg().database('ship_outage');
    const s = await storeOn(url);
    const write = (n: number) => s.writer.submit((tx) => { for (let i = 0; i < n; i++) tx.stmt(newPath('hv1')).run(); });
    await write(100);
    await s.shipper!.synced();
    spools.pg().stopServer();
    try {
      // Acknowledged by the spool while PostgreSQL is away.
      for (let i = 0; i < 20; i++) await write(50);
      await waitFor('the shipper to notice, with 1000 changes spooled', () => !s.shipper!.state.up && s.shipper!.state.backlog >= 1000, 15_000);
      expect(s.shipper!.state.lastError).toBeTruthy();
      expect(s.shipper!.state.since).toBeTruthy();
    } finally {
      spools.pg().startServer();
    }
    await s.shipper!.synced(30_000);
    expect(s.shipper!.state.up).toBe(true);
    const local = s.db.prepare('SELECT COUNT(*) AS n FROM path').get() as { n: number };
    expect(local.n).toBe(1100);
    expect(await s.query.get('SELECT COUNT(*) AS n FROM path')).toEqual({ n: 1100 });
    expect(s.shipper!.state.backlog).toBe(0);
  });

  it('a session ended centrally is not reopened or re-ended by a late end from another writer', async () => {
    const url = await spools.pg().database('ship_session');
    const [api, agent] = [await storeOn(url), await storeOn(url)];
    const insert = `INSERT INTO trace_session (chassis, created_at, bridge, include_existing, cross_check, state, stats) VALUES ('hv1', 't0', 'br-int', 0, 0, 'active', '{}')`;
    const id = await api.writer.submit((tx) => Number(tx.stmt(insert).run().lastInsertRowid));
    await api.shipper!.synced();
    await agent.shipper!.pullSessions();
    expect(agent.db.prepare('SELECT state FROM trace_session WHERE id = ?').get(id)).toEqual({ state: 'active' });
    // The pulled copy is silenced: nothing to ship back.
    expect(agent.db.prepare('SELECT COUNT(*) AS n FROM ship_log').get()).toEqual({ n: 0 });
    const end = (state: string, at: string) => `UPDATE trace_session SET state = '${state}', ended_at = '${at}' WHERE id = ${id} AND state = 'active'`;
    await api.writer.submit((tx) => tx.stmt(end('stopped', 't1')).run());
    await api.shipper!.synced();
    await agent.writer.submit((tx) => tx.stmt(end('expired', 't2')).run());
    await agent.shipper!.synced();
    expect(await api.query.all('SELECT state, ended_at FROM trace_session')).toEqual([{ state: 'stopped', ended_at: 't1' }]);
  });

  it('refuses a spool that holds rows from outside its id range, and says what to do', async () => {
    const url = await spools.pg().database('ship_refuse');
    const file = join(mkdtempSync(join(tmpdir(), 'livetrace-spool-')), 'plain.sqlite');
    const ds = new DataSource({ ...dataSourceOptions(file), migrationsRun: true });
    await ds.initialize();
    await ds.query(newPath('hv1'));
    await expect(openCentral(testConfig({ LIVETRACE_DB: url, LIVETRACE_SPOOL: file }), ds)).rejects.toThrow(/outside any writer's id range.*LIVETRACE_SPOOL a new file/);
    await ds.destroy();
  });

  it('a spool does without the indexes only the API reads, and gets them back when the file becomes the store', async () => {
    const url = await spools.pg().database('ship_indexes');
    const spool = newSpool();
    const s = await spools.storeOn(url, spool);
    const names = () => (s.writer.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx\\_%' ESCAPE '\\'`).all() as Array<{ name: string }>).map((r) => r.name);
    for (const name of API_ONLY_INDEXES) expect(names()).not.toContain(name);
    expect(names()).toEqual(expect.arrayContaining(['idx_trace_created', 'idx_trace_path', 'idx_dpflow_ufid']));
    // PostgreSQL keeps them: the API reads there.
    const pgIndexes = (await pgRows(url, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()`)).map((r) => r.indexname);
    expect(pgIndexes).toEqual(expect.arrayContaining([...API_ONLY_INDEXES]));
    await s.writer.submit((tx) => tx.stmt(newPath('hv1')).run());
    await s.shipper!.synced();
    await s.onApplicationShutdown();

    const ds = new DataSource({ ...dataSourceOptions(spool), logging: false });
    await ds.initialize();
    try {
      expect(await openCentral(testConfig({ LIVETRACE_DB: spool }), ds)).toBeNull();
      const now = (await ds.query(`SELECT name FROM sqlite_master WHERE type = 'index'`)).map((r: { name: string }) => r.name);
      expect(now).toEqual(expect.arrayContaining([...API_ONLY_INDEXES]));
    } finally {
      await ds.destroy();
    }
  });
});
