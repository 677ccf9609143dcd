/**
 * bench/ingest: events per second through POST /ingest/events to disk (the reply comes after the
 * COMMIT, so a replied event is on disk), against the real service process (src/main.ts) on a
 * fresh SQLite file in WAL mode.
 *
 * Runs, each for ~SECONDS:
 *   upcalls     — `upcall` events with a full ODP key, BATCH per request, 1 client
 *   upcalls x4  — the same with 4 clients at once (the writer is one: this shows its ceiling)
 *   lifetimes   — ukey_created + ukey_updated + ukey_removed of distinct UFIDs (datapath_flow rows)
 *   duplicates  — a batch already stored, sent again (ledger lookups only)
 *   retis       — the documented retis file repeated with fresh ids, through /ingest/retis
 * plus, in-process, parse + validate alone (no HTTP, no disk) for the share of CPU that is ours.
 *
 * Usage: npm run bench:ingest [-- SECONDS=5 [BATCH=2000]]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseEventLines } from '../../src/ingest/ndjson';

const SECONDS = Number(process.argv[2] ?? 5);
const BATCH = Number(process.argv[3] ?? 2000);
const ROOT = resolve(__dirname, '../..');
const KEY =
  'skb_priority(0),skb_mark(0),ct_state(0x21),ct_zone(0xb),ct_mark(0),ct_label(0),ct_tuple4(src=10.0.0.1,dst=10.0.0.2,proto=1,tp_src=8,tp_dst=0),recirc_id(0x1),dp_hash(0),in_port(4),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';
const MASKED = 'ct_state(+new-est-rel-rpl-inv+trk),ct_mark(0/0x3),recirc_id(0x1),in_port(4),packet_type(ns=0,id=0),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(dst=10.0.0.2/255.255.255.192,proto=1,frag=no)';
const T = '2026-11-27T05:21:55.633Z';
let seq = 0;
const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

const upcalls = () => Array.from({ length: BATCH }, () => JSON.stringify({ type: 'upcall', id: `u${seq++}`, time: T, upcallType: 'miss', key: KEY, thread: 'handler1' })).join('\n') + '\n';
const lifetimes = () => {
  const lines: string[] = [];
  for (let i = 0; i < BATCH / 3; i++) {
    const n = seq++;
    lines.push(JSON.stringify({ type: 'ukey_created', id: `c${n}`, time: T, ufid: uuid(n), key: MASKED, actions: 'ct(zone=11,nat),recirc(0x1)' }));
    lines.push(JSON.stringify({ type: 'ukey_updated', id: `d${n}`, time: T, ufid: uuid(n), packets: 5, bytes: 490 }));
    lines.push(JSON.stringify({ type: 'ukey_removed', id: `x${n}`, time: T, ufid: uuid(n), reason: 'FLOW_IDLE' }));
  }
  return lines.join('\n') + '\n';
};
const RETIS = readFileSync(join(ROOT, 'test/fixtures/documented/retis/events.json'), 'utf8');
const retis = () => {
  const out: string[] = [];
  // Fresh ids: shift the monotonic timestamps and UFID words per copy.
  for (let i = 0; out.length < BATCH; i++) {
    const k = seq++;
    for (const l of RETIS.trim().split('\n')) out.push(l.replace(/"timestamp":(\d+)/g, (_, t) => `"timestamp":${Number(t) + k * 1_000_000}`).replace(/"upcall_ts":(\d+)/g, (_, t) => `"upcall_ts":${Number(t) + k * 1_000_000}`).replace(/"queue_id":\d+/g, `"queue_id":${k}`).replace(/"ufid":\[(\d+)/g, (_, w) => `"ufid":[${(Number(w) + k) >>> 0}`));
  }
  return out.join('\n') + '\n';
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ingest-'));
  const db = join(dir, 'db.sqlite');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', LIVETRACE_DB: db, LIVETRACE_PORT: String(port), LIVETRACE_POLLER: 'false', LIVETRACE_LOG_LEVEL: 'error', LIVETRACE_INGEST_MAX_BYTES: String(256 << 20) },
    stdio: 'ignore',
  });
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/ingest/schema`).catch(() => undefined))?.ok) break;
      if (i > 600) throw new Error('service did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    console.log(`bench/ingest: ${SECONDS}s per run, ${BATCH} lines per request, ${cpus().length} cpus, load ${loadavg()[0].toFixed(2)}`);
    const post = async (url: string, body: string) => {
      const res = await fetch(`${base}${url}`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body });
      const r = (await res.json()) as { accepted: number; rejected: number };
      if (!res.ok || r.rejected) throw new Error(`${url}: ${res.status} ${JSON.stringify(r).slice(0, 300)}`);
      return r.accepted;
    };
    const run = async (name: string, url: string, make: () => string, clients = 1, fixed?: string) => {
      const end = Date.now() + SECONDS * 1000;
      const t0 = performance.now();
      let events = 0;
      let bytes = 0;
      let requests = 0;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (Date.now() < end) {
            const body = fixed ?? make();
            const accepted = await post(url, body);
            events += accepted;
            bytes += body.length;
            requests++;
          }
        }),
      );
      const s = (performance.now() - t0) / 1000;
      console.log(`${name.padEnd(14)} ${Math.round(events / s).toString().padStart(8)} events/s  ${(bytes / s / 1e6).toFixed(1).padStart(6)} MB/s  ${(s / requests * 1000 * clients).toFixed(1).padStart(7)} ms/request  (${events} events)`);
    };
    await run('upcalls', '/ingest/events?source=bench', upcalls);
    await run('upcalls x4', '/ingest/events?source=bench', upcalls, 4);
    await run('lifetimes', '/ingest/events?source=bench', lifetimes);
    const dup = upcalls();
    await post('/ingest/events?source=bench', dup);
    await run('duplicates', '/ingest/events?source=bench', upcalls, 1, dup);
    await run('retis', '/ingest/retis?source=bench-retis', retis);
    // In-process: parse + validate only.
    const body = upcalls();
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < SECONDS * 1000) n += parseEventLines(body).events.length;
    console.log(`${'parse+validate'.padEnd(14)} ${Math.round(n / ((performance.now() - t0) / 1000)).toString().padStart(8)} events/s  (in-process, no HTTP, no disk)`);
    console.log(`database: ${(statSync(db).size / 1e6).toFixed(1)} MB (+ WAL)`);
  } finally {
    proc.kill('SIGTERM');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
