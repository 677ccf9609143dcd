// Issue 19's e2e on PostgreSQL: three chassis (scripts/ovn-sandbox --chassis 3, multi-topology), one
// agent per chassis (LIVETRACE_ROLE=agent, each its own SQLite spool shipped to one PostgreSQL
// database) and an api instance (LIVETRACE_ROLE=api, its own spool) that runs no agent. lsp1 on hv1
// pings lsp2 on hv2 (same switch) and lsp3 behind the router on hv3; a TCP/80 packet to lsp2 is
// dropped by the to-lport ACL on hv2. Every answer below comes from the api instance, whose spool
// holds no trace: what it shows of the agents' passes it read from PostgreSQL.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../support/ports';
import { startPostgres, TestPostgres } from '../support/postgres';
import { bodyOf, compareServices, copyPostgresToSqlite, describeComparison, overHttp } from '../support/same-answers';
import { ICMP_ROUTED, ICMP_SAME, Path, Session, TCP_80, ThreeChassis, Trace } from '../support/three-chassis';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

let pg: TestPostgres;
let url: string;
let hv: ThreeChassis;
const get = <T>(u: string) => hv.get<T>(u);
const spool = (name: string) => join(hv.dir, `spool-${name}.sqlite`);
let everything: Session;
let ofLsp1: Session;
let ofLsp1OnHv1: Session;

interface AuditFlow { ufid: string; chassis: string; actions: string; traces: Array<{ id: number; verdict: { kinds: string[] }; pathVerdict: { kinds: string[]; northbound: { table: string; uuid: string } | null } }> }
interface Health { status: string; details: { central?: { status: string; store: string; backlog: number } } }

async function pgRows<T>(sql: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  pg = startPostgres();
  url = await pg.database('three_chassis');
  hv = await ThreeChassis.start('livetrace-pg3hv-', (dir, name) => ({ LIVETRACE_DB: url, LIVETRACE_SPOOL: join(dir, `spool-${name}.sqlite`) }));
  await hv.startServices();
  everything = await hv.createSession({ filter: 'ip', durationSeconds: 3600, maxTraces: 1000 });
  ofLsp1 = await hv.createSession({ logicalPort: 'lsp1', durationSeconds: 3600 });
  // Stored centrally by the api instance, polled from PostgreSQL by each agent.
  await hv.takenUp(everything.id, ['hv1', 'hv2', 'hv3']);
  ofLsp1OnHv1 = await hv.createSession({ logicalPort: 'lsp1', chassis: 'hv1', durationSeconds: 3600 });
  await hv.takenUp(ofLsp1.id, ['hv1', 'hv2', 'hv3']);
  await hv.takenUp(ofLsp1OnHv1.id, ['hv1']);
});

afterAll(async () => {
  await hv?.stop();
  pg?.stop();
});

describe('three agents and an api instance on one PostgreSQL database', () => {
  it('the agents answer only /health and /metrics, and ship to PostgreSQL', async () => {
    for (const n of [1, 2, 3]) {
      expect((await fetch(`http://127.0.0.1:${hv.base + n}/traces`)).status).toBe(404);
      const h = (await (await fetch(`http://127.0.0.1:${hv.base + n}/health`)).json()) as Health;
      expect(h.details.central).toMatchObject({ status: 'up', store: 'postgres' });
    }
  });

  let sameSwitch: Path;
  it('lsp1 → lsp2: hv1 tunnels, hv2 delivers to lsp2', async () => {
    const p = (sameSwitch = await hv.whole(await hv.send(ICMP_SAME)));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp2'], chassis: 'hv2', incomplete: false });
    expect(p.verdict.tunnels).toEqual([expect.objectContaining({ remoteChassis: 'hv2', toTraceId: p.passes[1].id })]);
    const back = await get<Path>(`/paths/${p.passes[1].pathId}`);
    expect(back.passes.map((x) => x.id)).toEqual(p.passes.map((x) => x.id));
    expect(back.verdict).toEqual(p.verdict);
  });

  let routed: Path;
  it('lsp1 → lsp3 behind the router: hv1 routes and tunnels, hv3 delivers to lsp3', async () => {
    const p = (routed = await hv.whole(await hv.send(ICMP_ROUTED, 'hv3')));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv3']);
    expect(p.verdict).toMatchObject({ kinds: ['output'], logicalPorts: ['lsp3'], chassis: 'hv3', incomplete: false });
    expect(p.verdict.tunnels).toEqual([expect.objectContaining({ remoteChassis: 'hv3', toTraceId: p.passes[1].id })]);
  });

  let dropped: Path;
  it("TCP/80 to lsp2: dropped on hv2 by the to-lport ACL's logical flow", async () => {
    const p = (dropped = await hv.whole(await hv.send(TCP_80)));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    expect(p.verdict).toMatchObject({ kinds: ['drop'], chassis: 'hv2', logicalPorts: [], northbound: { table: 'ACL', uuid: await hv.dropAcl() } });
    expect(p.verdict.logicalFlow).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("the ACL's audit lists the drop with its chassis (northbound and logical flow audits)", async () => {
    const acl = await hv.dropAcl();
    const arrival = dropped.passes[1].id;
    const has = (items: AuditFlow[]) => items.find((f) => f.traces.some((t) => t.id === arrival));
    const byAcl = (await get<{ items: AuditFlow[] }>(`/northbound/ACL/${acl}/datapath-flows`)).items;
    const flow = has(byAcl);
    expect(flow).toMatchObject({ chassis: 'hv2', actions: 'drop' });
    expect(flow!.traces.find((t) => t.id === arrival)!.pathVerdict).toMatchObject({ kinds: ['drop'], northbound: { table: 'ACL', uuid: acl } });
    // Every flow the ACL dropped was on the receiving chassis: the sender only tunnels.
    expect(new Set(byAcl.filter((f) => f.actions === 'drop').map((f) => f.chassis))).toEqual(new Set(['hv2']));
    const byLflow = (await get<{ items: AuditFlow[] }>(`/logical-flows/${dropped.verdict.logicalFlow}/datapath-flows`)).items;
    expect(has(byLflow)).toMatchObject({ chassis: 'hv2', ufid: flow!.ufid });
  });

  it("?logical_port= finds a port's packets on every chassis that saw them", async () => {
    const ids = async (q: string) => (await get<{ items: Trace[] }>(`/traces?${q}&limit=500`)).items;
    const lsp1 = await ids('logical_port=lsp1&role=any');
    // lsp1's pings and the dropped TCP: sent on hv1, arrived (lsp1's key in the tunnel) on hv2.
    for (const p of [sameSwitch, dropped]) expect(lsp1.map((t) => t.id)).toEqual(expect.arrayContaining(p.passes.map((x) => x.id)));
    expect(new Set(lsp1.map((t) => t.chassis))).toEqual(new Set(['hv1', 'hv2']));
    expect((await ids('logical_port=lsp1&role=inport&chassis=hv2')).map((t) => t.id)).toEqual(expect.arrayContaining([sameSwitch.passes[1].id, dropped.passes[1].id]));
    // The routed arrival is lsp3's on hv3 (the router's port, not lsp1, is in its tunnel key).
    const lsp3 = await ids('logical_port=lsp3&role=outport');
    expect(lsp3.map((t) => t.id)).toContain(routed.passes[1].id);
    expect(lsp3.find((t) => t.id === routed.passes[1].id)!.chassis).toBe('hv3');
    const lsp2 = await ids('logical_port=lsp2&role=outport');
    expect(lsp2.find((t) => t.id === sameSwitch.passes[1].id)?.chassis).toBe('hv2');
  });

  it("lsp1's session, created through the api, is carried out on hv1 and on the receiving chassis", async () => {
    const s = await waitFor('lsp1 counters on hv1 and hv2', async () => {
      const x = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
      return x.perChassis.hv1?.stored && x.perChassis.hv2?.stored ? x : undefined;
    });
    expect(s.stats.stored).toBe(Object.values(s.perChassis).reduce((n, c) => n + c.stored, 0));
    expect(s.perChassis.hv3?.stored ?? 0).toBe(0);
  });

  it('a session narrowed to hv1 is carried out on hv1 only', async () => {
    const s = await get<Session>(`/trace-sessions/${ofLsp1OnHv1.id}`);
    expect(s.onChassis).toEqual(['hv1']);
    expect(Object.keys(s.perChassis)).toEqual(['hv1']);
    expect(s.perChassis.hv1.stored).toBeGreaterThan(0);
  });

  it('stopped through the api instance, every agent lets go of it', async () => {
    // Each agent writes its counters a second late at most: settled, they are the count before the stop.
    await waitFor('counters to settle', async () => {
      const a = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
      await new Promise((r) => setTimeout(r, 1500));
      const b = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
      return JSON.stringify(a.perChassis) === JSON.stringify(b.perChassis);
    });
    const res = await fetch(`${hv.api}/trace-sessions/${ofLsp1.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const before = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
    // Agents read the sessions table once a second.
    await new Promise((r) => setTimeout(r, 2500));
    // A new arrival on hv2 too, which lsp1's session would select by the tunnel key.
    const p = await hv.whole(await hv.send(ICMP_SAME));
    expect(p.passes.map((x) => x.chassis)).toEqual(['hv1', 'hv2']);
    await new Promise((r) => setTimeout(r, 2500));
    const after = await get<Session>(`/trace-sessions/${ofLsp1.id}`);
    expect(after.state).toBe('stopped');
    expect(after.perChassis).toEqual(before.perChassis);
    expect(after.stats.selected).toBe(before.stats.selected);
  });

  it('each agent wrote only its own chassis, the api none: its answers came from PostgreSQL', async () => {
    // Everything each agent committed has arrived.
    for (const n of [1, 2, 3])
      await waitFor(`agent-hv${n} shipped`, async () => ((await (await fetch(`http://127.0.0.1:${hv.base + n}/health`)).json()) as Health).details.central?.backlog === 0);
    const local = (name: string) => {
      const db = new Database(spool(name), { readonly: true });
      try {
        return db.prepare('SELECT chassis, COUNT(*) AS n FROM trace GROUP BY chassis ORDER BY chassis').all() as Array<{ chassis: string; n: number }>;
      } finally {
        db.close();
      }
    };
    expect(local('api')).toEqual([]);
    const central = await pgRows<{ chassis: string; n: string }>('SELECT chassis, COUNT(*) AS n FROM trace GROUP BY chassis ORDER BY chassis');
    for (const n of [1, 2, 3]) {
      const mine = local(`agent-hv${n}`);
      expect(mine.map((r) => r.chassis)).toEqual([`hv${n}`]);
      expect(central.find((r) => r.chassis === `hv${n}`)).toEqual({ chassis: `hv${n}`, n: String(mine[0].n) });
    }
    const listed = (await get<{ items: Trace[] }>('/traces?limit=500')).items;
    expect(new Set(listed.map((t) => t.chassis))).toEqual(new Set(['hv1', 'hv2', 'hv3']));
  });

  it("the same answers from a SQLite store holding PostgreSQL's rows: every GET route over the three chassis's history", async () => {
    // The history stops growing: the agents stop (each ships what it holds as it stops).
    for (const agent of hv.children.slice(0, 3)) await hv.stopService(agent);
    const file = join(hv.dir, 'copy.sqlite');
    const rows = await copyPostgresToSqlite(url, file);
    console.log(`rows copied from PostgreSQL: ${JSON.stringify(rows)}`);
    const port = await freePort();
    await hv.service('api-sqlite', 1, port, { LIVETRACE_ROLE: 'api', LIVETRACE_DB: file });
    const c = await compareServices(file, overHttp(`http://127.0.0.1:${port}`), overHttp(hv.api));
    console.log(describeComparison(c));
    // The cross-chassis link is made at read time, by each store's own SQL.
    for (const p of [sameSwitch, routed, dropped])
      expect(bodyOf<Path>(c, `/paths/${p.passes[0].pathId}`).passes.map((x) => x.id)).toEqual(p.passes.map((x) => x.id));
    expect(c.ok).toBeGreaterThan(100);
    expect(c.differ).toEqual([]);
  });
});
