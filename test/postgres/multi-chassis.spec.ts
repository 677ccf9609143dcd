// Issue 19's e2e on PostgreSQL: three chassis (scripts/ovn-sandbox --chassis 3, multi-topology), one
// agent per chassis (LIVETRACE_ROLE=agent, each its own SQLite spool shipped to one PostgreSQL
// database) and an api instance (LIVETRACE_ROLE=api, its own spool) that runs no agent. lsp1 on hv1
// pings lsp2 on hv2 (same switch) and lsp3 behind the router on hv3; a TCP/80 packet to lsp2 is
// dropped by the to-lport ACL on hv2. Every answer below comes from the api instance, whose spool
// holds no trace: what it shows of the agents' passes it read from PostgreSQL. The path, audit and
// session checks are test/support/three-chassis-checks.ts, the same on one SQLite file
// (test/e2e/multi-chassis.e2e-spec.ts); this file adds PostgreSQL's own: each agent's spool ships to
// it, its rows per chassis, and the same answers from a SQLite store holding its rows.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../support/ports';
import { startPostgres, TestPostgres } from '../support/postgres';
import { bodyOf, compareServices, copyPostgresToSqlite, describeComparison, overHttp } from '../support/same-answers';
import { Path, Session, ThreeChassis, Trace } from '../support/three-chassis';
import { threeChassisChecks } from '../support/three-chassis-checks';
import { waitFor } from '../support/wait';

jest.setTimeout(300_000);

let pg: TestPostgres;
let url: string;
let hv: ThreeChassis;
const get = <T>(u: string) => hv.get<T>(u);
const spool = (name: string) => join(hv.dir, `spool-${name}.sqlite`);
let sessions: { ofLsp1: Session; ofLsp1OnHv1: Session };

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
  sessions = await hv.startSessions();
});

afterAll(async () => {
  await hv?.stop();
  pg?.stop();
});

describe('three agents and an api instance on one PostgreSQL database', () => {
  it("each agent's /health names PostgreSQL as its central store, up", async () => {
    for (const n of [1, 2, 3]) {
      const h = (await (await fetch(`http://127.0.0.1:${hv.base + n}/health`)).json()) as Health;
      expect(h.details.central).toMatchObject({ status: 'up', store: 'postgres' });
    }
  });

  const sent = threeChassisChecks(() => ({ hv, ...sessions }));

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

  it("a hop is provisional while the receiving chassis's mark is behind it: hv2's agent moves its mark on in PostgreSQL and the hop settles", async () => {
    const pathId = sent.sameSwitch.passes[0].pathId;
    const settled = await get<Path>(`/paths/${pathId}`);
    expect(settled.verdict.provisional).toBeUndefined();
    const [hop] = settled.verdict.tunnels;
    const mark = async () => (await pgRows<{ traced_through: string; updated_at: string }>("SELECT traced_through, updated_at FROM chassis_mark WHERE chassis = 'hv2'"))[0];
    const told = await mark();
    // When hv1 sent the packet (its pass's datapath flow, hv1's clock): a mark there has not passed the push.
    const [{ first_seen: pushed }] = await pgRows<{ first_seen: string }>(`SELECT f.first_seen FROM trace t JOIN datapath_flow f ON f.id = t.datapath_flow_id WHERE t.id = ${hop.fromTraceId}`);
    const agent = hv.children[1];
    agent.proc.kill('SIGSTOP');
    try {
      // hv2's agent told nothing past the push yet (a word already on its way may land first: set again until it stands).
      const behind = await waitFor('the hop provisional', async () => {
        await pgRows(`UPDATE chassis_mark SET traced_through = '${pushed}' WHERE chassis = 'hv2'`);
        const p = await get<Path>(`/paths/${pathId}`);
        return p.verdict.provisional ? p : undefined;
      });
      expect(behind.verdict.tunnels).toEqual([{ ...hop, provisional: true }]);
      expect(behind.verdict.provisionalReason).toContain(`chassis hv2 has stored what its agent traced through ${pushed} only`);
    } finally {
      agent.proc.kill('SIGCONT');
    }
    // Its agent, going on, tells PostgreSQL a mark past the one it had told, and the hop stands.
    const after = await waitFor("hv2's mark past its last", async () => {
      const m = await mark();
      return m.traced_through > told.traced_through ? m : undefined;
    });
    expect(after.updated_at > told.updated_at).toBe(true);
    const again = await get<Path>(`/paths/${pathId}`);
    expect(again.verdict).toEqual(settled.verdict);
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
    for (const p of [sent.sameSwitch, sent.routed, sent.dropped])
      expect(bodyOf<Path>(c, `/paths/${p.passes[0].pathId}`).passes.map((x) => x.id)).toEqual(p.passes.map((x) => x.id));
    expect(c.ok).toBeGreaterThan(100);
    expect(c.differ).toEqual([]);
  });
});
