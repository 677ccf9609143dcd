// PostgreSQL's own retention (LIVETRACE_CENTRAL_RETENTION_*) of the rows no trace takes with it, on a
// real PostgreSQL fed by a real spool: the lifetimes no trace cites (with their edges), upcalls,
// cross-checks and the ingest ledger went from the spools (muted) or never, and PostgreSQL's round
// pruned only traces, so they grew there for good. Now they go by the same limits, as in SQLite, but
// for a live lifetime, one a kept trace cites, one ended within QUIET_MS, and the ledger's events of
// an open lifetime. Each delete statement can be served by an index (the plans with seq scans off).
import { Client } from 'pg';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { CrossCheckStore } from '../../src/cross-checks/cross-check-store';
import type { EventV1 } from '../../src/ingest/event-schema';
import { IngestStore } from '../../src/ingest/ingest-store';
import { writeEvents } from '../../src/ingest/ingest-write';
import { centralRound, TRACE_STATEMENTS } from '../../src/retention/central-retention-store';
import { UNTRACED_STATEMENTS } from '../../src/retention/central-untraced-store';
import type { StoreService } from '../../src/storage/store.service';
import { TraceStore } from '../../src/traces/trace-store';
import { UpcallStore } from '../../src/upcalls/upcall-store';
import { capturedReplies } from '../support/captured-replies';
import { pgRows, tracedUp, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(180_000);

const spools = usePostgresSpools();
const DAY = 86_400_000;
const NOW = Date.now();
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();
const KEY = 'recirc_id(0),in_port(2),eth_type(0x0800),ipv4(frag=no)';
const ufid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** A lifetime as the poller writes one (removedAt null: still installed). */
const lifetime = (s: StoreService, i: number, firstSeen: string, removedAt: string | null) =>
  s.writer.submit((tx) =>
    Number(
      tx
        .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, '0', 'in_port(1)', 'drop', 1, 1, 'poller')`)
        .run(ufid(i), firstSeen, removedAt ?? firstSeen, removedAt).lastInsertRowid,
    ),
  );

/** Events as a producer sends them, heard at `receivedAt` (a translation carries a captured pass). */
const send = (s: StoreService, receivedAt: string, events: Array<Record<string, unknown>>) =>
  s.writer.submit((tx) =>
    writeEvents(
      tx,
      events.map((e, line) => ({ line, event: e as unknown as EventV1, source: 'usdt', chassis: 'hv1', ...(e.type === 'translation' ? { trace: capturedReplies()[0][0] } : {}) })),
      receivedAt,
      { ledger: new IngestStore(), flows: new DatapathFlowStore(s), upcalls: new UpcallStore(s), traces: new TraceStore(s) },
    ),
  );

describe('PostgreSQL’s own retention of the rows no trace takes with it (real PostgreSQL)', () => {
  it('by age: untraced ended lifetimes with their edges, upcalls, cross-checks and ledger entries go; live, cited, recent and open ones stay', async () => {
    const url = await spools.pg().database('central_untraced');
    const s = await spools.storeOn(url);
    const flows = new DatapathFlowStore(s);
    const upcalls = new UpcallStore(s);
    const checks = new CrossCheckStore(s);
    const traces = new TraceStore(s);
    // More than a few batches of 7 of each.
    for (let i = 0; i < 30; i++) {
      const parent = await lifetime(s, 100 + 2 * i, ago(20), ago(19));
      const child = await lifetime(s, 101 + 2 * i, ago(20), ago(19));
      await s.writer.submit((tx) => {
        flows.link(tx, parent, child, '0x1');
        upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: ago(20), heardAt: ago(20), sampled: true });
        checks.insert(tx, { createdAt: ago(20), traceId: 1, pathId: null, sessionId: null, result: 'match', argv: ['ovn-trace'], detail: { result: 'match' } });
      });
    }
    const live = await lifetime(s, 1, ago(20), null);
    const cited = await lifetime(s, 2, ago(20), ago(19));
    const recent = await lifetime(s, 3, ago(2), ago(1));
    const quiet = await lifetime(s, 4, ago(20), new Date(NOW - 60_000).toISOString());
    const trace = await s.writer.submit((tx) =>
      traces.insert(tx, { trace: capturedReplies()[0][0], chassis: 'hv1', createdAt: ago(1), datapathFlowId: cited, pathId: null, portUuids: new Map() }),
    );
    await s.writer.submit((tx) => {
      upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: ago(1), heardAt: ago(1), sampled: true });
      checks.insert(tx, { createdAt: ago(1), traceId: trace, pathId: null, sessionId: null, result: 'match', argv: ['ovn-trace'], detail: { result: 'match' } });
    });
    const old: Array<Record<string, unknown>> = [];
    for (let i = 500; i < 520; i++)
      old.push(
        { type: 'ukey_created', id: `c${i}`, time: ago(20), ufid: ufid(i), key: KEY, actions: 'drop' },
        { type: 'ukey_removed', id: `x${i}`, time: ago(19.9), ufid: ufid(i) },
      );
    old.push({ type: 'ukey_created', id: 'open-c', time: ago(20), ufid: ufid(900), key: KEY, actions: 'drop' });
    await send(s, ago(20), old);
    // The open lifetime's later events go by age (only its producer's first of it answers for it).
    await send(s, ago(15), [{ type: 'ukey_updated', id: 'open-u', time: ago(15), ufid: ufid(900), packets: 9 }]);
    await send(s, ago(1), [{ type: 'upcall', id: 'up-recent', time: ago(1), key: KEY }]);
    await tracedUp(s, url);
    const spoolFlows = (s.db.prepare('SELECT count(*) AS n FROM datapath_flow').get() as { n: number }).n;

    const r = await centralRound(s.central!.pool, { days: 5, keep: 0 }, NOW, { batch: 7 });

    expect(r).toMatchObject({ ran: true, traces: 0, datapathFlows: 80 });
    const col = async (sql: string) => (await pgRows(url, sql)).map((row) => Object.values(row)[0]);
    const openFlow = Number((await col(`SELECT id FROM datapath_flow WHERE ufid = '${ufid(900)}'`))[0]);
    expect((await col('SELECT id FROM datapath_flow ORDER BY id')).map(Number)).toEqual([live, cited, recent, quiet, openFlow]);
    expect(await col('SELECT count(*) FROM recirc_edge')).toEqual(['0']);
    expect(await col('SELECT time FROM upcall ORDER BY id')).toEqual([ago(1), ago(1)]);
    expect(await col('SELECT created_at FROM cross_check')).toEqual([ago(1)]);
    expect(await col('SELECT event_id FROM ingest_event ORDER BY id')).toEqual(['open-c', 'up-recent']);
    // PostgreSQL's alone: the spool keeps its rows.
    expect((s.db.prepare('SELECT count(*) AS n FROM datapath_flow').get() as { n: number }).n).toBe(spoolFlows);
  });

  it('by count: what is older than the oldest trace kept goes, and beyond as many of each as traces are kept', async () => {
    const url = await spools.pg().database('central_untraced_rows');
    const s = await spools.storeOn(url);
    const upcalls = new UpcallStore(s);
    const traces = new TraceStore(s);
    const replies = capturedReplies();
    const older = await lifetime(s, 1, ago(12), ago(11));
    for (let i = 0; i < 3; i++)
      await s.writer.submit((tx) => traces.insert(tx, { trace: replies[i][0], chassis: 'hv1', createdAt: ago(10 - i), datapathFlowId: null, pathId: null, portUuids: new Map() }));
    const young = await lifetime(s, 2, ago(3), ago(2));
    for (const d of [3, 2, 1]) await s.writer.submit((tx) => upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: ago(d), heardAt: ago(d), sampled: true }));
    await tracedUp(s, url);

    const r = await centralRound(s.central!.pool, { days: 0, keep: 2 }, NOW, { batch: 7 });

    expect(r).toMatchObject({ traces: 1, datapathFlows: 1 });
    expect(older).toBeLessThan(young);
    expect((await pgRows(url, 'SELECT id FROM datapath_flow')).map((row) => Number(row.id))).toEqual([young]);
    expect((await pgRows(url, 'SELECT time FROM upcall ORDER BY time')).map((row) => row.time)).toEqual([ago(2), ago(1)]);
  });

  it('by count with fewer traces than the limit: still as many of each as traces are kept, as SQLite keeps them', async () => {
    const url = await spools.pg().database('central_untraced_few_traces');
    const s = await spools.storeOn(url);
    const upcalls = new UpcallStore(s);
    const traces = new TraceStore(s);
    await s.writer.submit((tx) => traces.insert(tx, { trace: capturedReplies()[0][0], chassis: 'hv1', createdAt: ago(1), datapathFlowId: null, pathId: null, portUuids: new Map() }));
    const ended = [];
    for (const d of [6, 5, 4, 3, 2]) {
      ended.push(await lifetime(s, d, ago(d + 1), ago(d)));
      await s.writer.submit((tx) => upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: ago(d), heardAt: ago(d), sampled: true }));
    }
    await tracedUp(s, url);

    // One trace under a limit of 2: no trace goes, but five lifetimes and upcalls are over it.
    const r = await centralRound(s.central!.pool, { days: 0, keep: 2 }, NOW, { batch: 7 });

    expect(r).toMatchObject({ ran: true, traces: 0, datapathFlows: 3 });
    expect((await pgRows(url, 'SELECT id FROM datapath_flow ORDER BY id')).map((row) => Number(row.id))).toEqual(ended.slice(3));
    expect((await pgRows(url, 'SELECT time FROM upcall ORDER BY time')).map((row) => row.time)).toEqual([ago(3), ago(2)]);
  });

  it('keeps an ingested lifetime whose removal was heard within QUIET_MS, though its producer dated it earlier (a clock behind)', async () => {
    const url = await spools.pg().database('central_untraced_heard');
    const s = await spools.storeOn(url);
    const traces = new TraceStore(s);
    await s.writer.submit((tx) => traces.insert(tx, { trace: capturedReplies()[0][0], chassis: 'hv1', createdAt: new Date(NOW).toISOString(), datapathFlowId: null, pathId: null, portUuids: new Map() }));
    const old = await lifetime(s, 1, ago(3), ago(2));
    // Installed and removed, heard a minute ago from a producer whose clock is 10 minutes behind.
    const behind = (ms: number) => new Date(NOW - 60_000 - 10 * 60_000 + ms).toISOString();
    await send(s, new Date(NOW - 60_000).toISOString(), [
      { type: 'ukey_created', id: 'c1', time: behind(-500), ufid: ufid(2), key: KEY, actions: 'drop' },
      { type: 'ukey_removed', id: 'x1', time: behind(0), ufid: ufid(2) },
    ]);
    await tracedUp(s, url);

    const r = await centralRound(s.central!.pool, { days: 0, keep: 1 }, NOW, { batch: 7 });

    expect(r).toMatchObject({ ran: true, datapathFlows: 1 });
    const left = await pgRows(url, 'SELECT id, ufid FROM datapath_flow ORDER BY id');
    expect(left.map((row) => row.ufid)).toEqual([ufid(2)]);
    expect(left.map((row) => Number(row.id))).not.toContain(old);
  });

  it('by age on the agents’ clocks: upcalls, ingested translations and their ledger entries go by when they were heard, not by their producer’s time', async () => {
    const url = await spools.pg().database('central_untraced_clock');
    const s = await spools.storeOn(url);
    // Heard a minute ago from a producer ten days behind; heard twenty days ago from one eighteen days ahead.
    await send(s, ago(20), [
      { type: 'upcall', id: 'up-ahead', time: ago(2), key: KEY },
      { type: 'translation', id: 'tr-ahead', time: ago(2), text: 'x' },
    ]);
    await send(s, new Date(NOW - 60_000).toISOString(), [
      { type: 'upcall', id: 'up-behind', time: ago(10), key: KEY },
      { type: 'translation', id: 'tr-behind', time: ago(10), text: 'x' },
    ]);
    await s.shipper!.synced();

    await centralRound(s.central!.pool, { days: 5, keep: 0 }, NOW, { batch: 7 });

    expect((await pgRows(url, 'SELECT event_id FROM upcall ORDER BY id')).map((row) => row.event_id)).toEqual(['up-behind']);
    expect((await pgRows(url, 'SELECT created_at FROM trace ORDER BY id')).map((row) => row.created_at)).toEqual([ago(10)]);
    expect((await pgRows(url, 'SELECT event_id FROM ingest_event ORDER BY id')).map((row) => row.event_id)).toEqual(['up-behind', 'tr-behind']);
  });

  it('a row limit keeps the upcalls heard since the oldest trace kept was heard, from a producer two days ahead', async () => {
    const url = await spools.pg().database('central_untraced_rows_clock');
    const s = await spools.storeOn(url);
    // By the oldest kept trace's created_at (the producer's clock, two days ahead), every upcall heard
    // since, on the agent's clock, was before it and went.
    for (const k of [3, 2, 1]) {
      const time = new Date(NOW + 2 * DAY - k * 60_000).toISOString();
      await send(s, new Date(NOW - k * 60_000).toISOString(), [
        { type: 'upcall', id: `up-${k}`, time, key: KEY },
        { type: 'translation', id: `tr-${k}`, time, text: 'x' },
      ]);
    }
    await s.shipper!.synced();

    await centralRound(s.central!.pool, { days: 0, keep: 2 }, NOW, { batch: 7 });

    expect((await pgRows(url, 'SELECT heard_at FROM trace ORDER BY heard_at')).map((row) => row.heard_at)).toEqual([new Date(NOW - 120_000).toISOString(), new Date(NOW - 60_000).toISOString()]);
    expect((await pgRows(url, 'SELECT event_id FROM upcall ORDER BY id')).map((row) => row.event_id)).toEqual(['up-2', 'up-1']);
  });

  it('a row limit’s history begins at the earliest heard of the traces kept, not at the one its producer dated oldest', async () => {
    const url = await spools.pg().database('central_untraced_rows_mixed');
    const s = await spools.storeOn(url);
    const traces = new TraceStore(s);
    const upcalls = new UpcallStore(s);
    // Kept, both: a translation heard 3 minutes ago from a producer two days ahead, and the tracer's own
    // trace of a minute ago (the older of the two by created_at, though heard later).
    await send(s, new Date(NOW - 180_000).toISOString(), [
      { type: 'upcall', id: 'up-ahead', time: new Date(NOW + 2 * DAY - 180_000).toISOString(), key: KEY },
      { type: 'translation', id: 'tr-ahead', time: new Date(NOW + 2 * DAY - 180_000).toISOString(), text: 'x' },
    ]);
    const minuteAgo = new Date(NOW - 60_000).toISOString();
    await s.writer.submit((tx) => {
      traces.insert(tx, { trace: capturedReplies()[1][0], chassis: 'hv1', createdAt: minuteAgo, datapathFlowId: null, pathId: null, portUuids: new Map() });
      upcalls.insert(tx, { chassis: 'hv1', source: 'vlog', time: minuteAgo, heardAt: minuteAgo, sampled: true });
    });
    await s.shipper!.synced();

    await centralRound(s.central!.pool, { days: 0, keep: 2 }, NOW, { batch: 7 });

    expect(await pgRows(url, 'SELECT count(*)::int AS n FROM trace')).toEqual([{ n: 2 }]);
    expect((await pgRows(url, 'SELECT event_id FROM upcall ORDER BY id')).map((row) => row.event_id)).toEqual(['up-ahead', null]);
  });

  /** The index each statement walks (the migration PgCentralRetentionUntraced adds those retention alone needs; PgRecordsHeardAt idx_trace_heard). */
  const INDEXES: Record<string, string[]> = {
    flowNewest: ['idx_dpflow_removed'],
    upcallCut: ['idx_upcall_heard'],
    checkCut: ['idx_cross_check_created'],
    ingestCut: ['idx_ingest_event_received'],
    traceNewest: ['idx_trace_heard'],
    rowCut: ['idx_trace_heard'],
    overRows: ['idx_trace_heard'],
    overAge: ['idx_trace_heard'],
    flows: ['idx_dpflow_removed'],
    flowsUncited: ['datapath_flow_pkey', 'idx_trace_dpflow', 'writer_slot_pkey'],
    silentOpen: ['idx_dpflow_open'],
    silentUncited: ['idx_dpflow_open', 'idx_trace_dpflow', 'writer_slot_pkey'],
    edgesOut: ['recirc_edge_pkey'],
    edgesIn: ['idx_recirc_child'],
    flowDelete: ['datapath_flow_pkey'],
    upcalls: ['idx_upcall_heard', 'upcall_pkey'],
    checks: ['cross_check_pkey', 'idx_cross_check_created'],
    ingest: ['idx_dpflow_open', 'idx_ingest_event_received'],
    ingestDelete: ['ingest_event_pkey'],
  };

  it('every statement of the prune walks an index, on a history of 30 days over four slots (its plan)', async () => {
    const url = await spools.pg().database('central_untraced_plans');
    await spools.storeOn(url);
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      // A history of 30 days over four writer slots, as agents ship it; the prune's cut a third of the way in. Half
      // the upcalls and a fifth of the traces heard by an agent (heard_at), the others from before it (NULL).
      const at = (i: string) => `to_char(timestamp '2026-01-01' + (${i} % 30000) * interval '86 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
      const id = `(g % 4) * 2^40 + g`;
      for (const sql of [
        `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source)
           SELECT ${id}, 'hv' || g % 4, md5(g::text), ${at('g')}, ${at('g')}, CASE WHEN g % 50 = 0 THEN NULL ELSE ${at('g + 10')} END, '0', 'in_port(1)', 'drop', 1, 1, 'poller' FROM generate_series(1, 30000) g`,
        `INSERT INTO recirc_edge (parent_id, child_id, recirc_id) SELECT ${id}, (g % 4) * 2^40 + g + 1, '0x1' FROM generate_series(1, 30000, 3) g`,
        `INSERT INTO upcall (id, chassis, source, time, heard_at, sampled) SELECT ${id}, 'hv' || g % 4, 'vlog', ${at('g')}, CASE WHEN g % 2 = 0 THEN ${at('g + 5')} END, 1 FROM generate_series(1, 30000) g`,
        `INSERT INTO cross_check (id, created_at, trace_id, result, command, detail) SELECT ${id}, ${at('g')}, g, 'match', 'ovn-trace', '{}' FROM generate_series(1, 30000) g`,
        `INSERT INTO ingest_event (id, source, event_id, type, time, received_at, chassis, ref_id, body)
           SELECT ${id}, 'usdt', g::text, 'ukey_created', ${at('g')}, ${at('g')}, 'hv1', ${id}, '{}' FROM generate_series(1, 30000) g`,
        `INSERT INTO trace (id, chassis, created_at, heard_at, datapath_flow_id, method, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
           SELECT ${id}, 'hv' || g % 4, ${at('g')}, CASE WHEN g % 5 = 0 THEN ${at('g + 5')} END, CASE WHEN g % 3 = 0 THEN ${id} END, 'trace', '0', '', '', '', '', '', '{}', 0, ''::bytea FROM generate_series(1, 30000) g`,
        'ANALYZE',
        // At 30k rows a hash join over a whole table is as cheap as 500 index probes; at millions it is
        // not: what is checked is that the index is there and fits, the walk the planner takes at scale.
        'SET enable_seqscan = off',
      ])
        await c.query(sql);
      for (const [name, sql, params] of [...UNTRACED_STATEMENTS, ...TRACE_STATEMENTS]) {
        const plan = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params)).rows.map((p) => p['QUERY PLAN']).join('\n');
        const used = [...plan.matchAll(/(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?(?:using|on) (\w+)/g)].map((m) => m[1]);
        expect({ name, seqScan: /Seq Scan/.test(plan), indexes: [...new Set(used)].sort() }).toEqual({ name, seqScan: false, indexes: INDEXES[name] });
      }
      // Each row limit's cut, as the planner picks it (seq scans allowed): it reads the keep newest heard,
      // the one beyond and, through an index on the time alone, those heard at its moment and the next
      // (ids then ordering them), not every row; the ledger's index holds the id too.
      await c.query('RESET enable_seqscan');
      const CUTS: Record<string, [string, number]> = { rowCut: ['idx_trace_heard', 102], upcallCut: ['idx_upcall_heard', 102], checkCut: ['idx_cross_check_created', 102], ingestCut: ['idx_ingest_event_received', 101] };
      for (const [name, sql] of [...UNTRACED_STATEMENTS, ...TRACE_STATEMENTS].filter(([n]) => n in CUTS)) {
        const cut = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) ${sql}`, [100])).rows.map((p) => p['QUERY PLAN']).join('\n');
        expect({ name, scan: /Seq Scan/.test(cut), index: /Index (?:Only )?Scan Backward using (\w+)/.exec(cut)?.[1], read: Number(/Index (?:Only )?Scan.*rows=(\d+)/.exec(cut)?.[1]) }).toEqual({ name, scan: false, index: CUTS[name][0], read: CUTS[name][1] });
      }
      await c.query('SET enable_seqscan = off');
      // A silent slot is walked every round while it stays silent: the walk reads its open lifetimes, not
      // every row of its range (through the primary key, all 7,500 of the slot's, ended ones included; 300 open).
      const [, silentOpen] = UNTRACED_STATEMENTS.find(([name]) => name === 'silentOpen')!;
      const walk = (await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF) ${silentOpen}`, [2 * 2 ** 40, 3 * 2 ** 40, '9999', 100_000])).rows.map((p) => p['QUERY PLAN']).join('\n');
      const read = Number(/Index Scan.*rows=(\d+)/.exec(walk)?.[1]) + Number(/Rows Removed by Filter: (\d+)/.exec(walk)?.[1] ?? 0);
      const open = Number((await c.query<{ n: string }>(`SELECT COUNT(*) AS n FROM datapath_flow WHERE id > $1 AND id < $2 AND removed_at IS NULL`, [2 * 2 ** 40, 3 * 2 ** 40])).rows[0].n);
      expect({ open, read }).toEqual({ open: 300, read: 300 });
    } finally {
      await c.end();
    }
  });
});
