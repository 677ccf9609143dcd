// PostgreSQL keeps a longer history than the spools (LIVETRACE_CENTRAL_RETENTION_*), on a real
// PostgreSQL with spools written as the tracer writes them (the captured replies, annotated with the
// captured NB/SB, through TraceStore, one writer job a pass): the spool prunes locally, muted, only
// what PostgreSQL already holds and the agent can no longer change, and PostgreSQL still answers it;
// PostgreSQL's own retention deletes its old rows and only them, in batches, one process at a time.
import { Client } from 'pg';
import request from 'supertest';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { MetricsService } from '../../src/metrics/metrics.service';
import { PathStore } from '../../src/paths/path-store';
import { CENTRAL_RETENTION_LOCK, centralRound } from '../../src/retention/central-retention-store';
import { RetentionService } from '../../src/retention/retention.service';
import type { StoreService } from '../../src/storage/store.service';
import { citationsOf } from '../../src/traces/step-pack';
import { TraceStore } from '../../src/traces/trace-store';
import { startApp, testConfig } from '../support/app';
import { capturedReplies } from '../support/captured-replies';
import { tracedUp, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(180_000);

const spools = usePostgresSpools();
const DAY = 86_400_000;
const NOW = Date.now();

const replies = capturedReplies();

/**
 * Every reply as one packet (a path of its passes) over the 20 days before NOW; each pass its own
 * datapath flow lifetime, ended when it was traced, except the packets `live` picks (the flows of a
 * packet still in the datapath). Returns the trace ids by packet.
 */
async function fill(s: StoreService, live: (packet: number) => boolean = () => false, from = 0, to = replies.length): Promise<number[][]> {
  const traces = new TraceStore(s);
  const out: number[][] = [];
  for (let i = from; i < to; i++) {
    const at = new Date(NOW - 20 * DAY + (i * 20 * DAY) / replies.length).toISOString();
    const ids: number[] = [];
    let pathId: number | undefined;
    for (const [j, pass] of replies[i].entries())
      ids.push(
        await s.writer.submit((tx) => {
          const flow = Number(
            tx
              .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, ?, ?, ?, 1, 1, 'poller')`)
              .run(`00000000-0000-4000-8000-${String(i * 100 + j).padStart(12, '0')}`, at, at, live(i) ? null : at, pass.recircId, pass.megaflow, pass.datapathActions).lastInsertRowid,
          );
          pathId ??= Number(tx.stmt(`INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', ?, ?, '{}')`).run(at, at).lastInsertRowid);
          const id = traces.insert(tx, { trace: pass, chassis: 'hv1', createdAt: at, datapathFlowId: flow, pathId, portUuids: new Map() });
          traces.addPathPorts(tx, id, pass.ports.map((p) => ({ name: p.logicalPort, uuid: null, bindingUuid: p.portBindingUuid, datapath: p.datapath, role: p.role })));
          if (j > 0) tx.stmt(`INSERT INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)`).run(flow - 1, flow, pass.recircId);
          return id;
        }),
      );
    out.push(ids);
  }
  return out;
}

function retention(s: StoreService, env: Record<string, string>): RetentionService {
  return new RetentionService(s, new TraceStore(s), new PathStore(s), new DatapathFlowStore(s), testConfig(env), new MetricsService());
}

const ids = async (s: StoreService, where: 'spool' | 'pg'): Promise<number[]> =>
  where === 'spool'
    ? (s.db.prepare('SELECT id FROM trace ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id)
    : (await s.query.all<{ id: number }>('SELECT id FROM trace ORDER BY id')).map((r) => r.id);

/** PostgreSQL's citation bits, one "kind:ref:trace" each. */
async function pgCitations(s: StoreService): Promise<string[]> {
  const out: string[] = [];
  for (const r of await s.query.all<{ kind: number; ref: number; bucket: number; bits: number }>('SELECT kind, ref, bucket, bits FROM trace_citation'))
    for (let b = 0; b < 32; b++) if ((r.bits >>> b) & 1) out.push(`${r.kind}:${r.ref}:${r.bucket * 32 + b}`);
  return out.sort();
}

/** What PostgreSQL's traces' own steps cite. */
async function citedBySteps(s: StoreService): Promise<string[]> {
  const rows = await s.query.all<{ id: number; steps: Buffer }>('SELECT id, steps FROM trace');
  return rows.flatMap((t) => citationsOf(t.steps).map(([kind, ref]) => `${kind}:${ref}:${t.id}`)).sort();
}

async function pgCounts(s: StoreService): Promise<Record<string, number>> {
  const n = async (sql: string) => (await s.query.get<{ n: number }>(sql))!.n;
  return {
    traces: await n('SELECT COUNT(*) AS n FROM trace'),
    ports: await n('SELECT COUNT(*) AS n FROM trace_port'),
    citations: await n('SELECT COUNT(*) AS n FROM trace_citation'),
    paths: await n('SELECT COUNT(*) AS n FROM path'),
    flows: await n('SELECT COUNT(*) AS n FROM datapath_flow'),
    edges: await n('SELECT COUNT(*) AS n FROM recirc_edge'),
  };
}

async function pgOrphans(s: StoreService): Promise<Record<string, number>> {
  const n = async (sql: string) => (await s.query.get<{ n: number }>(sql))!.n;
  return {
    ports: await n('SELECT COUNT(*) AS n FROM trace_port WHERE trace_id NOT IN (SELECT id FROM trace)'),
    emptyBuckets: await n('SELECT COUNT(*) AS n FROM trace_citation WHERE bits = 0'),
    paths: await n('SELECT COUNT(*) AS n FROM path WHERE id NOT IN (SELECT path_id FROM trace WHERE path_id IS NOT NULL)'),
    endedFlows: await n('SELECT COUNT(*) AS n FROM datapath_flow WHERE removed_at IS NOT NULL AND id NOT IN (SELECT datapath_flow_id FROM trace WHERE datapath_flow_id IS NOT NULL)'),
    edges: await n('SELECT COUNT(*) AS n FROM recirc_edge WHERE parent_id NOT IN (SELECT id FROM datapath_flow) OR child_id NOT IN (SELECT id FROM datapath_flow)'),
  };
}

describe('PostgreSQL keeps a longer history than the spools (real PostgreSQL)', () => {
  it('the spool prunes locally what PostgreSQL holds and can no longer change; PostgreSQL keeps every row and still answers it', async () => {
    expect(replies.length).toBeGreaterThan(30);
    const url = await spools.pg().database('keep_local');
    const s = await spools.storeOn(url);
    // Every 5th packet is still in the datapath: its path may change, so the spool keeps it.
    const packets = await fill(s, (i) => i % 5 === 0);
    await s.shipper!.synced();
    const all = await ids(s, 'spool');
    expect(await ids(s, 'pg')).toEqual(all);
    const keep = 10;
    const live = new Set(packets.filter((_, i) => i % 5 === 0).flat());
    const expected = all.filter((id, k) => k >= all.length - keep || live.has(id));
    const countsBefore = await pgCounts(s);
    const citationsBefore = await pgCitations(s);
    const traces = new TraceStore(s);
    const port = replies[1][0].ports[0].logicalPort;
    const pageBefore = await traces.list({ portName: port, limit: 500, withSteps: true });
    expect(pageBefore.items.length).toBeGreaterThan(0);

    const svc = retention(s, { LIVETRACE_RETENTION_ROWS: String(keep), LIVETRACE_RETENTION_DAYS: '0', LIVETRACE_CENTRAL_RETENTION_DAYS: '3650' });
    expect(svc.central).toBe(true);
    const r = await svc.round(NOW);
    expect(r.traces).toBe(all.length - expected.length);
    expect(r.paths).toBeGreaterThan(0);
    expect(r.datapathFlows).toBeGreaterThan(0);
    expect(await ids(s, 'spool')).toEqual(expected);
    const pruned = all.filter((id) => !expected.includes(id));
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM trace_port WHERE trace_id IN (SELECT value FROM json_each(?))').get(JSON.stringify(pruned))).toEqual({ n: 0 });

    // Nothing of the prune was shipped: PostgreSQL holds every row it held, and answers from them.
    await s.shipper!.synced();
    expect(s.shipper!.state.backlog).toBe(0);
    expect(await pgCounts(s)).toEqual(countsBefore);
    expect(await pgCitations(s)).toEqual(citationsBefore);
    expect(await ids(s, 'pg')).toEqual(all);
    const pageAfter = await traces.list({ portName: port, limit: 500, withSteps: true });
    expect(pageAfter).toEqual(pageBefore);
    expect(pageAfter.items.some((t) => pruned.includes(t.id))).toBe(true);
    // And over HTTP, from an api instance on PostgreSQL.
    const api = await startApp({ LIVETRACE_DB: url, LIVETRACE_ROLE: 'api' });
    try {
      const res = await request(api.getHttpServer()).get(`/traces?logical_port=${encodeURIComponent(port)}&limit=500`);
      expect(res.status).toBe(200);
      const served = (res.body.items as Array<{ id: number }>).map((t) => t.id);
      expect(served).toEqual(expect.arrayContaining(pageBefore.items.map((t) => t.id)));
      expect(served.filter((id) => pruned.includes(id)).length).toBeGreaterThan(0);
      expect(served.filter((id) => s.db.prepare('SELECT 1 FROM trace WHERE id = ?').get(id) === undefined).sort()).toEqual(
        pageBefore.items.map((t) => t.id).filter((id) => pruned.includes(id)).sort(),
      );
    } finally {
      await api.close();
    }

    // The trap: a bucket pruned locally, then a bit of it shipped again (late) from the spool.
    // PostgreSQL's upsert ORs, so the bits only it still holds stay.
    const row = (await s.query.all<{ kind: number; ref: number; bucket: number; bits: number }>(
      'SELECT kind, ref, bucket, bits FROM trace_citation WHERE bucket = ANY(?::bigint[]) ORDER BY bucket LIMIT 1',
      `{${pruned.map((id) => Math.floor(id / 32)).join(',')}}`,
    ))[0];
    expect(row).toBeDefined();
    const spoolBits = (s.db.prepare('SELECT bits FROM trace_citation WHERE kind = ? AND ref = ? AND bucket = ?').get(row.kind, row.ref, row.bucket) as { bits: number } | undefined)?.bits ?? 0;
    expect(spoolBits).not.toBe(row.bits);
    const free = [...Array(32).keys()].find((b) => !((row.bits >>> b) & 1));
    expect(free).toBeDefined();
    const late = (1 << free!) >>> 0;
    await s.writer.submit((tx) =>
      tx
        .stmt('INSERT INTO trace_citation (kind, ref, bucket, bits) VALUES (?, ?, ?, ?) ON CONFLICT (kind, ref, bucket) DO UPDATE SET bits = bits | excluded.bits')
        .run(row.kind, row.ref, row.bucket, late),
    );
    await s.shipper!.synced();
    expect((await s.query.get<{ bits: number }>('SELECT bits FROM trace_citation WHERE kind = ? AND ref = ? AND bucket = ?', row.kind, row.ref, row.bucket))!.bits).toBe(
      (row.bits | late) >>> 0,
    );
  });

  it('nothing PostgreSQL does not hold yet is pruned locally (PostgreSQL stopped); it ships when it is back', async () => {
    const url = await spools.pg().database('keep_unshipped');
    const s = await spools.storeOn(url);
    const half = Math.floor(replies.length / 2);
    await fill(s, () => false, 0, half);
    await s.shipper!.synced();
    const shipped = await ids(s, 'spool');
    spools.pg().stopServer();
    let unshipped: number[];
    try {
      unshipped = (await fill(s, () => false, half)).flat();
      const svc = retention(s, { LIVETRACE_RETENTION_ROWS: '1', LIVETRACE_CENTRAL_RETENTION_ROWS: '1000000' });
      const r = await svc.round(NOW);
      // The shipped half went, but for the traces sharing a citation bucket with unshipped ones (its
      // row changed since it was shipped: waiting in ship_log); not one unshipped trace.
      const open = Math.floor(unshipped[0] / 32);
      const sharing = shipped.filter((id) => Math.floor(id / 32) === open);
      expect(sharing.length).toBeGreaterThan(0);
      expect(r.traces).toBe(shipped.length - sharing.length);
      expect(await ids(s, 'spool')).toEqual([...sharing, ...unshipped]);
    } finally {
      spools.pg().startServer();
    }
    await s.shipper!.synced(60_000);
    expect(await ids(s, 'pg')).toEqual([...shipped, ...unshipped]);
    expect(await pgCitations(s)).toEqual(await citedBySteps(s));
  });

  it('PostgreSQL’s retention deletes its old rows and only them, in batches, one process at a time (advisory lock)', async () => {
    const url = await spools.pg().database('central_prune');
    const s = await spools.storeOn(url);
    const other = await spools.storeOn(url);
    await fill(s, () => false, 0, Math.floor(replies.length / 2));
    await fill(other, () => false, Math.floor(replies.length / 2));
    await tracedUp(s, url);
    await tracedUp(other, url);
    const rows = await s.query.all<{ id: number; created_at: string }>('SELECT id, created_at FROM trace ORDER BY id');
    const cutoff = new Date(NOW - 10 * DAY).toISOString();
    const old = rows.filter((r) => r.created_at < cutoff).map((r) => r.id);
    const young = rows.filter((r) => r.created_at >= cutoff).map((r) => r.id);
    expect(old.length).toBeGreaterThan(20);
    expect(young.length).toBeGreaterThan(20);

    // Another process holds the lock: this one does nothing.
    const holder = new Client({ connectionString: url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [CENTRAL_RETENTION_LOCK]);
    const skipped = await centralRound(s.central!.pool, { days: 10, keep: 0 }, NOW, { batch: 7 });
    expect(skipped).toMatchObject({ ran: false, traces: 0 });
    expect(await ids(s, 'pg')).toEqual(rows.map((r) => r.id));
    await holder.query('SELECT pg_advisory_unlock($1)', [CENTRAL_RETENTION_LOCK]);
    await holder.end();

    // Two processes at once (each its own pool): the lock lets one at a time prune; together they prune each old trace once.
    const rounds = await Promise.all([
      centralRound(s.central!.pool, { days: 10, keep: 0 }, NOW, { batch: 7 }),
      centralRound(other.central!.pool, { days: 10, keep: 0 }, NOW, { batch: 7 }),
    ]);
    expect(rounds.some((r) => r.ran)).toBe(true);
    expect(rounds.reduce((n, r) => n + r.traces, 0)).toBe(old.length);
    const first = rounds.find((r) => r.traces > 0)!;
    expect(first.batches).toBe(Math.ceil(old.length / 7));
    expect(await ids(s, 'pg')).toEqual(young);
    expect(await pgCitations(s)).toEqual(await citedBySteps(s));
    expect(await pgOrphans(s)).toEqual({ ports: 0, emptyBuckets: 0, paths: 0, endedFlows: 0, edges: 0 });
    // The spools were not touched: PostgreSQL's retention is PostgreSQL's alone.
    expect((await ids(s, 'spool')).length + (await ids(other, 'spool')).length).toBe(rows.length);

    // By count across chassis: the newest N by when they were heard (the agents' own: created_at) stay.
    // A packet's passes share their created_at: keep the last three packets whole.
    const times = [...new Set((await s.query.all<{ created_at: string }>('SELECT created_at FROM trace ORDER BY created_at DESC')).map((r) => r.created_at))];
    const newest = (await s.query.all<{ id: number }>('SELECT id FROM trace WHERE created_at >= ? ORDER BY id', times[2])).map((r) => r.id);
    const keep = newest.length;
    const byCount = await centralRound(s.central!.pool, { days: 0, keep }, NOW, { batch: 7 });
    expect(byCount).toMatchObject({ ran: true, traces: young.length - keep });
    expect(await ids(s, 'pg')).toEqual(newest);
    expect(await pgOrphans(s)).toEqual({ ports: 0, emptyBuckets: 0, paths: 0, endedFlows: 0, edges: 0 });
  });
});
