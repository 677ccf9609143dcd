// Issue 19: the same API answers on SQLite and PostgreSQL over one history, byte for byte. One
// one-chassis service (LIVETRACE_ROLE=all) on a real sandbox stores a history with PostgreSQL as
// its store: every packet of the verdict topology (pings, ACL drop and reject, load balancer, routed
// SNAT, unresolved next hop, TTL expiry), pings left installed, on-demand traces, sessions that
// complete, expire, stop and stay active, cross-checks against ovn-trace, ingested USDT-style and
// retis events.
// Its spool holds the whole history it wrote, and the shipper copied every row of it to PostgreSQL.
// Then two api instances read that one history: one with the spool as its SQLite store, one with
// PostgreSQL, and every GET route of test/support/route-list.ts is asked of both.
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Child, ROOT, spawnService } from '../support/app';
import { freePort } from '../support/ports';
import { startPostgres, TestPostgres } from '../support/postgres';
import type { RawAnswer } from '../support/route-list';
import { bodyOf, compareServices, describeComparison, overHttp } from '../support/same-answers';
import type { Sandbox } from '../support/sandbox';
import { checkPacket, startTracingLsp1 } from '../support/verdict-check';
import { VERDICT_MAC } from '../support/verdict-topology';
import { waitFor } from '../support/wait';

jest.setTimeout(600_000);

let pg: TestPostgres;
let sb: Sandbox | undefined;
let work: string;
const children: Child[] = [];

afterAll(async () => {
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGTERM');
    await c.exit;
  }
  await sb?.stop();
  pg?.stop();
  if (work && !process.env.LIVETRACE_KEEP_SANDBOX) rmSync(work, { recursive: true, force: true });
});

/** The history, stored through PostgreSQL by a one-chassis service; returns its spool file. */
async function history(url: string): Promise<string> {
  const spool = join(work, 'spool-all.sqlite');
  const t = await startTracingLsp1('livetrace-same-', { includeExisting: true }, { LIVETRACE_DB: url, LIVETRACE_SPOOL: spool });
  sb = t.sb;
  const { http, topo } = t;
  const post = async (u: string, body: unknown, type = 'application/json') => {
    const r = await http.post(u).set('Content-Type', type).send(typeof body === 'string' ? body : JSON.stringify(body));
    if (r.status >= 300) throw new Error(`POST ${u}: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  try {
    const ssh = (await post('/trace-sessions', { filter: 'tcp,tp_dst=22', crossCheck: true })).body as { id: number };
    await post('/trace-sessions', { logicalPort: 'lsp1', filter: 'icmp', maxTraces: 2 });
    await post('/trace-sessions', { logicalPort: 'lsp3', durationSeconds: 1 });
    for (const name of ['same-switch', 'acl-drop', 'lb-vip', 'routed-snat', 'unresolved-next-hop', 'ttl-expired', 'acl-reject']) {
      const r = await checkPacket(t.sb, http, topo, name);
      if (r.mismatches.length) throw new Error(`${name}: ${r.mismatches.join('; ')}`);
    }
    // Without a flush: pings left installed (live lifetimes), one of them not lsp1's (lsp2's session).
    await post('/trace-sessions', { logicalPort: 'lsp2', includeExisting: true });
    const icmp = (from: number, to: number) =>
      `in_port(${topo.dpPorts.get(`vif${from}`)}),eth(src=${VERDICT_MAC(from)},dst=${VERDICT_MAC(to)}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.${to},proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`;
    await t.sb.inject('vif1', icmp(1, 2), 3);
    await t.sb.inject('vif2', icmp(2, 3), 3);
    await waitFor('the pings of lsp2 traced', async () => ((await http.get('/traces?logical_port=lsp2&role=inport')).body.items?.length ?? 0) > 0, 30_000);
    // On-demand traces: a hand-typed OpenFlow flow (no datapath flow) and an installed one by UFID.
    await post('/traces', { bridge: 'br-int', flow: `in_port=${topo.dpPorts.get('vif1')},icmp,dl_src=${VERDICT_MAC(1)},dl_dst=${VERDICT_MAC(3)},nw_src=10.0.0.1,nw_dst=10.0.0.3` });
    const [live] = (await http.get('/datapath-flows?state=live&limit=1')).body.items as Array<{ ufid: string }>;
    if (live) await post(`/datapath-flows/${live.ufid}/trace`, {});
    // Cross-checks of a drop and a delivery: the newest trace of each that ovn-trace can be asked
    // about (a pass after recirculation has no logical inport to start from: 422, the next one).
    for (const v of ['drop', 'output']) {
      const xs = (await http.get(`/traces?verdict=${v}&limit=10`)).body.items as Array<{ id: number }>;
      for (const x of xs) if ((await http.post(`/traces/${x.id}/cross-check`).send({})).status === 201) break;
    }
    const fx = join(ROOT, 'test/fixtures/documented/retis');
    const T = '2026-11-27T05:21:55.633Z';
    const UFID = 'c3eaf764-0b75-4369-bd29-5dd907c66fb9';
    const KEY = 'recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(2),skb_mark(0/0),eth(src=50:54:00:00:00:01/01:00:00:00:00:00,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1,frag=no)';
    const events = [
      { type: 'ukey_created', id: 'c1', time: T, ufid: UFID, key: KEY, actions: 'ct(zone=1),recirc(0x1)', packets: 1, bytes: 98 },
      { type: 'upcall', id: 'u1', time: T, upcallType: 'miss', key: 'recirc_id(0),in_port(2),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800)', thread: 'handler1', ufid: UFID },
      { type: 'translation', id: 't1', time: T, ufid: UFID, upcallId: 'u1', text: readFileSync(join(fx, `${UFID}.trace.txt`), 'utf8') },
      { type: 'ukey_revalidated', id: 'r1', time: '2026-11-27T05:21:57Z', ufid: UFID, result: 'KEEP', reason: 'NONE' },
      { type: 'upcall', id: 'u2', time: '2026-11-27T05:22:00Z', upcallType: 'action', key: 'recirc_id(0),in_port(3)', thread: 'handler2' },
      { type: 'ukey_removed', id: 'x1', time: '2026-11-27T05:23:00Z', ufid: UFID, reason: 'idle' },
    ];
    await post('/ingest/events?source=usdt', events.map((e) => JSON.stringify(e)).join('\n') + '\n', 'application/x-ndjson');
    await post('/ingest/retis', readFileSync(join(fx, 'events.json'), 'utf8'), 'application/x-ndjson');
    await http.delete(`/trace-sessions/${ssh.id}`).expect(200);
    // The lsp3 session's second is over: its end is stored before the service stops.
    await waitFor('the 1 s session expired', async () => ((await http.get('/trace-sessions?state=expired')).body.items?.length ?? 0) > 0, 15_000);
    await waitFor('the spool shipped', async () => (await http.get('/health')).body.details?.central?.backlog === 0, 30_000);
  } finally {
    // Stopping ships what is left; the sandbox stays for the api instances' NB/SB replicas.
    await t.app.close();
  }
  const db = new Database(spool);
  try {
    expect(db.prepare('SELECT COUNT(*) AS n FROM ship_log').get()).toEqual({ n: 0 });
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return spool;
}

/** An api instance (no agent) on `store`, the sandbox's NB/SB as its replicas. */
async function apiOn(name: string, store: Record<string, string>): Promise<(u: string) => Promise<RawAnswer>> {
  const port = await freePort();
  const child = spawnService({ ...sb!.env, ...store, LIVETRACE_ROLE: 'api', LIVETRACE_PORT: String(port), LIVETRACE_LOG_LEVEL: 'warn' });
  children.push(child);
  const origin = `http://127.0.0.1:${port}`;
  const up = await waitFor(`the ${name} api instance`, async () => (child.proc.exitCode !== null ? 'exited' : (await fetch(`${origin}/health`).catch(() => undefined))?.status === 200 && 'up'), 120_000);
  if (up === 'exited') throw new Error(`the ${name} api instance exited: ${child.stderr().slice(-2000)}`);
  return overHttp(origin);
}

describe('one history, SQLite and PostgreSQL', () => {
  it('every GET route answers the same on both, byte for byte', async () => {
    pg = startPostgres();
    work = mkdtempSync(join(tmpdir(), 'livetrace-same-'));
    const url = await pg.database('same_answers');
    const spool = await history(url);
    // The SQLite side reads a copy: nothing it does can touch the history the list is read from.
    const file = join(work, 'history.sqlite');
    copyFileSync(spool, file);
    const [sqlite, postgres] = await Promise.all([
      apiOn('SQLite', { LIVETRACE_DB: file }),
      apiOn('PostgreSQL', { LIVETRACE_DB: url, LIVETRACE_SPOOL: join(work, 'spool-api.sqlite') }),
    ]);
    const h = new Database(file, { readonly: true });
    const rows = Object.fromEntries(['trace', 'path', 'datapath_flow', 'upcall', 'trace_session', 'cross_check', 'logical_flow_snapshot'].map((t) => [t, (h.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n]));
    h.close();
    console.log(`history: ${JSON.stringify(rows)}`);
    const c = await compareServices(spool, sqlite, postgres);
    console.log(describeComparison(c));
    // A history worth comparing: paths, audits and lists with rows in them, not only errors.
    expect(bodyOf<{ items: unknown[] }>(c, '/traces?limit=500').items.length).toBeGreaterThan(10);
    expect(bodyOf<{ items: unknown[] }>(c, '/upcalls?limit=500').items.length).toBeGreaterThan(0);
    expect(bodyOf<{ items: unknown[] }>(c, '/trace-sessions').items.length).toBe(5);
    expect(rows.cross_check).toBeGreaterThanOrEqual(2);
    expect(c.ok).toBeGreaterThan(200);
    expect(c.differ).toEqual([]);
    // The PostgreSQL side's own spool got none of the history: what it answered, it read from PostgreSQL.
    const own = new Database(join(work, 'spool-api.sqlite'), { readonly: true });
    expect(own.prepare('SELECT COUNT(*) AS n FROM trace').get()).toEqual({ n: 0 });
    own.close();
  });
});
