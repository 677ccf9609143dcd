// Issue 19: the same API answers on SQLite and PostgreSQL over one history, byte for byte. One
// one-chassis service (LIVETRACE_ROLE=all) on a real sandbox stores a history with PostgreSQL as
// its store: every packet of the verdict topology (pings, ACL drop and reject, load balancer, routed
// SNAT, unresolved next hop, TTL expiry), pings left installed, on-demand traces, sessions that
// complete, expire, stop and stay active, cross-checks against ovn-trace, ingested USDT-style and
// retis events (the sessions, flows and events of test/support/route-history.ts, as scripts/
// compare-routes stores them).
// Its spool holds the whole history it wrote, and the shipper copied every row of it to PostgreSQL.
// Then two api instances read that one history: one with the spool as its SQLite store, one with
// PostgreSQL, and every GET route of test/support/route-list.ts is asked of both.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Child, spawnService } from '../support/app';
import { freePort } from '../support/ports';
import { startPostgres, TestPostgres } from '../support/postgres';
import { endingSessions, ingestEvents, onDemandTraces, pingFlow } from '../support/route-history';
import type { RawAnswer } from '../support/route-list';
import { bodyOf, compareServices, describeComparison, overHttp } from '../support/same-answers';
import type { Sandbox } from '../support/sandbox';
import { checkPacket, startTracingLsp1 } from '../support/verdict-check';
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
    const { ssh } = await endingSessions(post);
    for (const name of ['same-switch', 'acl-drop', 'lb-vip', 'routed-snat', 'unresolved-next-hop', 'ttl-expired', 'acl-reject']) {
      const r = await checkPacket(t.sb, http, topo, name);
      if (r.mismatches.length) throw new Error(`${name}: ${r.mismatches.join('; ')}`);
    }
    // Without a flush: pings left installed (live lifetimes), one of them not lsp1's (lsp2's session).
    await post('/trace-sessions', { logicalPort: 'lsp2', includeExisting: true });
    await t.sb.inject('vif1', pingFlow(topo.dpPorts, 1, 2), 3);
    await t.sb.inject('vif2', pingFlow(topo.dpPorts, 2, 3), 3);
    await waitFor('the pings of lsp2 traced', async () => ((await http.get('/traces?logical_port=lsp2&role=inport')).body.items?.length ?? 0) > 0, 30_000);
    const [live] = (await http.get('/datapath-flows?state=live&limit=1')).body.items as Array<{ ufid: string }>;
    const hand = await onDemandTraces(post, topo.dpPorts, live?.ufid);
    // Through PostgreSQL too, a hand-typed flow through conntrack is one path of all its passes (the
    // comparison below then holds its GET /paths/:id and ?logical_port= answers to SQLite's).
    expect(hand.passes.length).toBeGreaterThan(1);
    expect(hand.verdict).toMatchObject({ incomplete: false });
    const read = (await http.get(`/paths/${hand.id}`).expect(200)).body as { passes: Array<{ id: number; pathId: number }> };
    expect(read.passes.map((p) => p.id)).toEqual(hand.passes.map((p) => p.id));
    // Cross-checks of a drop and a delivery: the newest trace of each that ovn-trace can be asked
    // about (a pass after recirculation has no logical inport to start from: 422, the next one).
    for (const v of ['drop', 'output']) {
      const xs = (await http.get(`/traces?verdict=${v}&limit=10`)).body.items as Array<{ id: number }>;
      for (const x of xs) if ((await http.post(`/traces/${x.id}/cross-check`).send({})).status === 201) break;
    }
    await ingestEvents(post);
    await http.delete(`/trace-sessions/${ssh}`).expect(200);
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
