// The before/after comparison of every GET route over one stored history (issue 17; the packed-step
// schema was checked the same way): one real sandbox run stored in SQLite, then each tree under
// comparison serves a copy of that file with no live source behind it, and every answer is kept as a
// file so that two trees' answers can be compared byte for byte. Driven by scripts/compare-routes.
//
//   history OUT.sqlite          a real sandbox (the verdict tests' router topology), the service in
//                               process tracing lsp1 live, vlog upcalls, sessions, cross-checks,
//                               ingested NDJSON and retis events; daemons stopped, WAL folded in.
//                               OUT.sqlite.ovn-nb.json: the run's NB Load_Balancer and NAT rows (what
//                               a bare ct(nat) could rewrite: a recorded recirculation edge's reason).
//   capture TREE DB OUTDIR      TREE's app on a copy of DB (no OVSDB, no ovs-vswitchd, no poller, no
//                               retention): every GET with the targets read from DB, one file each.
//   diff DIR_A DIR_B            identical/total and every difference (a unified diff per answer).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import request from 'supertest';
// The history's sessions, flows and ingested events are the ones test/postgres/same-answers.spec.ts
// stores too (this tree's: they are data, whichever tree makes the history).
import { endingSessions, ingestEvents, onDemandTraces, pingFlow } from '../test/support/route-history';
import { answers, requests } from '../test/support/route-list';

type Http = ReturnType<typeof request>;

// ---------------------------------------------------------------------------------------------
// (a) the history

async function history(out: string): Promise<void> {
  // The tree whose service and test helpers make the history: the working directory.
  const here = process.cwd();
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { Sandbox } = require(join(here, 'test/support/sandbox'));
  const { waitFor } = require(join(here, existsSync(join(here, 'test/support/wait.ts')) ? 'test/support/wait' : 'test/support/sandbox'));
  const { buildVerdictTopology, VERDICT_PACKETS, EXTRA_VERDICT_PACKETS, VERDICT_MAC, ROUTER_MAC } = require(join(here, 'test/support/verdict-topology'));
  const { checkPacket } = require(join(here, 'test/support/verdict-check'));
  const { createApp } = require(join(here, 'src/bootstrap'));
  const { loadConfig } = require(join(here, 'src/config/config'));
  /* eslint-enable @typescript-eslint/no-require-imports */
  for (const f of [out, `${out}-wal`, `${out}-shm`]) rmSync(f, { force: true });
  const sb = await Sandbox.start({ prefix: 'livetrace-compare-' });
  let app: { init(): Promise<unknown>; close(): Promise<void>; getHttpServer(): unknown } | undefined;
  try {
    const topo = await buildVerdictTopology(sb);
    app = await createApp(
      loadConfig({
        ...sb.env,
        LIVETRACE_DB: out,
        LIVETRACE_POLL_INTERVAL_MS: '200',
        LIVETRACE_VLOG_FILE: join(sb.dir, 'ovs-vswitchd.log'),
        LIVETRACE_VLOG_SET_LEVELS: 'true',
        LIVETRACE_LOG_LEVEL: 'warn',
      }),
    );
    await app!.init();
    const http: Http = request(app!.getHttpServer() as Parameters<typeof request>[0]);
    await waitFor('service healthy', async () => (await http.get('/health')).status === 200, 60_000);
    const post = async (url: string, body: unknown, type = 'application/json') => {
      const r = await http.post(url).set('Content-Type', type).send(typeof body === 'string' ? body : JSON.stringify(body));
      console.log(`POST ${url} -> ${r.status}`);
      return r;
    };
    // Sessions in every state: lsp1 live (left active), one completing at maxTraces, one expiring,
    // an auto-cross-checked filter on SSH (stopped at the end).
    await post('/trace-sessions', { logicalPort: 'lsp1', includeExisting: true });
    const { ssh } = await endingSessions(post);
    // Every verdict packet: pings, the ACL-dropped TCP, the load-balancer VIP, routed SNAT, the
    // unresolved next hop, TTL expiry, the ACL reject (each after a flush: removed lifetimes too).
    const packets = { ...VERDICT_PACKETS, ...EXTRA_VERDICT_PACKETS };
    for (const name of Object.keys(packets)) {
      const r = await checkPacket(sb, http, topo, name);
      console.log(`${name}: ${r.traces.length} traces, paths ${r.paths.map((p: { id: number }) => p.id).join(',')}${r.mismatches.length ? ' MISMATCH ' + r.mismatches.join('; ') : ''}`);
    }
    // Without a flush: a second ping and a ping lsp2 -> lsp3 (not lsp1's), left installed (live lifetimes).
    const dp = topo.dpPorts as Map<string, number>;
    await sb.inject('vif1', pingFlow(dp, 1, 2), 3);
    await sb.inject('vif2', pingFlow(dp, 2, 3), 3);
    await sb.inject('vif3', pingFlow(dp, 3, 2), 2);
    // Reused recirculation ids: with the flows of lsp1's routed and load-balanced packets still
    // installed, the same from lsp2 and lsp3 takes new ids for its first passes and the ids of
    // lsp1's passes where the frozen state is the same (the router's, the backend's), so a pass
    // may recirculate into a smaller id than its own.
    await post('/trace-sessions', { logicalPort: 'lsp2', includeExisting: true });
    const routed = (from: number, dst: string, l4: string, proto: number) =>
      `in_port(${dp.get(`vif${from}`)}),eth(src=${VERDICT_MAC(from)},dst=${ROUTER_MAC.sw0}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=${dst},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;
    const vip = (from: number, sport: number) =>
      `in_port(${dp.get(`vif${from}`)}),eth(src=${VERDICT_MAC(from)},dst=${VERDICT_MAC(3)}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.100,proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=80),tcp_flags(0x002)`;
    await sb.inject('vif1', routed(1, '172.16.0.4', 'icmp(type=8,code=0)', 1), 2);
    await sb.inject('vif1', vip(1, 41080), 2);
    await new Promise((r) => setTimeout(r, 1500));
    await sb.inject('vif2', routed(2, '172.16.0.4', 'icmp(type=8,code=0)', 1), 2);
    await sb.inject('vif2', vip(2, 42080), 2);
    await sb.inject('vif2', routed(2, '192.168.100.7', 'udp(src=5002,dst=6002)', 17), 1);
    await new Promise((r) => setTimeout(r, 4000));
    const live = (await http.get('/datapath-flows?state=live&limit=5')).body.items as Array<{ ufid: string }>;
    await onDemandTraces(post, dp, live[0]?.ufid);
    // Cross-checks against the real ovn-trace: the newest trace of each verdict.
    for (const v of ['drop', 'output', 'controller']) {
      const t = (await http.get(`/traces?verdict=${v}&limit=2`)).body.items as Array<{ id: number }>;
      for (const x of t) await post(`/traces/${x.id}/cross-check`, {});
    }
    await ingestEvents(post);
    // Upcalls from ovs-vswitchd's log reach the store at the vlog source's pace.
    await waitFor('vlog upcalls stored', async () => ((await http.get('/upcalls?source=vlog&linked=true')).body.items?.length ?? 0) >= 3, 30_000).catch(() => console.log('no linked vlog upcalls'));
    if (ssh) await http.delete(`/trace-sessions/${ssh}`);
    await new Promise((r) => setTimeout(r, 2000));
    writeFileSync(`${out}.ovn-nb.json`, JSON.stringify({ Load_Balancer: await nbRows(sb, 'Load_Balancer'), NAT: await nbRows(sb, 'NAT') }, null, 1) + '\n');
  } finally {
    await app?.close().catch((e: Error) => console.error(`app close: ${e.message}`));
    await sb.stop();
  }
  const db = new Database(out);
  db.pragma('wal_checkpoint(TRUNCATE)');
  // Paths where a pass recirculates into a smaller id than its own (what sorting by id gets wrong).
  const reused = db
    .prepare(
      `SELECT DISTINCT t.path_id AS path, pt.recirc_id AS parent, ct.recirc_id AS child FROM recirc_edge e
         JOIN trace pt ON pt.datapath_flow_id = e.parent_id JOIN trace ct ON ct.datapath_flow_id = e.child_id
         JOIN trace t ON t.id = pt.id WHERE pt.path_id = ct.path_id`,
    )
    .all() as Array<{ path: number; parent: string; child: string }>;
  const smaller = reused.filter((r) => Number(r.child) < Number(r.parent));
  console.log(`edges to a smaller recirculation id within a path: ${smaller.map((r) => `path ${r.path} ${r.parent}->${r.child}`).join(', ') || 'none'}`);
  db.pragma('journal_mode = DELETE');
  const counts = Object.fromEntries(
    (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>).map((t) => [
      t.name,
      (db.prepare(`SELECT count(*) AS n FROM "${t.name}"`).get() as { n: number }).n,
    ]),
  );
  db.close();
  console.log(JSON.stringify(counts));
}

/** A NB table's rows as the service's replica holds them (maps as objects, sets as arrays, UUIDs as text). */
async function nbRows(sb: { nbctl(...a: string[]): Promise<string> }, table: string): Promise<Array<Record<string, unknown>>> {
  const { headings, data } = JSON.parse(await sb.nbctl('--format=json', 'list', table)) as { headings: string[]; data: unknown[][] };
  const cell = (v: unknown): unknown => {
    if (!Array.isArray(v)) return v;
    const [kind, x] = v as [string, unknown];
    if (kind === 'uuid') return x;
    if (kind === 'set') return (x as unknown[]).map(cell);
    if (kind === 'map') return Object.fromEntries((x as Array<[unknown, unknown]>).map(([k, w]) => [String(cell(k)), cell(w)]));
    return v;
  };
  return data.map((row) => Object.fromEntries(headings.map((h, i) => [h, cell(row[i])])));
}

// ---------------------------------------------------------------------------------------------
// (b) the answers of one tree

const slug = (url: string) => {
  const s = url.replace(/^\//, '').replace(/[^\w.=-]+/g, '_');
  return s.length <= 120 ? s : `${s.slice(0, 90)}_${createHash('sha1').update(url).digest('hex').slice(0, 12)}`;
};

async function capture(tree: string, dbFile: string, outDir: string): Promise<void> {
  const t = resolve(tree);
  const work = mkdtempSync(join(tmpdir(), 'livetrace-compare-db-'));
  const db = join(work, 'history.sqlite');
  copyFileSync(dbFile, db);
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createApp } = require(join(t, 'src/bootstrap'));
  const { loadConfig } = require(join(t, 'src/config/config'));
  /* eslint-enable @typescript-eslint/no-require-imports */
  // No live source: unreachable sockets (the replicas and ovs-vswitchd only retry, never write), no
  // poller, no retention, no idle sweep of ingested lifetimes, and no ovn-trace to run.
  const app = await createApp(
    loadConfig({
      LIVETRACE_DB: db,
      LIVETRACE_POLLER: 'false',
      OVN_NB_DB: `unix:${work}/nb.sock`,
      OVN_SB_DB: `unix:${work}/sb.sock`,
      OVS_DB: `unix:${work}/db.sock`,
      OVS_RUNDIR: work,
      OVN_RUNDIR: work,
      LIVETRACE_VSWITCHD_CTL: `${work}/ovs-vswitchd.ctl`,
      LIVETRACE_OVN_TRACE: `${work}/no-ovn-trace`,
      LIVETRACE_LOG_LEVEL: process.env.COMPARE_LOG_LEVEL ?? 'fatal',
      LIVETRACE_RETENTION_DAYS: '0',
      LIVETRACE_RETENTION_ROWS: '0',
      LIVETRACE_INGEST_IDLE_SECONDS: '0',
      LIVETRACE_CHASSIS: 'hv1',
    }),
  );
  await app.init();
  const http: Http = request(app.getHttpServer());
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const index: string[] = [];
  const got = await answers(requests(dbFile), async (url) => {
    const r = await http.get(url).buffer(true).parse((res, cb) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (s += d));
      res.on('end', () => cb(null, s));
    });
    return { status: r.status, type: String(r.headers['content-type'] ?? '').split(';')[0], text: r.body as string };
  });
  for (const { url, shown } of got) {
    const file = slug(url);
    writeFileSync(join(outDir, file), shown);
    index.push(`${file} ${url}`);
  }
  writeFileSync(join(outDir, 'INDEX'), index.join('\n') + '\n');
  await app.close();
  const counts = dbCounts(dbFile);
  const after = dbCounts(db);
  rmSync(work, { recursive: true, force: true });
  const grew = Object.keys(after).filter((k) => counts[k] !== undefined && after[k] !== counts[k] && k !== 'migrations');
  console.log(`${index.length} answers from ${t} in ${outDir}${grew.length ? `; WARNING rows changed while serving in ${grew.join(', ')}` : ''}`);
}

/** A digest of every table's rows: serving the copy must change none (no source may write). */
function dbCounts(file: string): Record<string, string> {
  const d = new Database(file, { readonly: true });
  const out = Object.fromEntries(
    (d.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>).map((x) => {
      const h = createHash('sha1');
      for (const row of d.prepare(`SELECT * FROM "${x.name}"`).raw().iterate()) h.update(JSON.stringify(row, (_k, v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
      return [x.name, h.digest('hex')];
    }),
  );
  d.close();
  return out;
}

// ---------------------------------------------------------------------------------------------
// (c) two trees' answers compared

function diff(a: string, b: string): void {
  const read = (d: string) => new Map(readFileSync(join(d, 'INDEX'), 'utf8').trim().split('\n').map((l) => [l.slice(l.indexOf(' ') + 1), l.slice(0, l.indexOf(' '))] as const));
  const ia = read(a);
  const ib = read(b);
  const urls = [...new Set([...ia.keys(), ...ib.keys()])];
  let same = 0;
  const differ: string[] = [];
  for (const url of urls) {
    const fa = ia.get(url);
    const fb = ib.get(url);
    if (!fa || !fb) {
      differ.push(`${url}: only in ${fa ? a : b}`);
      continue;
    }
    const ta = readFileSync(join(a, fa), 'utf8');
    const tb = readFileSync(join(b, fb), 'utf8');
    if (ta === tb) {
      same++;
      continue;
    }
    let d = '';
    try {
      execFileSync('diff', ['-u', join(a, fa), join(b, fb)], { encoding: 'utf8' });
    } catch (e) {
      d = (e as { stdout: string }).stdout;
    }
    const lines = d.split('\n').slice(2);
    differ.push(`${url}:\n${lines.slice(0, 60).join('\n')}${lines.length > 60 ? `\n  ... ${lines.length - 60} more diff lines` : ''}`);
  }
  // Answers that differ the same way (the same changed lines once ids, UUIDs, numbers and times are
  // blanked) are one group: one change usually shows in many answers.
  const groups = new Map<string, string[]>();
  for (const d of differ) {
    const lines = d.split('\n');
    const status = lines.filter((l) => /^[-+]\d{3} /.test(l));
    const changed = lines
      .filter((l) => /^[-+]/.test(l))
      .map((l) => l.replace(/"(?:[^"\\]|\\.)*"/g, 'S').replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'U').replace(/\d+/g, 'N').trim());
    // A changed status is the difference, whatever the bodies say.
    const key = status.length ? status.join(' -> ') : [...new Set(changed)].sort().join('\n').slice(0, 2000);
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const sorted = [...groups.values()].sort((x, y) => y.length - x.length);
  for (const g of sorted) {
    const urlsOf = g.map((d) => d.slice(0, d.indexOf(':\n') >= 0 ? d.indexOf(':\n') : d.length));
    console.log(`=== ${g.length} answer(s) differ this way: ${urlsOf.slice(0, 8).join(' ')}${g.length > 8 ? ` … (+${g.length - 8})` : ''}`);
    console.log(g[0]);
  }
  console.log(`identical ${same}/${urls.length} (${differ.length} differ, ${groups.size} kinds of difference)`);
  if (process.env.COMPARE_ALL) for (const d of differ) console.log(`--- ${d}`);
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'history' && args.length === 1) return history(resolve(args[0]));
  if (cmd === 'capture' && args.length === 3) {
    if (!existsSync(args[1])) throw new Error(`no history at ${args[1]}`);
    return capture(args[0], resolve(args[1]), resolve(args[2]));
  }
  if (cmd === 'diff' && args.length === 2) return diff(args[0], args[1]);
  if (cmd === 'list' && args.length === 1) return void console.log(requests(args[0]).join('\n'));
  throw new Error('usage: compare-routes.ts history OUT.sqlite | capture TREE DB OUTDIR | diff DIR_A DIR_B | list DB');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
