// A session's end against the shipper's session pull (ship-sessions.ts). The pull reads PostgreSQL's
// active sessions, then writes them into the spool muted, except a row whose own change still waits
// in ship_log. That check compared ship_log's key, json_array(id) of the INTEGER column ('[5]'), with
// json_array(?) of the id bound from JS, a REAL in SQLite ('[5.0]'): never equal. An end committed
// while a pull's read was on its way was overwritten by the stale active copy, muted, and the end's
// ship_log entry then shipped that copy: PostgreSQL kept the session active (an api's DELETE answered
// `state: active`, test/support/three-chassis-checks.ts, once in CI; the agents went on tracing).
// The pull's read is held here until the end has committed: the race made certain, on real stores.
import { Client } from 'pg';
import { pullSessions } from '../../src/storage/ship-sessions';
import type { StoreService } from '../../src/storage/store.service';
import { Statements } from '../../src/storage/writer';
import { emptyStats, TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();

function newSession(s: StoreService): Promise<number> {
  return s.writer.submit((tx) =>
    new TraceSessionStore(s).insert(tx, {
      chassis: 'hv1', createdAt: '2026-12-07T00:00:00Z', bridge: 'br-int', filter: null, logicalPort: 'lsp1', maxTraces: null, durationSeconds: null,
      includeExisting: false, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null, stats: emptyStats(), perChassis: {},
    }),
  );
}

describe("a session's end against the shipper's pull (real PostgreSQL)", () => {
  it.each([
    ['an api instance stops a session another made', 'stopped'],
    ['an agent ends a session it carried out', 'completed'],
  ])('%s while a pull is on its way: the end reaches PostgreSQL, the spool keeps it', async (_, state) => {
    const url = await spools.pg().database(`end_pull_${state}`);
    const maker = await spools.storeOn(url);
    const ender = await spools.storeOn(url);
    const id = await newSession(maker);
    await maker.shipper!.synced();
    await ender.shipper!.pullSessions();
    const sessions = new TraceSessionStore(ender);
    const pg = new Client({ connectionString: url });
    await pg.connect();
    try {
      await pullSessions({
        t: { ...ender.central!.tables.find((t) => t.name === 'trace_session')! },
        statements: new Statements(ender.writer.db),
        writer: ender.writer,
        slot: ender.central!.slot,
        // PostgreSQL answers (the session active), then the end commits before the answer is written.
        query: async (text, values) => {
          const answer = await pg.query(text, values);
          expect(await ender.writer.submit((tx) => sessions.end(tx, id, state as 'stopped', '2026-12-07T00:00:01Z'))).toBe(true);
          return answer;
        },
      });
    } finally {
      await pg.end();
    }
    expect(ender.db.prepare('SELECT state FROM trace_session WHERE id = ?').get(id)).toEqual({ state });
    await ender.shipper!.synced();
    expect(await pgRows(url, 'SELECT state, ended_at FROM trace_session WHERE id = $1', [id])).toEqual([{ state, ended_at: '2026-12-07T00:00:01Z' }]);
  });
});
