// Migration PgTracePortRoleIndexes on a real PostgreSQL, as an agent's start runs it (openPostgres)
// on a database that has rows: the role indexes are built CONCURRENTLY, so the shippers' inserts
// into trace_port do not wait for the build (a plain CREATE INDEX queues a SHARE lock that every
// insert waits behind); a build cut short leaves an INVALID index, which the next start builds
// again; and a second agent starting meanwhile neither holds up the build nor fails its own start.
// The build is held in its first wait by an open transaction that inserted into trace_port (what a
// shipper's batch is), so "meanwhile" is a state seen in pg_locks / pg_stat_activity, not a time.
import { Client } from 'pg';
import { openPostgres } from '../../src/storage/postgres';
import { connect as client, doneOrBlocked, migratedBefore, until, usePostgres } from '../support/postgres';

jest.setTimeout(180_000);

const MIGRATION = 'PgTracePortRoleIndexes1796900000000';
const ROLE_INDEXES = ['idx_trace_port_in', 'idx_trace_port_out'];
const cluster = usePostgres();

/** A migrated database with `rows` trace_port rows, taken back to before the role indexes. */
async function beforeRoleIndexes(name: string, rows: number): Promise<{ url: string; admin: Client }> {
  const url = await migratedBefore(cluster(), name, MIGRATION);
  const admin = await client(url);
  await admin.query(
    `INSERT INTO trace_port (trace_id, port_name, role, scope, created_at)
     SELECT g, 'lsp' || (g % 97), (ARRAY['inport', 'outport', 'output', 'tunnel_in', 'tunnel_out'])[1 + g % 5], 'trace', to_char(g, 'FM0000000000')
     FROM generate_series(1, $1) g`,
    [rows],
  );
  return { url, admin };
}

const insertPort = (c: Client, traceId: number) => c.query(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES ($1, 'lsp-new', 'outport', 'trace', 'z')`, [traceId]);

/** A shipper's batch in flight: a transaction that inserted into trace_port and has not committed. */
async function openBatch(url: string): Promise<Client> {
  const c = await client(url);
  await c.query('BEGIN');
  await insertPort(c, 1_000_000_001);
  return c;
}

/** The backend building idx_trace_port_in, once it waits on a lock (here: for the open batch). */
const buildWaiting = (admin: Client) =>
  until('the index build waiting on a lock', async () => {
    const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE query ILIKE 'CREATE INDEX%idx_trace_port_in%' AND wait_event_type = 'Lock'`);
    return rows[0]?.pid as number | undefined;
  });

async function roleIndexes(admin: Client): Promise<Array<{ name: string; valid: boolean; def: string }>> {
  const { rows } = await admin.query(
    `SELECT c.relname AS name, i.indisvalid AS valid, pg_get_indexdef(i.indexrelid) AS def
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ANY($1) ORDER BY 1`,
    [ROLE_INDEXES],
  );
  return rows;
}

async function expectBuilt(admin: Client): Promise<void> {
  const idx = await roleIndexes(admin);
  expect(idx.map((i) => [i.name, i.valid])).toEqual([
    ['idx_trace_port_in', true],
    ['idx_trace_port_out', true],
  ]);
  expect(idx[0].def).toMatch(/\(port_name, created_at, trace_id\) WHERE \(role = ANY \(ARRAY\['inport'::text, 'tunnel_in'::text\]\)\)/);
  expect(idx[1].def).toMatch(/\(port_name, created_at, trace_id\) WHERE \(role = ANY \(ARRAY\['outport'::text, 'output'::text, 'tunnel_out'::text\]\)\)/);
  const { rows } = await admin.query('SELECT name FROM migrations WHERE name = $1', [MIGRATION]);
  expect(rows).toHaveLength(1);
}

describe('PgTracePortRoleIndexes builds without stopping the shippers (real PostgreSQL)', () => {
  it("a shipper's insert into trace_port does not wait for the build", async () => {
    const { url, admin } = await beforeRoleIndexes('role_index_insert', 50_000);
    const batch = await openBatch(url);
    const shipper = await client(url);
    try {
      const start = openPostgres(url, 2);
      await buildWaiting(admin);
      // Another shipper's batch arrives while the migration builds.
      const shipperPid = (await shipper.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      let inserted = false;
      const insert = insertPort(shipper, 1_000_000_002).then(() => (inserted = true));
      expect(await doneOrBlocked(admin, shipperPid, () => inserted)).toBe('done');
      await batch.query('COMMIT');
      await insert;
      await (await start).destroy();
      await expectBuilt(admin);
      // Both inserts are in, and the indexes have them.
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM trace_port WHERE port_name = 'lsp-new' AND role = 'outport'`);
      expect(rows[0].n).toBe(2);
    } finally {
      await batch.end().catch(() => undefined);
      await shipper.end();
      await admin.end();
    }
  });

  it('an index left INVALID by a concurrent build cut short is built again at the next start', async () => {
    const { url, admin } = await beforeRoleIndexes('role_index_invalid', 20_000);
    const batch = await openBatch(url);
    const builder = await client(url);
    try {
      // A previous start's build of idx_trace_port_in, cancelled while it waited.
      const cut = builder
        .query(`CREATE INDEX CONCURRENTLY "idx_trace_port_in" ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('inport', 'tunnel_in')`)
        .then(
          () => 'built',
          (e: Error) => e.message,
        );
      const pid = await buildWaiting(admin);
      await admin.query('SELECT pg_cancel_backend($1)', [pid]);
      expect(await cut).toMatch(/cancel/);
      await batch.query('COMMIT');
      expect((await roleIndexes(admin)).map((i) => [i.name, i.valid])).toEqual([['idx_trace_port_in', false]]);

      await (await openPostgres(url, 2)).destroy();
      await expectBuilt(admin);
      // The rebuilt index answers: a role walk reads it.
      await admin.query('SET enable_seqscan = off');
      const plan = (await admin.query(`EXPLAIN SELECT trace_id FROM trace_port WHERE port_name = 'lsp3' AND role IN ('inport', 'tunnel_in') ORDER BY created_at DESC LIMIT 5`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('idx_trace_port_in');
    } finally {
      await batch.end().catch(() => undefined);
      await builder.end();
      await admin.end();
    }
  });

  it('a start killed during the build: the next start builds the indexes, its dead build still running', async () => {
    const { url, admin } = await beforeRoleIndexes('role_index_killed', 20_000);
    const batch = await openBatch(url);
    const dying = await client(url);
    dying.on('error', () => undefined); // its socket is cut below
    try {
      // The killed agent's build: its socket gone, but its backend goes on waiting (and then building),
      // as PostgreSQL notices a client gone only when it next reads from it.
      const cut = dying.query(`CREATE INDEX CONCURRENTLY "idx_trace_port_in" ON "trace_port" ("port_name", "created_at", "trace_id") WHERE role IN ('inport', 'tunnel_in')`).catch(() => undefined);
      const orphan = await buildWaiting(admin);
      (dying as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      await cut;
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [orphan]);
      expect(rows[0].n).toBe(1);

      // The agent started again (systemd): its migration finds the index not valid while the dead one builds it.
      const start = openPostgres(url, 2).then(
        (ds) => ds.destroy().then(() => 'started'),
        (e: Error) => e.message,
      );
      // At the index: dropping it, or asking after the dead build.
      await until('the new start at the index', async () => {
        const { rows: at } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid NOT IN ($1, pg_backend_pid()) AND query ~* 'DROP INDEX CONCURRENTLY|pg_stat_progress_create_index'`, [orphan]);
        return at[0].n > 0;
      });
      await batch.query('COMMIT');
      expect(await start).toBe('started');
      await expectBuilt(admin);
    } finally {
      await batch.end().catch(() => undefined);
      await dying.end().catch(() => undefined);
      await admin.end();
    }
  });

  it('a second agent starting while the build runs starts too, and the build ends', async () => {
    const { url, admin } = await beforeRoleIndexes('role_index_two_starts', 20_000);
    const batch = await openBatch(url);
    try {
      const first = openPostgres(url, 2);
      await buildWaiting(admin);
      const atLock = async () => ((await admin.query(`SELECT pid FROM pg_stat_activity WHERE query ~ 'advisory_lock\\(7946710\\)'`)).rows as Array<{ pid: number }>).map((r) => r.pid);
      const firstAtLock = await atLock(); // the first's lock, when on a connection of its own
      const second = openPostgres(url, 2);
      // The second is at the migrations' lock (asking for it, or waiting in it).
      await until('the second start at the migrations lock', async () => (await atLock()).some((pid) => !firstAtLock.includes(pid)));
      await batch.query('COMMIT');
      const started = await Promise.allSettled([first, second]);
      for (const s of started) if (s.status === 'fulfilled') await s.value.destroy();
      expect(started.map((s) => (s.status === 'fulfilled' ? 'started' : String(s.reason)))).toEqual(['started', 'started']);
      await expectBuilt(admin);
    } finally {
      await batch.end().catch(() => undefined);
      await admin.end();
    }
  });
});
