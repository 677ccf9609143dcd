/**
 * bench/far-passes: what a port's far passes cost (src/paths/port-arrivals.ts), on a SQLite history
 * of lsp1's packets made of the captured three-chassis datapath flows (test/fixtures/
 * captured-multichassis/debian12): half routed by lr0 on hv1 to lsp3 on hv3 (the arrival names
 * the router's port), half to lsp2 on hv2 (the arrival names lsp1 by its key). Per request, in the
 * service (no HTTP): GET /traces?logical_port=lsp1 without far passes, with them (after each
 * sender), with chassis=hv3 / hv2 / an unknown chassis (the bound), and the stream's look.
 *
 * Usage: node -r ts-node/register/transpile-only bench/far-passes/run.ts [PACKETS=2000]
 */
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { PathBuilder } from '../../src/paths/path-builder';
import { PathStore } from '../../src/paths/path-store';
import { PortArrivals } from '../../src/paths/port-arrivals';
import type { TraceListQuery } from '../../src/traces/trace-read-store';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { SqliteReader } from '../../src/storage/sql';
import { StoreWriter } from '../../src/storage/writer';
import { TraceStore } from '../../src/traces/trace-store';
import { oneChassis } from '../../test/support/cross-chassis';
import { recircIdHex } from '../../src/ovs/ids';

const FIX = join(__dirname, '../../test/fixtures/captured-multichassis/debian12');
const ENCAP = { hv1: '192.168.0.1', hv2: '192.168.0.2', hv3: '192.168.0.3' };
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
interface Line { key: string; actions: string; recirc: number }
const lines = (file: string): Line[] => readFileSync(join(FIX, file), 'utf8').split('\n').filter((l) => l.includes(', actions:')).map((line) => {
  const key = line.slice(0, line.indexOf(', packets:')).replace(/^ufid:\S+ /, '');
  const actions = line.slice(line.indexOf(', actions:') + ', actions:'.length).replace(/, dp-extra-info:.*$/, '');
  return { key, actions, recirc: Number(/recirc_id\((0x[0-9a-f]+|\d+)\)/.exec(key)![1]) };
});
const pick = (file: string, pred: (l: Line) => boolean) => lines(file).filter(pred)[0];

async function main() {
  const N = Number(process.argv[2] ?? 5000);
  const dir = mkdtempSync(join(tmpdir(), 'lt-far-bench-'));
  const ds = new DataSource({ ...dataSourceOptions(join(dir, 'db.sqlite')), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const db = (ds.driver as unknown as { databaseConnection: Database }).databaseConnection;
  const writer = new StoreWriter(db);
  const traces = new TraceStore({ db, writer });
  const store = new PathStore({ db });
  const toLsp2 = pick('hv1.flows-m.txt', (l) => l.key.includes('dst=50:54:00:00:00:02') && l.actions.includes('tnl_push('));
  const routed = pick('hv1.flows-m.txt', (l) => l.key.includes('dst=00:00:00:00:ff:01'));
  const icmpArrival = pick('hv2.flows-m.txt', (l) => l.key.includes('tunnel(') && l.actions === 'vif2');
  const hv3Arrival = pick('hv3.flows-m.txt', (l) => l.key.includes('tunnel(') && l.recirc === 0);
  const insFlow = db.prepare(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, 1, 98, 'poller')`);
  const insPath = db.prepare("INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, '{}')");
  const insTrace = db.prepare(`INSERT INTO trace (chassis, created_at, datapath_flow_id, ufid, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, path_id, step_count, steps) VALUES (?, ?, ?, NULL, 'trace', 'br-int', ?, '', '', '', ?, ?, ?, ?, 0, x'')`);
  const insPort = db.prepare("INSERT INTO trace_port (trace_id, port_name, role, scope, datapath) VALUES (?, ?, ?, 'pass', ?)");
  const pass = (chassis: string, l: Line, at: number, v: Record<string, unknown>, ports: Array<[string, string, string]>) => {
    const flow = Number(insFlow.run(chassis, `u-${chassis}-${at}`, iso(at), iso(at + 50), recircIdHex(l.recirc), l.key, l.actions).lastInsertRowid);
    const path = Number(insPath.run(chassis, iso(at), iso(at)).lastInsertRowid);
    const full = { kinds: [], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null, ...v };
    const trace = Number(insTrace.run(chassis, iso(at), flow, recircIdHex(l.recirc), l.actions, `,${(full.kinds as string[]).join(',')},`, JSON.stringify(full), path).lastInsertRowid);
    for (const [n, r, d] of ports) insPort.run(trace, n, r, d);
  };
  const tun = (chassis: 'hv2' | 'hv3', datapath: string, outport: string) => ({ kinds: ['tunnel'], tunnels: [{ chassis, remoteIp: ENCAP[chassis], datapath, outport }] });
  db.transaction(() => {
    for (let i = 0; i < N; i++) {
      const at = T0 + i * 3000;
      // Half routed to hv3, half to lsp2 on hv2 (same switch: the arrival names lsp1 by its key).
      if (i % 2 === 0) {
        pass('hv1', routed, at, tun('hv3', 'sw1', 'lsp3'), [['lsp1', 'inport', 'sw0'], ['lsp3', 'tunnel_out', 'sw1']]);
        pass('hv3', hv3Arrival, at + 2, { kinds: ['output'], logicalPorts: ['lsp3'] }, [['sw1-lr0', 'tunnel_in', 'sw1'], ['lsp3', 'outport', 'sw1']]);
      } else {
        pass('hv1', toLsp2, at, tun('hv2', 'sw0', 'lsp2'), [['lsp1', 'inport', 'sw0'], ['lsp2', 'tunnel_out', 'sw0']]);
        pass('hv2', icmpArrival, at + 3, { kinds: ['output'], logicalPorts: ['lsp2'] }, [['lsp1', 'tunnel_in', 'sw0'], ['lsp2', 'outport', 'sw0']]);
      }
    }
  })();
  // The southbound's Port_Binding rows of the VIFs (type ''), as the replicas hold them.
  const sb = { find: (table: string, _c: string, name: string) => (table === 'Port_Binding' && ['lsp1', 'lsp2', 'lsp3'].includes(name) ? [{ logical_port: name, type: '' }] : []) };
  const arrivals = new PortArrivals(undefined as never, traces, new PathBuilder(store), oneChassis(store, {}, ENCAP), undefined, { query: new SqliteReader(db) }, undefined, { sb } as never);
  const run = async (label: string, q: Partial<TraceListQuery>, far = true) => {
    const query: TraceListQuery = { portName: 'lsp1', role: 'any', limit: 50, withSteps: false, ...q };
    const once = async () => { const p = await traces.list(query); return far ? arrivals.page(p, query) : p; };
    for (let i = 0; i < 5; i++) await once();
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    let last;
    const R = 40;
    for (let i = 0; i < R; i++) { const t = performance.now(); last = await once(); times.push(performance.now() - t); }
    const cpu = process.cpuUsage(cpu0);
    times.sort((a, b) => a - b);
    const far1 = last!.items.filter((t) => t.arrivedFrom).length;
    console.log(`${label.padEnd(52)} p50 ${times[R / 2].toFixed(2)} ms  p90 ${times[Math.floor(R * 0.9)].toFixed(2)} ms  cpu ${((cpu.user + cpu.system) / 1000 / R).toFixed(2)} ms/req  items ${last!.items.length} (far ${far1}) next ${last!.next ? 'yes' : 'no'}`);
  };
  console.log(`${N} packets of lsp1 (${N / 2} routed to hv3, ${N / 2} to lsp2 on hv2), ${2 * N} traces, limit 50`);
  await run('logical_port=lsp1 (list only, no far passes)', {}, false);
  await run('logical_port=lsp1 (far passes after senders)', {});
  await run('logical_port=lsp1&chassis=hv3', { chassis: 'hv3' });
  await run('logical_port=lsp1&chassis=hv2 (own rows, no far)', { chassis: 'hv2' });
  await run('logical_port=lsp1&chassis=hv9 (nothing: the bound)', { chassis: 'hv9' });
  // The stream's look: the 200 newest traces (100 packets: 50 routed arrivals on hv3, 50 arrivals naming lsp1 on hv2).
  const max = Number((db.prepare('SELECT MAX(id) AS m FROM trace').get() as { m: number }).m);
  const mid = max - 200;
  const q: TraceListQuery = { portName: 'lsp1', role: 'any', limit: 100, withSteps: false };
  const lastAt = T0 + (N - 1) * 3000;
  const look = async (label: string, near?: number[]) => {
    const t0 = performance.now(); const c0 = process.cpuUsage();
    let r; for (let i = 0; i < 10; i++) r = await arrivals.since(q, mid, [], 100, near);
    const c = process.cpuUsage(c0);
    console.log(`${label.padEnd(52)} ${((performance.now() - t0) / 10).toFixed(2)} ms/poll  cpu ${((c.user + c.system) / 1000 / 10).toFixed(2)} ms/poll  far ${r!.items.length} unlinked ${r!.unlinked.length}`);
  };
  await look('stream look, ungated (every routed arrival linked)');
  await look('stream look, lsp1 sent 10 away in the last 30 s', Array.from({ length: 10 }, (_, i) => lastAt - i * 6000));
  await look('stream look, lsp1 sent nothing away', []);
  await writer.close(); await ds.destroy(); rmSync(dir, { recursive: true, force: true });
}
main().catch((e) => { console.error(e); process.exit(1); });
