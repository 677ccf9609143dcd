// datapath_flow.tunnel_sig on a real migrated SQLite file: the lifetime store writes it with the
// row (captured debian12 keys), the migration fills it for rows written before it, and the
// cross-chassis link's look for arrivals is planned as seeks of its index, never a scan of the table.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { DatapathFlowStore, NewLifetime } from '../../../src/datapath-flows/datapath-flow-store';
import { tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { signaturesReaching } from '../../../src/ovs/tunnel-signature';
import { PathStore } from '../../../src/paths/path-store';
import { SqliteReader } from '../../../src/storage/sql';
import { StoreWriter } from '../../../src/storage/writer';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const FIX = join(__dirname, '../../fixtures/captured-multichassis/debian12');
const line = (file: string, pred: (l: string) => boolean) => {
  const l = readFileSync(join(FIX, file), 'utf8').split('\n').filter((x) => x.includes(', actions:') && pred(x))[0];
  return { key: l.slice(0, l.indexOf(', packets:')).replace(/^ufid:\S+ /, ''), actions: l.slice(l.indexOf(', actions:') + ', actions:'.length) };
};
const arrival = line('hv2.flows-m.txt', (l) => l.includes('tunnel(') && l.includes('recirc_id(0)') && l.includes('0x20001/0x7fffffff'));
const fromVm = line('hv1.flows-m.txt', (l) => l.includes('dst=50:54:00:00:00:02') && l.includes('tnl_push('));
const SIG = '192.168.0.2|2|2|1';

describe('datapath_flow.tunnel_sig', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;

  beforeEach(async () => {
    ({ dir, ds, db } = await openMigratedSqlite('livetrace-tunsig-', { writer: false }));
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds });
  });

  const lifetime = (ufid: string, key: string, actions: string, recircId = '0x0'): NewLifetime => ({
    chassis: 'hv2', ufid, firstSeen: '2026-12-05T03:00:00.000Z', lastSeen: '2026-12-05T03:00:00.000Z', inPort: null, recircId,
    key, actions, packets: 1, bytes: 98, used: null, source: 'poller',
  });
  const sigs = () => (db.prepare('SELECT ufid, tunnel_sig FROM datapath_flow ORDER BY ufid').all() as Array<{ ufid: string; tunnel_sig: string | null }>).map((r) => [r.ufid, r.tunnel_sig]);

  it('is written with a lifetime: the arrival its signature, a VM port flow and a recirculated pass none', async () => {
    const writer = new StoreWriter(db);
    const flows = new DatapathFlowStore({ db });
    await writer.submit((tx) => {
      flows.create(tx, lifetime('a', arrival.key, arrival.actions));
      flows.create(tx, lifetime('b', fromVm.key, fromVm.actions));
      flows.create(tx, lifetime('c', arrival.key.replace('recirc_id(0)', 'recirc_id(0x5)'), arrival.actions, '0x5'));
    });
    await writer.close();
    expect(sigs()).toEqual([['a', SIG], ['b', null], ['c', null]]);
  });

  it('is filled by the migration for rows written before it', async () => {
    // Back to before TunnelSignature (and any migration after it), rows written then, migrated again.
    const ran = () => (db.prepare('SELECT name FROM migrations').all() as Array<{ name: string }>).map((r) => r.name);
    while (ran().includes('TunnelSignature1796461913000')) await ds.undoLastMigration();
    const ins = db.prepare(
      `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES ('hv2', ?, '2026-12-05T03:00:00.000Z', '2026-12-05T03:00:00.000Z', ?, ?, ?, 1, 98, 'poller')`,
    );
    ins.run('a', '0x0', arrival.key, arrival.actions);
    ins.run('b', '0x0', fromVm.key, fromVm.actions);
    ins.run('c', '0x0', 'tunnel(tun_id=zz,dst=1.1.1.1),recirc_id(0)', 'drop');
    await ds.runMigrations();
    expect(sigs()).toEqual([['a', SIG], ['b', null], ['c', null]]);
  });

  it.each([
    ['the receiving chassis named by the southbound', 'hv2'],
    ['no chassis named (any other than the sender)', null],
  ])('the look for arrivals seeks idx_dpflow_tunnel: %s', async (_what, chassis) => {
    const seen: Array<{ sql: string; params: unknown[] }> = [];
    const reader = new SqliteReader(db);
    const recording = Object.assign(Object.create(reader) as SqliteReader, {
      all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
    });
    const [push] = tunnelPushes(fromVm.actions);
    await new PathStore({ db, query: recording }).arrivals({ chassis, notChassis: 'hv1' }, signaturesReaching(push), { from: '2026-12-05T02:59:59.000Z', to: '2026-12-05T03:00:01.000Z', near: '2026-12-05T03:00:00.000Z' });
    // Two statements: the candidates started at or before the reference time, then those after.
    expect(seen).toHaveLength(2);
    for (const { sql, params } of seen) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan.filter((d) => d.includes('idx_dpflow_tunnel'))).toHaveLength(2);
      expect(plan.filter((d) => /^SCAN (datapath_flow|f2?)\b/.test(d))).toEqual([]);
    }
  });
});
