// An agent of the version before trace_port.created_at (migrations TraceOrderByTime and
// PgTraceOrderByTime), shipping into a PostgreSQL a newer process migrated: its spool has no
// created_at, so its shipper's binary COPY (and its upserts) name the other columns only. Its port
// rows are taken, given their trace's time, and a port's list by time finds them in order among a
// new agent's. The old agent is the real spool and shipper on a spool whose last two migrations
// are undone (trace_port as that version had it); its rows are written as its TraceStore wrote them.
import { readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { openCentral } from '../../src/storage/central';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { StoreService } from '../../src/storage/store.service';
import { ROOT, startApp, testConfig } from '../support/app';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const T0 = Date.parse('2026-12-05T10:00:00.000Z');
const at = (sec: number) => new Date(T0 + sec * 1000).toISOString();

/** A store of the version before: its spool migrated by the migrations before TraceOrderByTime only. */
async function oldAgentOn(url: string): Promise<{ s: StoreService; ds: DataSource }> {
  const spool = newSpool();
  const cfg = testConfig({ LIVETRACE_DB: url, LIVETRACE_SPOOL: spool, LIVETRACE_ROLE: 'agent', LIVETRACE_CHASSIS: 'hv-old' });
  const dir = join(ROOT, 'migrations');
  const before = readdirSync(dir).filter((f) => /^\d+-.*\.ts$/.test(f) && Number(f.split('-')[0]) < 1796500000000).map((f) => join(dir, f));
  const ds = new DataSource({ ...dataSourceOptions(spool), migrations: before, migrationsRun: false });
  await ds.initialize();
  await ds.runMigrations();
  const cols = (await ds.query(`SELECT name FROM pragma_table_info('trace_port')`)) as Array<{ name: string }>;
  expect(cols.map((c) => c.name)).not.toContain('created_at');
  return { s: new StoreService(ds, await openCentral(cfg, ds), cfg), ds };
}

/** A trace and its port row, as a writer of either version puts them in its spool. */
function writeTrace(s: StoreService, chassis: string, createdAt: string, port: string, withTime: boolean): Promise<number> {
  return s.writer.submit((tx) => {
    const id = Number(
      tx
        .stmt(
          `INSERT INTO trace (chassis, created_at, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
           VALUES (?, ?, 'trace', '0x0', 'in_port=1', 'f', 'm', 'drop', '["drop"]', '{"kind":"drop"}', 0, x'')`,
        )
        .run(chassis, createdAt).lastInsertRowid,
    );
    if (withTime) tx.stmt(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, ?, 'inport', 'logical', ?)`).run(id, port, createdAt);
    else tx.stmt(`INSERT INTO trace_port (trace_id, port_name, role, scope) VALUES (?, ?, 'inport', 'logical')`).run(id, port);
    return id;
  });
}

describe('an agent of the previous version ships its port rows into an upgraded PostgreSQL', () => {
  let api: INestApplication | undefined;
  let old: { s: StoreService; ds: DataSource } | undefined;
  afterAll(async () => {
    await api?.close();
    await old?.s.onApplicationShutdown();
  });

  it('takes them with their trace’s time, and the port’s list by time has them in order', async () => {
    const url = await spools.pg().database('old_agent_ports');
    const fresh = await spools.storeOn(url); // the newer process: it migrated PostgreSQL
    old = await oldAgentOn(url);
    const expected: Array<{ id: number; chassis: string; createdAt: string }> = [];
    for (const [sec, chassis] of [[1, 'hv-new'], [2, 'hv-old'], [3, 'hv-new'], [4, 'hv-old'], [6, 'hv-old'], [5, 'hv-new']] as const) {
      const s = chassis === 'hv-old' ? old.s : fresh;
      expected.push({ id: await writeTrace(s, chassis, at(sec), 'lsp1', chassis === 'hv-new'), chassis, createdAt: at(sec) });
    }
    await fresh.shipper!.synced();
    await old.s.shipper!.synced();
    expect(old.s.shipper!.state.lastError).toBeNull();
    // A port row the old agent adds later to a trace already shipped (a path merge): logged, upserted.
    const late = expected.find((t) => t.chassis === 'hv-old')!;
    await old.s.writer.submit((tx) => tx.stmt(`INSERT INTO trace_port (trace_id, port_name, role, scope) VALUES (?, 'lsp9', 'outport', 'logical')`).run(late.id));
    await old.s.shipper!.synced();
    expect(old.s.shipper!.state.backlog).toBe(0);

    const ports = await pgRows(url, `SELECT p.trace_id::text AS id, p.port_name, p.created_at, t.created_at AS trace_time FROM trace_port p JOIN trace t ON t.id = p.trace_id ORDER BY p.trace_id, p.port_name`);
    expect(ports).toHaveLength(expected.length + 1);
    for (const p of ports) expect(p.created_at).toBe(p.trace_time);

    api = await startApp({ LIVETRACE_DB: url, LIVETRACE_ROLE: 'api' });
    await api.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${(api.getHttpServer().address() as AddressInfo).port}`;
    const newestFirst = [...expected].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    const list = async (q: string) => ((await (await fetch(`${base}/traces?${q}`)).json()) as { items: Array<{ id: number; chassis: string; createdAt: string }> }).items;
    const pick = (t: { id: number; chassis: string; createdAt: string }) => ({ id: t.id, chassis: t.chassis, createdAt: t.createdAt });
    expect((await list('logical_port=lsp1&limit=100')).map(pick)).toEqual(newestFirst);
    expect((await list('logical_port=lsp9&limit=100')).map(pick)).toEqual([late]);
  });
});
