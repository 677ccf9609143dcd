/**
 * bench/far-passes: what a port's far passes cost (src/paths/port-arrivals.ts), on a SQLite history
 * of lsp1's packets made of the captured three-chassis datapath flows (test/fixtures/
 * captured-multichassis/debian12): half routed by lr0 on hv1 to lsp3 on hv3 (the arrival names
 * the router's port), half to lsp2 on hv2 (the arrival names lsp1 by its key). Per request, in the
 * service (no HTTP): GET /traces?logical_port=lsp1 without far passes, with them (after each
 * sender), with chassis=hv3 / hv2 / an unknown chassis (the bound), and the stream's look; then one
 * link (CrossChassisPaths.extend from a routed sender) with the receiver's flow table grown to each
 * size asked (its own VM flows and other ports' tunnel arrivals, live). Each measure alternates, run
 * by run, the link as built (PathStore.arrivals: seeks of idx_dpflow_tunnel) and as it was (`instr`
 * over the receiver's live and recently removed flows, kept here), and checks both give one answer.
 * Then the reverse link (CrossChassisPaths.extend from a routed arrival on hv3: its look for the
 * sender on hv1, the pick, hv1's pass built) with the sender's flow table grown to each size asked,
 * alternating the look as built (PathStore.senders: seeks of idx_dpflow_push) and as it was (instr
 * over the sender's live and recently removed flows' actions: test/support/instr-senders.ts).
 *
 * Usage: node -r ts-node/register/transpile-only bench/far-passes/run.ts [PACKETS=2000] [RECEIVER_FLOWS=2000,20000]
 */
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { PathBuilder } from '../../src/paths/path-builder';
import { CrossChassisPaths } from '../../src/paths/cross-chassis';
import { PathStore, type LinkFlowRow, type LinkLook, type LinkSide, type LinkWindow } from '../../src/paths/path-store';
import { pushSignature, pushSignaturesSought } from '../../src/ovs/push-signature';
import { tunnelSignature } from '../../src/ovs/tunnel-signature';
import { PortArrivals } from '../../src/paths/port-arrivals';
import type { TraceListQuery } from '../../src/traces/trace-read-store';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { SqliteReader } from '../../src/storage/sql';
import { StoreWriter } from '../../src/storage/writer';
import { TraceStore } from '../../src/traces/trace-store';
import { oneChassis } from '../../test/support/cross-chassis';
import { InstrSendersPathStore } from '../../test/support/instr-senders';
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

/** The look for arrivals as it was before tunnel_sig: every live or recently removed flow of the receiver, its key searched. */
class InstrPathStore extends PathStore {
  constructor(private readonly db: Database) {
    super({ db });
  }
  override arrivals(side: LinkSide, signatures: readonly string[], { from, to }: LinkWindow): Promise<LinkLook> {
    const cols = 'f.id, f.chassis, f.key, f.actions, f.recirc_id, f.first_seen, f.last_seen, f.removed_at, (SELECT max(t.id) FROM trace t WHERE t.datapath_flow_id = f.id) AS trace_id';
    const tail = 'AND f.first_seen <= ? AND coalesce(f.removed_at, f.last_seen) >= ? AND EXISTS (SELECT 1 FROM trace t WHERE t.datapath_flow_id = f.id) ORDER BY f.first_seen DESC, f.id DESC LIMIT 256';
    const match = `f.recirc_id = '0x0' AND instr(f.key, 'tunnel(') > 0 AND instr(f.key, ?) > 0`;
    const needle = `dst=${signatures[0].split('|')[0]},`;
    return Promise.resolve({
      bounded: false,
      reach: { before: null, after: null },
      rows: this.db
        .prepare(
          `SELECT ${cols} FROM datapath_flow f WHERE f.id IN (SELECT id FROM datapath_flow WHERE chassis = ? AND removed_at IS NULL
             UNION ALL SELECT id FROM datapath_flow WHERE chassis = ? AND removed_at >= ?) AND ${match} ${tail}`,
        )
        .all(side.chassis, side.chassis, from, needle, to, from) as LinkFlowRow[],
    });
  }
}

async function main() {
  const N = Number(process.argv[2] ?? 2000);
  const SIZES = (process.argv[3] ?? '2000,20000').split(',').map(Number);
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
  // The tunnel and push signatures as DatapathFlowStore.create writes them.
  const flowRow = db.prepare(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source, tunnel_sig, push_sig) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, 1, 98, 'poller', ?, ?)`);
  const insFlow = { run: (chassis: string, ufid: string, first: string, last: string, recirc: string, key: string, actions: string, sig: string | null) => flowRow.run(chassis, ufid, first, last, recirc, key, actions, sig, pushSignature(actions)) };
  const closeFlow = db.prepare('UPDATE datapath_flow SET removed_at = last_seen WHERE id = ?');
  const insPath = db.prepare("INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, '{}')");
  const insTrace = db.prepare(`INSERT INTO trace (chassis, created_at, datapath_flow_id, ufid, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, path_id, step_count, steps) VALUES (?, ?, ?, NULL, 'trace', 'br-int', ?, '', '', '', ?, ?, ?, ?, 0, x'')`);
  const insPort = db.prepare("INSERT INTO trace_port (trace_id, port_name, role, scope, datapath, created_at) VALUES (?, ?, ?, 'pass', ?, (SELECT created_at FROM trace WHERE id = ?))");
  const pass = (chassis: string, l: Line, at: number, v: Record<string, unknown>, ports: Array<[string, string, string]>) => {
    const flow = Number(insFlow.run(chassis, `u-${chassis}-${at}`, iso(at), iso(at + 50), recircIdHex(l.recirc), l.key, l.actions, tunnelSignature(l.key, l.recirc)).lastInsertRowid);
    // Each packet's megaflow is gone 50 ms after it, as the poller closes a lifetime: the receiver's live table is what it holds now.
    closeFlow.run(flow);
    const path = Number(insPath.run(chassis, iso(at), iso(at)).lastInsertRowid);
    const full = { kinds: [], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null, ...v };
    const trace = Number(insTrace.run(chassis, iso(at), flow, recircIdHex(l.recirc), l.actions, `,${(full.kinds as string[]).join(',')},`, JSON.stringify(full), path).lastInsertRowid);
    for (const [n, r, d] of ports) insPort.run(trace, n, r, d, trace);
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
  const builder = new PathBuilder(store);
  const before = new InstrPathStore(db);
  const links = { after: oneChassis(store, {}, ENCAP), before: oneChassis(before, {}, ENCAP) };
  const portArrivals = (c: CrossChassisPaths) => new PortArrivals(undefined as never, traces, builder, c, undefined, { query: new SqliteReader(db) }, undefined, { sb } as never);
  const arrivals = { after: portArrivals(links.after), before: portArrivals(links.before) };
  type Variant = keyof typeof arrivals;
  /** Runs `once` for both variants alternately, R times each after a warm-up; p50 and CPU per call of each, and one answer of each. */
  const interleaved = async <T>(R: number, once: (v: Variant) => Promise<T>) => {
    const out = { after: { times: [] as number[], cpu: 0, last: undefined as T | undefined }, before: { times: [] as number[], cpu: 0, last: undefined as T | undefined } };
    for (let i = 0; i < 3; i++) for (const v of ['before', 'after'] as const) await once(v);
    for (let i = 0; i < R; i++)
      for (const v of (i % 2 ? ['before', 'after'] : ['after', 'before']) as Variant[]) {
        const c0 = process.cpuUsage(); const t = performance.now();
        out[v].last = await once(v);
        out[v].times.push(performance.now() - t); const c = process.cpuUsage(c0); out[v].cpu += (c.user + c.system) / 1000;
      }
    const fmt = (v: Variant) => { const ts = [...out[v].times].sort((a, b) => a - b); return `${v} p50 ${ts[Math.floor(R / 2)].toFixed(2)} ms cpu ${(out[v].cpu / R).toFixed(2)} ms`; };
    return { line: `${fmt('before')} | ${fmt('after')}`, before: out.before.last as T, after: out.after.last as T };
  };
  const same = (a: unknown, b: unknown) => (JSON.stringify(a) === JSON.stringify(b) ? 'same answer' : 'ANSWERS DIFFER');
  const run = async (label: string, q: Partial<TraceListQuery>, far = true) => {
    const query: TraceListQuery = { portName: 'lsp1', role: 'any', limit: 50, withSteps: false, ...q };
    const r = await interleaved(20, async (v) => { const p = await traces.list(query); return far ? arrivals[v].page(p, query) : p; });
    const far1 = r.after.items.filter((t) => t.arrivedFrom).length;
    console.log(`${label.padEnd(52)} ${r.line}  items ${r.after.items.length} (far ${far1}) next ${r.after.next ? 'yes' : 'no'}  ${same(r.before, r.after)}`);
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
    const r = await interleaved(6, (v) => arrivals[v].since(q, mid, [], 100, near));
    console.log(`${label.padEnd(52)} ${r.line} a poll  far ${r.after.items.length} unlinked ${r.after.unlinked.length}  ${same(r.before, r.after)}`);
  };
  await look('stream look, ungated (every routed arrival linked)');
  await look('stream look, lsp1 sent 10 away in the last 30 s', Array.from({ length: 10 }, (_, i) => lastAt - i * 6000));
  await look('stream look, lsp1 sent nothing away', []);

  // One link, the receivers' flow tables grown: their own VM flows and other ports' arrivals (a
  // quarter), live, first seen over the history. Senders: the newest routed ones, and as many from
  // the middle of the history (the removed flows since then are in the look's window).
  const senderIds = (db.prepare(`SELECT t.id FROM trace t JOIN datapath_flow f ON f.id = t.datapath_flow_id WHERE t.chassis = 'hv1' AND instr(f.key, 'ff:01') > 0 ORDER BY t.id DESC`).all() as Array<{ id: number }>).map((r) => r.id);
  const groups = { newest: senderIds.slice(0, 50), middle: senderIds.slice(Math.floor(senderIds.length / 2), Math.floor(senderIds.length / 2) + 50) };
  const built = new Map<number, Awaited<ReturnType<PathBuilder['ofTrace']>>>();
  for (const id of [...groups.newest, ...groups.middle]) built.set(id, await builder.ofTrace(id));
  const own = (chassis: string) => lines(`${chassis}.flows-m.txt`).filter((l) => !l.key.includes('tunnel('));
  const arrivalKey = { hv2: icmpArrival.key, hv3: hv3Arrival.key };
  const liveOn = (chassis: string) => Number((db.prepare('SELECT count(*) AS n FROM datapath_flow WHERE chassis = ? AND removed_at IS NULL').get(chassis) as { n: number }).n);
  // The reverse link: from the newest routed arrivals on hv3, and as many from the middle of the history.
  const arrivalIds = (db.prepare(`SELECT id FROM trace WHERE chassis = 'hv3' ORDER BY id DESC`).all() as Array<{ id: number }>).map((r) => r.id);
  const arrivalGroups = { newest: arrivalIds.slice(0, 50), middle: arrivalIds.slice(Math.floor(arrivalIds.length / 2), Math.floor(arrivalIds.length / 2) + 50) };
  for (const id of [...arrivalGroups.newest, ...arrivalGroups.middle]) built.set(id, await builder.ofTrace(id));
  const reverseStore = new InstrSendersPathStore(new SqliteReader(db));
  const reverse = { after: oneChassis(store, {}, ENCAP), before: oneChassis(reverseStore, {}, ENCAP) };
  // The captured push to lsp2 with other port keys (ingress 4.., egress 5..), to hv2 or to hv3: another push signature.
  const otherPush = (i: number, to: string) =>
    toLsp2.actions.replace(/,0x[0-9a-f]+\}/, `,0x${(((4 + (i % 500)) << 16) | (5 + (i % 300))).toString(16)}}`).replace(`dst=${ENCAP.hv2},`, `dst=${to},`);
  for (const size of SIZES) {
    db.transaction(() => {
      for (const chassis of ['hv2', 'hv3'] as const) {
        const vm = own(chassis);
        for (let i = liveOn(chassis); i < size; i++) {
          const at = T0 + Math.floor((i * 7919) % (N * 3000));
          // Every fourth an arrival from another port pair (ingress 4.., egress 5..): another signature.
          const key = i % 4 ? vm[i % vm.length].key : arrivalKey[chassis].replace(/,0x[0-9a-f]+(\/0x[0-9a-f]+)?\}/, `,0x${(((4 + (i % 500)) << 16) | (5 + (i % 300))).toString(16)}$1}`);
          insFlow.run(chassis, `fill-${chassis}-${i}`, iso(at), iso(lastAt), '0x0', key, 'drop', tunnelSignature(key, 0));
        }
      }
    })();
    const tunnelled = Number((db.prepare(`SELECT count(*) AS n FROM datapath_flow WHERE chassis = 'hv3' AND removed_at IS NULL AND tunnel_sig IS NOT NULL`).get() as { n: number }).n);
    for (const [group, ids] of Object.entries(groups)) {
      const r = await interleaved(10, async (v) => {
        const out = [];
        for (const id of ids) out.push((await links[v].extend(built.get(id)!, (x) => builder.ofTrace(x)))?.verdict.tunnels);
        return out;
      });
      const per = (l: string) => l.replace(/(\d+\.\d+) ms/g, (_m, x: string) => `${(Number(x) / ids.length).toFixed(3)} ms`);
      const linked = r.after.filter((t) => t?.every((h) => h.toTraceId !== null)).length;
      console.log(`link, receiver ${String(liveOn('hv3')).padStart(6)} live flows (${tunnelled} arrivals), ${group.padEnd(6)} senders: ${per(r.line)} a link  linked ${linked}/${ids.length}  ${same(r.before, r.after)}`);
    }
    // The sender's table grown: one in four pushes to hv2, one in four to hv3 (other port pairs),
    // half its VMs' own flows (no push), live, first seen over the history.
    db.transaction(() => {
      for (let i = liveOn('hv1'); i < size; i++) {
        const at = T0 + Math.floor((i * 7919) % (N * 3000));
        const actions = i % 4 === 0 ? otherPush(i, ENCAP.hv2) : i % 4 === 1 ? otherPush(i, ENCAP.hv3) : 'ct(zone=4),recirc(0x1)';
        insFlow.run('hv1', `fill-hv1-${i}`, iso(at), iso(lastAt), '0x0', toLsp2.key, actions, null);
      }
    })();
    const pushing = Number((db.prepare(`SELECT count(*) AS n FROM datapath_flow WHERE chassis = 'hv1' AND removed_at IS NULL AND push_sig IS NOT NULL`).get() as { n: number }).n);
    for (const [group, ids] of Object.entries(arrivalGroups)) {
      const r = await interleaved(10, async (v) => {
        const out = [];
        for (const id of ids) {
          const x = await reverse[v].extend(built.get(id)!, (t) => builder.ofTrace(t));
          out.push(x && { passes: x.segments.map((g) => g.built.passes.map((p) => p.id)), tunnels: x.verdict.tunnels });
        }
        return out;
      });
      const per = (l: string) => l.replace(/(\d+\.\d+) ms/g, (_m, x: string) => `${(Number(x) / ids.length).toFixed(3)} ms`);
      const linked = r.after.filter((x) => x && x.tunnels.length > 0 && x.tunnels[0].fromChassis === 'hv1').length;
      console.log(`reverse link, sender ${String(liveOn('hv1')).padStart(6)} live flows (${pushing} pushing), ${group.padEnd(6)} arrivals: ${per(r.line)} a link  linked ${linked}/${ids.length}  ${same(r.before, r.after)}`);
      // The look alone (PathStore.senders, as senderTraceOf asks it: the southbound names hv1, the default 1 s window).
      const looks = await Promise.all(ids.map(async (id) => {
        const f = (await store.flow(built.get(id)!.passes[0].datapath_flow_id!))!;
        const around = (iso0: string, d: number) => new Date(Date.parse(iso0) + d).toISOString();
        return { sought: pushSignaturesSought(tunnelSignature(f.key, 0))!, window: { from: around(f.first_seen, -1000), to: around(f.removed_at ?? f.last_seen, 1000), near: f.first_seen } };
      }));
      const stores = { after: store, before: reverseStore };
      // As captured (the full port mask), and as if the arrival's megaflow wildcarded the egress port (prefix ranges).
      for (const [what, wild] of [['', false], [', egress wildcarded', true]] as const) {
        const l = await interleaved(10, async (v) => {
          const out = [];
          for (const x of looks) {
            const sought = wild ? pushSignaturesSought(`${x.sought.exact[0].split('|').slice(0, 3).join('|')}|*`)! : x.sought;
            out.push((await stores[v].senders({ chassis: 'hv1', notChassis: 'hv3' }, sought, x.window)).rows.map((c) => c.id));
          }
          return out;
        });
        const count = (c: number[][]) => c.reduce((n, x) => n + x.length, 0);
        console.log(`  the look alone${what}, ${group.padEnd(6)} arrivals: ${per(l.line)} a look  candidates ${count(l.after)} (before ${count(l.before)})`);
      }
    }
  }
  await writer.close(); await ds.destroy(); rmSync(dir, { recursive: true, force: true });
}
main().catch((e) => { console.error(e); process.exit(1); });
