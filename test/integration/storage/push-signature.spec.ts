// datapath_flow.push_sig on a real migrated SQLite file: the lifetime store writes it with the row
// (captured debian12 actions), the migration fills it for rows written before it, the reverse
// cross-chassis link (an arrival's path looking for its sender) finds the same senders as the
// search of the actions it replaced (test/support/instr-senders.ts), and its look is planned as
// seeks and ranges of idx_dpflow_push, never a scan of the table.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { DatapathFlowStore, NewLifetime } from '../../../src/datapath-flows/datapath-flow-store';
import { recircIdHex } from '../../../src/ovs/ids';
import { tunnelPushes } from '../../../src/ovs/odp-tunnel';
import { pushSignaturesSought } from '../../../src/ovs/push-signature';
import { PathBuilder } from '../../../src/paths/path-builder';
import { PathStore } from '../../../src/paths/path-store';
import { SqliteReader } from '../../../src/storage/sql';
import type { StoreWriter } from '../../../src/storage/writer';
import { oneChassis } from '../../support/cross-chassis';
import { InstrSendersPathStore } from '../../support/instr-senders';
import { closeMigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const FIX = join(__dirname, '../../fixtures/captured-multichassis/debian12');
const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2', hv3: '192.168.0.3' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
interface Line { key: string; actions: string; recirc: number }
const lines = (file: string): Line[] =>
  readFileSync(join(FIX, file), 'utf8').split('\n').filter((l) => l.includes(', actions:')).map((line) => {
    const key = line.slice(0, line.indexOf(', packets:')).replace(/^ufid:\S+ /, '');
    const actions = line.slice(line.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, '');
    return { key, actions, recirc: Number(/recirc_id\((0x[0-9a-f]+|\d+)\)/.exec(key)![1]) };
  });
const pick = (file: string, pred: (l: Line) => boolean): Line => lines(file).filter(pred)[0];

const toLsp2 = pick('hv1.flows-m.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('));
const toLsp2Plain = pick('hv1.flows.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('));
const toLsp2Kernel = pick('hv1.kernel-form.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.key.includes('ufid') === false && l.actions.includes('set(tunnel('));
const routed = pick('hv1.flows-m.txt', (l) => l.key.includes('dst=00:00:00:00:ff:01'));
const vmOnHv1 = pick('hv1.stateful.flows-m.txt', (l) => l.actions.includes('recirc('));
const icmpArrival = pick('hv2.flows-m.txt', (l) => l.key.includes('tunnel(') && l.actions === 'vif2');
const icmpArrivalPlain = pick('hv2.flows.txt', (l) => l.key.includes('tunnel(') && l.recirc === 0 && !l.actions.includes('drop'));
const hv3Arrival = pick('hv3.flows-m.txt', (l) => l.key.includes('tunnel(') && l.recirc === 0);
// A flood of the captured push: cloned to hv2, and the same to hv3.
const push = tunnelPushes(toLsp2.actions)[0].text;
const flood: Line = { ...toLsp2, actions: `clone(${push},br-phys_n1),${push.replace('dst=192.168.0.2,', 'dst=192.168.0.3,')},br-phys_n1` };

describe('datapath_flow.push_sig', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database;
  let writer: StoreWriter;
  let flows: DatapathFlowStore;

  beforeEach(async () => {
    ({ dir, ds, db, writer } = await openMigratedSqlite('livetrace-pushsig-'));
    flows = new DatapathFlowStore({ db });
  });

  afterEach(async () => {
    await closeMigratedSqlite({ dir, ds, writer });
  });

  const lifetime = (chassis: string, ufid: string, l: Line, at: number): NewLifetime => ({
    chassis, ufid, firstSeen: iso(at), lastSeen: iso(at + 50), inPort: null, recircId: recircIdHex(l.recirc),
    key: l.key, actions: l.actions, packets: 1, bytes: 98, used: null, source: 'poller',
  });
  const sigs = () => (db.prepare('SELECT ufid, push_sig FROM datapath_flow ORDER BY ufid').all() as Array<{ ufid: string; push_sig: string | null }>).map((r) => [r.ufid, r.push_sig]);

  it('is written with a lifetime: each push form its signature, a flood the remote IP as *, an arrival and a VM flow none', async () => {
    await writer.submit((tx) => {
      for (const [ufid, l] of [['a', toLsp2], ['b', toLsp2Kernel], ['c', routed], ['d', flood], ['e', icmpArrival], ['f', vmOnHv1]] as const) flows.create(tx, lifetime('hv1', ufid, l, T0));
    });
    expect(sigs()).toEqual([['a', '192.168.0.2|2|2|1'], ['b', '192.168.0.2|2|2|1'], ['c', '192.168.0.3|1|1|2'], ['d', '*|2|2|1'], ['e', null], ['f', null]]);
  });

  it('is filled by the migration for rows written before it', async () => {
    // Back to before PushSignature (and any migration after it), rows written then, migrated again.
    const ran = () => (db.prepare('SELECT name FROM migrations').all() as Array<{ name: string }>).map((r) => r.name);
    while (ran().includes('PushSignature1796600000000')) await ds.undoLastMigration();
    expect((db.prepare(`SELECT name FROM pragma_table_info('datapath_flow') WHERE name = 'push_sig'`).all() as unknown[]).length).toBe(0);
    const ins = db.prepare(
      `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, '2026-12-05T03:00:00.000Z', '2026-12-05T03:00:00.000Z', '0x0', ?, ?, 1, 98, 'poller')`,
    );
    ins.run('a', toLsp2.key, toLsp2.actions);
    ins.run('b', routed.key, routed.actions);
    ins.run('c', toLsp2.key, flood.actions);
    ins.run('d', icmpArrival.key, icmpArrival.actions);
    // Holds a push's text, which the parser refuses: no signature, not a failed migration.
    ins.run('e', 'recirc_id(0)', 'set(tunnel(tun_id=zz,dst=1.1.1.1)),4');
    await ds.runMigrations();
    expect(sigs()).toEqual([['a', '192.168.0.2|2|2|1'], ['b', '192.168.0.3|1|1|2'], ['c', '*|2|2|1'], ['d', null], ['e', null]]);
  });

  it("the reverse link finds the same sender as the search of the sender chassis's actions, for every arrival", async () => {
    // Six kinds of packet, over and over, 3 s apart: lifetimes written by the store, half closed 50 ms after.
    const kinds: Array<[Line, string, Line] | [null, string, Line]> = [
      [toLsp2, 'hv2', icmpArrival],
      [routed, 'hv3', hv3Arrival],
      [toLsp2Kernel, 'hv2', icmpArrival],
      [flood, 'hv2', icmpArrival],
      [toLsp2Plain, 'hv2', icmpArrivalPlain],
      // An arrival whose sender was never stored.
      [null, 'hv3', hv3Arrival],
    ];
    const insPath = db.prepare("INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, '{}')");
    const insTrace = db.prepare(
      `INSERT INTO trace (chassis, created_at, datapath_flow_id, ufid, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, path_id, step_count, steps)
       VALUES (?, ?, ?, NULL, 'trace', 'br-int', ?, '', '', '', ?, ',output,', ?, ?, 0, x'')`,
    );
    const arrivals: number[] = [];
    await writer.submit((tx) => {
      const pass = (chassis: string, l: Line, at: number, n: number): number => {
        const flow = flows.create(tx, lifetime(chassis, `${chassis}-${n}`, l, at));
        if (n % 2) flows.close(tx, flow, iso(at + 50), 'gone');
        const path = Number(insPath.run(chassis, iso(at), iso(at)).lastInsertRowid);
        const v = { kinds: ['output'], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null };
        return Number(insTrace.run(chassis, iso(at), flow, recircIdHex(l.recirc), l.actions, JSON.stringify(v), path).lastInsertRowid);
      };
      for (let i = 0; i < 60; i++) {
        const [sent, to, arrival] = kinds[i % kinds.length];
        const at = T0 + i * 3000;
        if (sent) pass('hv1', sent, at, i);
        // Noise on the sending chassis: a flow that pushes nothing.
        pass('hv1', vmOnHv1, at + 1, 1000 + i);
        arrivals.push(pass(to, arrival, at + 2, 2000 + i));
      }
    });
    const builder = new PathBuilder(new PathStore({ db }));
    const reader = new SqliteReader(db);
    for (const encap of [ENCAP, {}]) {
      const after = oneChassis(new PathStore({ db }), {}, encap);
      const before = oneChassis(new InstrSendersPathStore(reader), {}, encap);
      let linked = 0;
      for (const id of arrivals) {
        const built = (await builder.ofTrace(id))!;
        const [a, b] = [await after.extend(built, (x) => builder.ofTrace(x)), await before.extend(built, (x) => builder.ofTrace(x))];
        expect(JSON.stringify(a)).toBe(JSON.stringify(b));
        if (a?.segments[0].chassis === 'hv1') linked++;
      }
      // Every arrival but those whose sender was never stored is linked back to hv1.
      expect(linked).toBe(50);
    }
  });

  it.each([
    ['an exact receiver, its sending chassis named by the southbound', '192.168.0.2|2|2|1', 'hv1', 2],
    ['an exact receiver, no chassis named', '192.168.0.2|2|2|1', null, 2],
    ['a receiver whose mask wildcards the egress port', '192.168.0.2|2|2|*', 'hv1', 6],
    ['a receiver whose mask wildcards the egress port, no chassis named', '192.168.0.2|2|2|*', null, 6],
  ])('the look for senders seeks idx_dpflow_push: %s', async (_what, tunnelSig, chassis, seeks) => {
    const seen: Array<{ sql: string; params: unknown[] }> = [];
    const reader = new SqliteReader(db);
    const recording = Object.assign(Object.create(reader) as SqliteReader, {
      all: (sql: string, ...params: unknown[]) => (seen.push({ sql, params }), reader.all(sql, ...params)),
    });
    await new PathStore({ db, query: recording }).senders({ chassis, notChassis: 'hv2' }, pushSignaturesSought(tunnelSig)!, { from: '2026-12-05T02:59:59.000Z', to: '2026-12-05T03:00:01.000Z', near: '2026-12-05T03:00:00.000Z' });
    // Two statements: the candidates started at or before the reference time, then those after.
    expect(seen).toHaveLength(2);
    for (const { sql, params } of seen) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan.filter((d) => d.includes('idx_dpflow_push'))).toHaveLength(seeks);
      expect(plan.filter((d) => /^SCAN (datapath_flow|f2?)\b/.test(d))).toEqual([]);
    }
  });
});
