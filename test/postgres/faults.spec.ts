// Issue 19's faults with real daemons: an agent (the service as a process, LIVETRACE_ROLE=agent)
// on a real sandbox, tracing lsp1 for a session made through an api instance, shipping its spool
// to a real PostgreSQL (scripts/pg-cluster).
// - PostgreSQL stopped for 30 s while new packets keep coming: the agent goes on tracing into its
//   spool, /health and /metrics say so with a growing backlog; PostgreSQL started: the backlog
//   drains, and every row of the spool is in PostgreSQL with the same values (compared per table
//   by key), the traces counted by outcome, nothing dropped.
// - The agent stopped while flows are installed and started on the same spool: it continues its
//   open datapath flow lifetimes under the same ids, and PostgreSQL holds each once.
// - A small spool (LIVETRACE_SPOOL_MAX_CHANGES) and PostgreSQL away: new traces are dropped and
//   counted, the process stays up, and once PostgreSQL is back the spool drains and drops stop. The
//   spool is filled by packets no session selects (lifetimes, never traced), so how soon it is full
//   does not hang on the tracer's pace or on how many turns the traffic loop gets on a loaded host.
// Megaflows are disabled (upcall/disable-megaflows, as bench/live does): every packet with a new
// TCP source port is then a new datapath flow, so new traces keep coming.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { Client } from 'pg';
import { sqliteLikeTypes } from '../../src/storage/postgres';
import { Child, spawnService, startApp } from '../support/app';
import { startPostgres, TestPostgres } from '../support/postgres';
import { Sandbox } from '../support/sandbox';
import { SLOT_BITS } from '../../src/storage/spool';
import { compareSpoolWithPostgres, describeCheck, metric, metricByLabel, openSpool } from '../support/spool-check';
import { waitFor } from '../support/wait';
import { freePort } from '../support/ports';

jest.setTimeout(600_000);

const OUTAGE_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ANSI = /\x1b\[[0-9;]*m/g;

let pg: TestPostgres;
let sb: Sandbox;
let vif1 = 0;
const agents: Child[] = [];

/** A TCP SYN from lsp1 to lsp2 (allowed by the allow-related ACL: three passes) from source port `sport`. */
const syn = (sport: number) =>
  `in_port(${vif1}),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),` +
  `ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=80),tcp_flags(0x002)`;
let nextSport = 10_000;
let vif2 = 0;
/**
 * A TCP SYN from lsp2 to lsp3 from source port `sport`: a session on lsp1 does not select it (not its
 * port, not its address), so it is never traced, but each of its passes is a datapath flow, so a
 * lifetime row in the spool.
 */
const synLsp2ToLsp3 = (sport: number) =>
  `in_port(${vif2}),eth(src=50:54:00:00:00:02,dst=50:54:00:00:00:03),eth_type(0x0800),` +
  `ipv4(src=10.0.0.2,dst=10.0.0.3,proto=6,tos=0,ttl=64,frag=no),tcp(src=${sport},dst=80),tcp_flags(0x002)`;

/** Sends `n` new packets (new source ports, lsp1's SYNs unless told) at once; returns their source ports. */
async function send(n: number, packet = syn, iface = 'vif1'): Promise<number[]> {
  const ports = Array.from({ length: n }, () => nextSport++);
  await sb.appctl('netdev-dummy/receive', iface, ...ports.map(packet));
  return ports;
}

/** `n` new packets from lsp2 to lsp3, 100 an ovs-appctl call. */
async function sendUnselected(n: number): Promise<void> {
  for (let left = n; left > 0; left -= 100) await send(Math.min(100, left), synLsp2ToLsp3, 'vif2');
}

/**
 * New packets every `everyMs` until stopped: new flows, so new traces keep coming. `told()` says how
 * many went and whether a send failed (the loop ends there: a wait's failure names it).
 */
function traffic(perTick = 2, everyMs = 300): { stop(): Promise<number>; told(): string } {
  let stopped = false;
  let sent = 0;
  let failed: string | undefined;
  const loop = (async () => {
    while (!stopped) {
      sent += (await send(perTick)).length;
      await sleep(everyMs);
    }
  })();
  loop.catch((err: Error) => (failed = err.message));
  return { stop: async () => ((stopped = true), await loop, sent), told: () => `lsp1 packets sent ${sent}${failed ? `, then a send failed: ${failed}` : ''}` };
}

interface Agent {
  child: Child;
  port: number;
  spool: string;
  url: string;
  health(): Promise<{ status: number; body: HealthBody }>;
  metrics(): Promise<string>;
}
interface Part { status: string; [k: string]: unknown }
interface HealthBody { status: string; info?: Record<string, Part>; error?: Record<string, Part>; details: Record<string, Part> }

async function startAgent(url: string, spool: string, port: number, env: Record<string, string> = {}): Promise<Agent> {
  const child = spawnService({
    ...sb.env, LIVETRACE_ROLE: 'agent', LIVETRACE_DB: url, LIVETRACE_SPOOL: spool, LIVETRACE_PORT: String(port),
    LIVETRACE_LOG_LEVEL: 'warn', LIVETRACE_POLL_INTERVAL_MS: '200', ...env,
  });
  agents.push(child);
  const at = `http://127.0.0.1:${port}`;
  const agent: Agent = {
    child, port, spool, url,
    async health() {
      const r = await fetch(`${at}/health`);
      return { status: r.status, body: (await r.json()) as HealthBody };
    },
    metrics: async () => (await fetch(`${at}/metrics`)).text(),
  };
  // An agent that refuses to start says why in its log: fail with that, not after a timeout.
  const gone = () => child.proc.exitCode !== null || child.proc.signalCode !== null;
  // Not healthy in time: the timeout names the parts /health says are down (CI saw one once, unexplained).
  await waitFor(`the agent on port ${port} healthy`, async () => {
    if (gone()) return true;
    const h = await agent.health();
    if (h.status === 200) return true;
    throw new Error(`/health ${h.status}: ${JSON.stringify(h.body.error ?? h.body)}`);
  }, 120_000);
  if (gone()) {
    const log = (child.stdout() + child.stderr()).replace(ANSI, '');
    const errors = log.split('\n').filter((l) => /ERROR|Error/.test(l)).slice(0, 5).join('\n');
    throw new Error(`the agent on port ${port} exited (code ${child.proc.exitCode}, signal ${child.proc.signalCode}) before it was healthy:\n${errors || log.slice(-2000)}`);
  }
  return agent;
}

/**
 * What an agent says now, for a wait's failure: /health's central part and tracer counts, the
 * metrics a bounded spool moves, and its log's last lines (afterAll keeps the whole logs in a
 * temporary folder, which CI's run takes with it).
 */
async function agentStory(a: Agent, logLines = 60): Promise<string> {
  const out: string[] = [];
  try {
    const r = await fetch(`http://127.0.0.1:${a.port}/health`, { signal: AbortSignal.timeout(5000) });
    const h = { status: r.status, body: (await r.json()) as HealthBody };
    const v = h.body.details.vswitchd ?? {};
    out.push(`/health ${h.status}: central ${JSON.stringify(centralPart(h))}; traceQueue ${JSON.stringify(v.traceQueue)}, traceDropped ${JSON.stringify(v.traceDropped)}, poller ${JSON.stringify(v.poller)}`);
  } catch (err) {
    out.push(`/health did not answer: ${(err as Error).message}`);
  }
  try {
    const m = await (await fetch(`http://127.0.0.1:${a.port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    out.push(`traces by outcome ${JSON.stringify(metricByLabel(m, 'livetrace_traces_total', 'outcome'))}; ` +
      `lifetime writes ${JSON.stringify(metricByLabel(m, 'livetrace_datapath_flow_writes_total', 'outcome'))}; ` +
      `ship backlog ${metric(m, 'livetrace_ship_backlog')}, up ${metric(m, 'livetrace_ship_up')}, spool full ${metric(m, 'livetrace_ship_spool_full')}`);
  } catch (err) {
    out.push(`/metrics did not answer: ${(err as Error).message}`);
  }
  const exited = a.child.proc.exitCode !== null || a.child.proc.signalCode !== null;
  if (exited) out.push(`the agent exited (code ${a.child.proc.exitCode}, signal ${a.child.proc.signalCode})`);
  // Nest's start-up lines (modules, routes) are some hundred at info: not the story.
  const startUp = /"context":"(InstanceLoader|RoutesResolver|RouterExplorer)"/;
  const lines = (a.child.stdout() + a.child.stderr()).replace(ANSI, '').trimEnd().split('\n').filter((l) => !startUp.test(l));
  out.push(`the agent's log (start-up lines left out), last ${logLines} lines:\n${lines.slice(-logLines).join('\n') || '(nothing logged)'}`);
  return out.join('\n');
}

/** `wait`, failing with the agent's story (and `more`: what the test itself saw) appended to its error. */
async function told<T>(a: Agent, wait: Promise<T>, more: () => string = () => ''): Promise<T> {
  try {
    return await wait;
  } catch (err) {
    const extra = more();
    throw new Error(`${(err as Error).message}\n${extra ? `${extra}\n` : ''}${await agentStory(a)}`);
  }
}

async function stopAgent(a: Agent): Promise<{ code: number | null; signal: string | null }> {
  a.child.proc.kill('SIGTERM');
  return a.child.exit;
}

/** A session on lsp1 made through an api instance (in process, its own spool), taken up by the agent on hv1. */
async function sessionOnLsp1(url: string): Promise<number> {
  const api: INestApplication = await startApp({ ...sb.env, LIVETRACE_ROLE: 'api', LIVETRACE_DB: url });
  try {
    const http = request(api.getHttpServer());
    await waitFor('the api instance healthy', async () => (await http.get('/health')).status === 200, 60_000);
    const id = (await http.post('/trace-sessions').send({ logicalPort: 'lsp1', durationSeconds: 3600 }).expect(201)).body.id as number;
    await waitFor('the agent on hv1 to take the session up', async () => (await http.get(`/trace-sessions/${id}`)).body.perChassis?.hv1, 60_000);
    return id;
  } finally {
    await api.close();
  }
}

function spoolRows<T>(file: string, sql: string): T[] {
  const db = openSpool(file);
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}
const spoolCount = (file: string, sql: string): number => spoolRows<{ n: number }>(file, sql)[0].n;

const centralPart = (h: { body: HealthBody }) => h.body.details.central;
/** The traces a full spool dropped: /health's one number of them (vswitchd's traceDropped; the central part has no copy). */
const spoolFullDrops = (h: { body: HealthBody }) => (h.body.details.vswitchd?.traceDropped as { spoolFull: number } | undefined)?.spoolFull;

async function pgClient(url: string): Promise<Client> {
  const c = new Client({ connectionString: url, types: sqliteLikeTypes });
  await c.connect();
  return c;
}

beforeAll(async () => {
  pg = startPostgres();
  sb = await Sandbox.start({ prefix: 'livetrace-faults-' });
  await sb.demoTopology();
  await sb.appctl('upcall/disable-megaflows');
  const dp = await sb.dpPorts();
  vif1 = dp.get('vif1')!;
  vif2 = dp.get('vif2')!;
});

afterAll(async () => {
  for (const c of agents) if (c.proc.exitCode === null && c.proc.signalCode === null) {
    c.proc.kill('SIGTERM');
    await c.exit;
  }
  // The agents' logs, for a failure's story.
  const logs = mkdtempSync(join(tmpdir(), 'livetrace-faults-logs-'));
  agents.forEach((c, i) => writeFileSync(join(logs, `agent-${i + 1}.log`), c.stdout() + c.stderr()));
  console.log(`agents' logs: ${logs}`);
  await sb?.stop();
  pg?.stop();
});

describe('an agent and PostgreSQL faults (real daemons)', () => {
  let agent: Agent;
  let url: string;

  it('PostgreSQL stopped for 30 s under traffic: the agent spools and says so, then delivers everything; nothing acknowledged lost, counted', async () => {
    url = await pg.database('faults_outage');
    agent = await startAgent(url, join(mkdtempSync(join(tmpdir(), 'livetrace-faults-spool-')), 'spool.sqlite'), await freePort());
    await sessionOnLsp1(url);
    await send(2);
    await waitFor('the first traces in PostgreSQL', async () => spoolCount(agent.spool, 'SELECT COUNT(*) AS n FROM trace') > 0 && metric(await agent.metrics(), 'livetrace_ship_backlog') === 0, 60_000);

    const load = traffic();
    const tracesBefore = spoolCount(agent.spool, 'SELECT COUNT(*) AS n FROM trace');
    const stoppedAt = Date.now();
    pg.stopServer();
    let outageMs = 0;
    let sent = 0;
    const backlogs: number[] = [];
    try {
      const down = await waitFor('/health to say the central part is down', async () => {
        const h = await agent.health();
        return h.status === 503 && centralPart(h)?.status === 'down' ? h : undefined;
      }, 20_000);
      expect(centralPart(down)).toMatchObject({ spooling: true, store: 'postgres', reason: expect.any(String), since: expect.any(String) });
      backlogs.push(centralPart(down).backlog as number);
      // The rest of the agent is healthy: only the central part is down.
      expect(Object.entries(down.body.details).filter(([k, v]) => k !== 'central' && v.status !== 'up')).toEqual([]);
      while (Date.now() - stoppedAt < OUTAGE_MS - 2000) await sleep(1000);
      const late = await agent.health();
      expect(late.status).toBe(503);
      expect(centralPart(late)).toMatchObject({ status: 'down', spooling: true, since: centralPart(down).since });
      backlogs.push(centralPart(late).backlog as number);
      const m = await agent.metrics();
      expect(metric(m, 'livetrace_ship_up')).toBe(0);
      expect(metric(m, 'livetrace_ship_backlog')).toBeGreaterThan(0);
      while (Date.now() - stoppedAt < OUTAGE_MS) await sleep(200);
    } finally {
      outageMs = Date.now() - stoppedAt;
      pg.startServer();
      sent = await load.stop();
    }
    const tracesDuring = spoolCount(agent.spool, 'SELECT COUNT(*) AS n FROM trace') - tracesBefore;
    console.log(`outage ${outageMs} ms, ${sent} packets sent during it, ${tracesDuring} traces stored into the spool meanwhile, backlog ${backlogs.join(' → ')}`);
    expect(outageMs).toBeGreaterThanOrEqual(OUTAGE_MS);
    expect(tracesDuring).toBeGreaterThan(0);
    expect(backlogs[1]).toBeGreaterThan(backlogs[0]);

    await waitFor('the backlog shipped', async () => {
      const m = await agent.metrics();
      return metric(m, 'livetrace_ship_up') === 1 && metric(m, 'livetrace_ship_backlog') === 0;
    }, 120_000);
    const back = await agent.health();
    expect(back.status).toBe(200);
    expect(centralPart(back)).toMatchObject({ status: 'up', backlog: 0 });
    expect(spoolFullDrops(back)).toBe(0);

    // The numbers while the agent stands still: stopped (it ships what is left on the way out).
    const m = await agent.metrics();
    const outcomes = metricByLabel(m, 'livetrace_traces_total', 'outcome');
    console.log(`livetrace_traces_total by outcome: ${JSON.stringify(outcomes)}; livetrace_ship_rows_total ${metric(m, 'livetrace_ship_rows_total')}`);
    expect(metric(m, 'livetrace_ship_dropped_total')).toBe(0);
    expect(outcomes.dropped_spool_full ?? 0).toBe(0);
    // Going on into the spool means storing: not one trace may fail to be written locally.
    expect(outcomes.failed_store ?? 0).toBe(0);
    expect(agent.child.stdout()).not.toMatch(/UNIQUE constraint failed: ship_log/);
    // Nest closes the app on SIGTERM, then ends by the same signal.
    expect(await stopAgent(agent)).toEqual({ code: null, signal: 'SIGTERM' });
    const check = await compareSpoolWithPostgres(agent.spool, url);
    console.log(`spool vs PostgreSQL after a ${outageMs} ms outage:\n${describeCheck(check)}`);
    expect(check.problems.slice(0, 20)).toEqual([]);
    expect(check.waiting).toBe(0);
    const rows = Object.fromEntries(check.tables.map((t) => [t.table, t.same]));
    for (const t of ['trace', 'datapath_flow', 'path']) expect(rows[t]).toBeGreaterThan(0);
    // Every trace the tracer counted as stored is a row, in the spool and so in PostgreSQL.
    expect(rows.trace).toBe(outcomes.stored);
  });

  it('the sessions the agent took up leave its id sequences in its own writer slot', () => {
    // The active sessions are copied into the spool with their creator's ids (another slot); the
    // spool's AUTOINCREMENT must not follow them, or this writer's next session takes the other's ids.
    const slot = Number(spoolRows<{ value: string }>(agent.spool, `SELECT value FROM meta WHERE key = 'writer_slot'`)[0].value);
    const [lo, hi] = [slot * 2 ** SLOT_BITS, (slot + 1) * 2 ** SLOT_BITS];
    const seqs = spoolRows<{ name: string; seq: number }>(agent.spool, `SELECT name, seq FROM sqlite_sequence WHERE name NOT IN ('migrations', 'ship_log') ORDER BY name`);
    expect(seqs.length).toBeGreaterThan(0);
    expect(seqs.filter((r) => r.seq < lo || r.seq >= hi)).toEqual([]);
  });

  it('an agent restarted on its spool continues the lifetimes it had open: same ids, once in PostgreSQL', async () => {
    // Flows stay installed across the restart (the default 10 s idle time could end them meanwhile).
    await sb.keepFlows(120_000);
    if (agent.child.proc.exitCode === null && agent.child.proc.signalCode === null) await stopAgent(agent);
    agent = await startAgent(url, agent.spool, agent.port);
    const sports = await send(3);
    const mine = `(${sports.map((p) => `key LIKE '%tcp(src=${p},%'`).join(' OR ')})`;
    const openSql = `SELECT id, ufid, recirc_id, packets FROM datapath_flow WHERE removed_at IS NULL AND ${mine} ORDER BY id`;
    const readOpen = () => spoolRows<{ id: number; ufid: string; recirc_id: string; packets: number }>(agent.spool, openSql);
    // Three passes a packet (conntrack twice): nine lifetimes, each traced and shipped.
    const before = await waitFor('the new flows traced and shipped', async () => {
      const rows = readOpen();
      const traced = spoolCount(agent.spool, `SELECT COUNT(*) AS n FROM trace WHERE datapath_flow_id IN (SELECT id FROM datapath_flow WHERE ${mine})`);
      return rows.length >= sports.length && traced >= rows.length && metric(await agent.metrics(), 'livetrace_ship_backlog') === 0 ? rows : undefined;
    }, 60_000);
    expect(await stopAgent(agent)).toEqual({ code: null, signal: 'SIGTERM' });
    const flowsBefore = spoolCount(agent.spool, 'SELECT COUNT(*) AS n FROM datapath_flow');

    agent = await startAgent(url, agent.spool, agent.port, { LIVETRACE_LOG_LEVEL: 'info' });
    expect(agent.child.stdout()).toMatch(/continuing \d+ datapath flow lifetimes left open by the previous run/);
    // The same packets again hit the same flows: their counters move on under the same lifetimes.
    await sb.appctl('netdev-dummy/receive', 'vif1', ...sports.map(syn));
    const firstPasses = before.filter((r) => r.recirc_id === '0x0' || r.recirc_id === '0');
    expect(firstPasses.length).toBe(sports.length);
    const pgFlows = async () => {
      const c = await pgClient(url);
      try {
        return (await c.query(`SELECT id, ufid, removed_at, packets FROM datapath_flow WHERE ufid = ANY($1::text[]) ORDER BY id`, [before.map((r) => r.ufid)])).rows as Array<{ id: number; ufid: string; removed_at: string | null; packets: number }>;
      } finally {
        await c.end();
      }
    };
    const central = await waitFor('the continued lifetimes’ new counters in PostgreSQL', async () => {
      const rows = await pgFlows();
      const hit = rows.filter((r) => firstPasses.some((f) => f.id === r.id && r.packets > f.packets));
      return hit.length === firstPasses.length && metric(await agent.metrics(), 'livetrace_ship_backlog') === 0 ? rows : undefined;
    }, 60_000);
    // Continued, not duplicated: one lifetime per UFID, the ids it had, still open, in the spool and in PostgreSQL.
    const after = readOpen();
    expect(after.map((r) => [r.id, r.ufid])).toEqual(before.map((r) => [r.id, r.ufid]));
    expect(central.map((r) => [r.id, r.ufid, r.removed_at])).toEqual(before.map((r) => [r.id, r.ufid, null]));
    expect(spoolCount(agent.spool, `SELECT COUNT(*) AS n FROM datapath_flow WHERE ${mine}`)).toBe(before.length);
    console.log(`restart: ${before.length} open lifetimes continued (ids ${before[0].id}…${before[before.length - 1].id}), ` +
      `${firstPasses.length} of them counted on after it; datapath_flow rows ${flowsBefore} before, ${spoolCount(agent.spool, 'SELECT COUNT(*) AS n FROM datapath_flow')} after`);
    expect(await stopAgent(agent)).toEqual({ code: null, signal: 'SIGTERM' });
    const check = await compareSpoolWithPostgres(agent.spool, url);
    expect(check.problems.slice(0, 20)).toEqual([]);
    expect(check.waiting).toBe(0);
    await sb.vsctl('remove', 'open_vswitch', '.', 'other_config', 'max-idle');
  });

  it('a small spool with PostgreSQL away: new traces dropped and counted, the agent up; after PostgreSQL returns it drains and stops dropping', async () => {
    const BOUND = 1000;
    const bounded = await pg.database('faults_bounded');
    const small = await startAgent(bounded, join(mkdtempSync(join(tmpdir(), 'livetrace-faults-spool-')), 'spool.sqlite'), await freePort(), { LIVETRACE_SPOOL_MAX_CHANGES: String(BOUND), LIVETRACE_LOG_LEVEL: 'info' });
    await sessionOnLsp1(bounded);
    pg.stopServer();
    // The spool filled by lifetimes alone, from packets no session selects: each makes three
    // datapath flows (conntrack twice: sw0 has a stateful ACL), a row each (and two recirculation
    // edges), so 400 packets pass the bound by their lifetime rows alone, whatever the tracer's pace
    // and however few turns a traffic loop gets. lsp1's traffic filling it through its traces, 4
    // packets every 200 ms, timed out twice after 90 s in CI (2 cores, three lanes, load 6): a packet
    // adds ~11 changes with its traces but ~5 without, so a tracer falling behind and each turn of the
    // loop (ovs-appctl through the sandbox script) slowed by the load left the count under the bound.
    await sendUnselected(400);
    let load: ReturnType<typeof traffic> | undefined;
    let full: { status: number; body: HealthBody };
    try {
      const first = await told(small, waitFor('the spool full (its bound passed by the lifetimes of lsp2’s packets)', async () => {
        const c = centralPart(await small.health());
        return c?.spoolFull === true ? c : undefined;
      }, 90_000));
      // How far past its bound the spool was when it first said full: the writer chunk that reached it (README, Known limits).
      console.log(`bounded spool said full at backlog ${first.backlog as number} (bound ${BOUND})`);
      // Now lsp1's new flows: selected by the session, so each a trace the full spool drops.
      load = traffic(4, 200);
      const l = load;
      full = await told(small, waitFor('the full spool to drop lsp1’s new traces', async () => {
        const h = await small.health();
        return centralPart(h)?.spoolFull && (spoolFullDrops(h) ?? 0) > 0 ? h : undefined;
      }, 90_000), () => `since the spool was full: ${l.told()}`);
      console.log(`bounded spool full: backlog ${centralPart(full).backlog as number}, ${spoolFullDrops(full)} traces dropped (${load.told()})`);
      expect(full.status).toBe(503);
      expect(centralPart(full)).toMatchObject({ status: 'down', spooling: true, spoolFull: true });
      expect(Object.entries(full.body.details).filter(([k, v]) => k !== 'central' && v.status !== 'up')).toEqual([]);
      const m = await small.metrics();
      expect(metric(m, 'livetrace_ship_spool_full')).toBe(1);
      expect(metric(m, 'livetrace_ship_dropped_total')).toBeGreaterThan(0);
      expect(metric(m, 'livetrace_traces_total', { outcome: 'dropped_spool_full' })).toBe(metric(m, 'livetrace_ship_dropped_total'));
      // The poller's new lifetimes wait too (one row a new flow: megaflows are off, so every packet's).
      expect(metric(m, 'livetrace_datapath_flow_writes_total', { outcome: 'dropped_spool_full' })).toBeGreaterThan(0);
    } finally {
      await load?.stop();
      pg.startServer();
    }
    await told(small, waitFor('the spool drained', async () => {
      const m = await small.metrics();
      return metric(m, 'livetrace_ship_up') === 1 && metric(m, 'livetrace_ship_backlog') === 0 && metric(m, 'livetrace_ship_spool_full') === 0;
    }, 120_000));
    const dropped = metric(await small.metrics(), 'livetrace_ship_dropped_total');
    const stored = () => small.metrics().then((m) => metric(m, 'livetrace_traces_total', { outcome: 'stored' }));
    const storedBefore = await stored();
    load = traffic(2, 300);
    try {
      await told(small, waitFor('new traces stored after the drain', async () => (await stored()) >= storedBefore + 6, 60_000));
    } finally {
      await load.stop();
    }
    // A flow the traffic installed last may still be traced after the load stops: the counts are
    // read once no trace waits and the stored count has not moved for 2 s (one run in a few read
    // 311 stored while 312 traces reached the tables).
    let last = { stored: -1, since: Date.now() };
    await told(small, waitFor('tracing settled after the load', async () => {
      const now = await small.metrics();
      const s = metric(now, 'livetrace_traces_total', { outcome: 'stored' });
      if (s !== last.stored || metric(now, 'livetrace_trace_queue_depth') > 0) last = { stored: s, since: Date.now() };
      return Date.now() - last.since >= 2_000;
    }, 60_000));
    const m = await small.metrics();
    const outcomes = metricByLabel(m, 'livetrace_traces_total', 'outcome');
    console.log(`bounded spool (${BOUND} changes): ${dropped} traces dropped while full; by outcome ${JSON.stringify(outcomes)}`);
    expect(metric(m, 'livetrace_ship_dropped_total')).toBe(dropped);
    expect(outcomes.dropped_spool_full).toBe(dropped);
    // Every lifetime held back was stored once there was room, or had ended before (no row, no end).
    const lifetimes = metricByLabel(m, 'livetrace_datapath_flow_writes_total', 'outcome');
    console.log(`bounded spool: lifetimes held back ${JSON.stringify(lifetimes)}`);
    expect((lifetimes.stored_late ?? 0) + (lifetimes.lost_spool_full ?? 0)).toBe(lifetimes.dropped_spool_full);
    expect((await small.health()).status).toBe(200);
    expect(await stopAgent(small)).toEqual({ code: null, signal: 'SIGTERM' });
    const check = await compareSpoolWithPostgres(small.spool, bounded);
    console.log(`bounded spool vs PostgreSQL:\n${describeCheck(check)}`);
    expect(check.problems.slice(0, 20)).toEqual([]);
    expect(Object.fromEntries(check.tables.map((t) => [t.table, t.same])).trace).toBe(outcomes.stored);
  });
});

