// GET /datapath-flows?logical_port= on SQLite for a port in most traces (a router or localnet port of
// a busy network): its page comes from the newest flows, each checked, not from every trace of the
// port (SQLite plans the list's `id IN (the port's traces' flows)` once for any port: 200–570 ms a page
// for a port in every trace of 150k; bench/api/RESULTS-postgres.md "stop 26: hot-port plans"). The
// answers are the same as that statement's, page by page, for busy, busy-long-ago, mid and rare ports.
import { DatapathFlowStore } from '../../../src/datapath-flows/datapath-flow-store';
import { BUSY_PORT_ROWS, BUSY_WALK_FLOWS, BUSY_WALK_TRACES } from '../../../src/datapath-flows/busy-port-store';
import { SqliteReader } from '../../../src/storage/sql';
import { closeMigratedSqlite, MigratedSqlite, openMigratedSqlite } from '../../support/migrated-sqlite';

const FLOWS = BUSY_WALK_FLOWS + 3000;
const T0 = Date.parse('2026-12-05T03:00:00.000Z');
let lite: MigratedSqlite;

beforeAll(async () => {
  lite = await openMigratedSqlite('livetrace-busy-port-', { writer: false });
  const db = lite.db;
  const flow = db.prepare(
    `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, ?, '0x0', 'in_port(1)', 'drop', 1, 98, 'poller')`,
  );
  const trace = db.prepare(
    `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
     VALUES (?, 'hv1', ?, ?, 'trace', 'br-int', '0x0', '', '', '', 'drop', ',drop,', '{}', 0, X'')`,
  );
  const port = db.prepare(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, ?, ?, 'pass', ?)`);
  db.transaction(() => {
    for (let x = 1; x <= FLOWS; x++) {
      const at = new Date(T0 + x * 1000).toISOString();
      flow.run(x, `ufid-${x}`, at, at, x % 3 === 0 ? at : null);
      // Two traces of each flow from 1,000 on, the second a long-lived flow's later pass.
      trace.run(x, at, x);
      if (x > 1000) trace.run(FLOWS + x, at, x - 1000);
      port.run(x, 'hot', 'inport', at); // every trace of its own flow
      if (x <= BUSY_PORT_ROWS * 2) port.run(x, 'old', 'outport', at); // busy, long ago
      if (x % 10 === 3) port.run(x, 'm3', 'outport', at); // a tenth: not busy (under BUSY_PORT_ROWS)
      if (x % 997 === 7) port.run(x, 'p7', 'outport', at);
      if (x > 1000 && x % 2 === 0) port.run(FLOWS + x, 'later', 'outport', at); // on the later passes
    }
  })();
});

afterAll(async () => {
  if (lite) await closeMigratedSqlite(lite);
});

/** What the list's own statement answers: every flow with a trace on the port, newest first. */
function expected(port: string, f: { state?: 'live' | 'removed'; cursor?: number }, limit: number): number[] {
  const where = [`id IN (SELECT t.datapath_flow_id FROM trace t JOIN trace_port p ON p.trace_id = t.id WHERE p.port_name = ?)`];
  if (f.state === 'live') where.push('removed_at IS NULL');
  if (f.state === 'removed') where.push('removed_at IS NOT NULL');
  if (f.cursor) where.push(`id < ${f.cursor}`);
  return (lite.db.prepare(`SELECT id FROM datapath_flow WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`).all(port, limit + 1) as Array<{ id: number }>).map((r) => r.id);
}

it.each(['hot', 'old', 'm3', 'p7', 'later', 'nowhere'])('port %s: every page as the list statement answers it', async (port) => {
  const store = new DatapathFlowStore({ db: lite.db });
  for (const state of [undefined, 'live', 'removed'] as const) {
    let cursor: number | undefined;
    for (let page = 0; page < 4; page++) {
      const got = (await store.list({ tracedOnPort: port, state, cursor, limit: 50 })).map((r) => r.id);
      expect(got).toEqual(expected(port, { state, cursor }, 50));
      if (got.length < 51) break;
      cursor = got[49];
    }
  }
});

it("a busy port's page does not read its every trace", async () => {
  const sent: string[] = [];
  const reader = new SqliteReader(lite.db);
  const recording = Object.assign(Object.create(reader) as SqliteReader, {
    all: (sql: string, ...params: unknown[]) => (sent.push(sql), reader.all(sql, ...params)),
  });
  const store = new DatapathFlowStore({ db: lite.db, query: recording });
  expect((await store.list({ tracedOnPort: 'hot', limit: 50 })).map((r) => r.id)).toEqual(expected('hot', {}, 50));
  expect(sent.filter((s) => s.includes('id IN (SELECT t.datapath_flow_id'))).toEqual([]);
});

// The look's cost is the traces it checks, not the flows: the newest flows of a busy network are
// long-lived ones traced on many passes. A port busy only long ago (its rows on older flows) behind
// 5,000 flows of 30 traces each made the look check 150,000 traces before the statement answered
// (80-130 ms a page against the statement's 0.7 ms, for the same rows). So it gives up after
// BUSY_WALK_TRACES traces, and the list's statement answers; the page is the statement's either way.
describe('flows traced on many passes', () => {
  let many: MigratedSqlite;
  const PASSES = 30;
  beforeAll(async () => {
    many = await openMigratedSqlite('livetrace-busy-port-passes-', { writer: false });
    const db = many.db;
    const flow = db.prepare(
      `INSERT INTO datapath_flow (id, chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES (?, 'hv1', ?, ?, ?, '0x0', 'in_port(1)', 'drop', 1, 98, 'poller')`,
    );
    const trace = db.prepare(
      `INSERT INTO trace (id, chassis, created_at, datapath_flow_id, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions, verdict_kinds, verdict, step_count, steps)
       VALUES (?, 'hv1', ?, ?, 'trace', 'br-int', '0x0', '', '', '', 'drop', ',drop,', '{}', 0, X'')`,
    );
    const port = db.prepare(`INSERT INTO trace_port (trace_id, port_name, role, scope, created_at) VALUES (?, ?, 'inport', 'pass', ?)`);
    let id = 0;
    db.transaction(() => {
      // Flows of one pass each, then the newest ones, each traced on PASSES passes; 'rtr' in every
      // trace, 'lsp' on one flow in 90 of the newest (busy: BUSY_PORT_ROWS rows and more).
      const older = BUSY_PORT_ROWS + 100;
      for (let x = 1; x <= older + BUSY_WALK_FLOWS; x++) {
        const at = new Date(T0 + x * 1000).toISOString();
        flow.run(x, `ufid-${x}`, at, at);
        for (let k = 0; k < (x > older ? PASSES : 1); k++) {
          trace.run(++id, at, x);
          port.run(id, 'rtr', at);
          if (x > older && x % 90 === 0) port.run(id, 'lsp', at);
        }
      }
    })();
  });
  afterAll(async () => {
    if (many) await closeMigratedSqlite(many);
  });

  it('gives the look up after BUSY_WALK_TRACES traces checked, and the page is the statement\'s', async () => {
    const sent: string[] = [];
    const reader = new SqliteReader(many.db);
    const recording = Object.assign(Object.create(reader) as SqliteReader, {
      all: (sql: string, ...params: unknown[]) => (sent.push(sql), reader.all(sql, ...params)),
    });
    const store = new DatapathFlowStore({ db: many.db, query: recording });
    const page = (await store.list({ tracedOnPort: 'lsp', limit: 50 })).map((r) => r.id);
    // 51 flows 90 apart: within the newest BUSY_WALK_FLOWS flows, but ~137,000 traces from the newest.
    const top = BUSY_PORT_ROWS + 100 + BUSY_WALK_FLOWS;
    const lsp = Array.from({ length: 51 }, (_, i) => top - (top % 90) - 90 * i);
    expect(top - lsp[50]).toBeLessThan(BUSY_WALK_FLOWS);
    expect((top - lsp[50]) * PASSES).toBeGreaterThan(BUSY_WALK_TRACES);
    expect(page).toEqual(lsp);
    expect(sent.filter((s) => s.includes('id IN (SELECT t.datapath_flow_id'))).toHaveLength(1);
    // 'rtr', in every trace: the look's first flows answer (no statement).
    sent.length = 0;
    expect((await store.list({ tracedOnPort: 'rtr', limit: 50 })).map((r) => r.id)).toEqual(Array.from({ length: 51 }, (_, i) => top - i));
    expect(sent.filter((s) => s.includes('id IN (SELECT t.datapath_flow_id'))).toEqual([]);
  });
});
