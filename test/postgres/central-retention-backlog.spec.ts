// PostgreSQL's own retention (LIVETRACE_CENTRAL_RETENTION_*) and an agent's spool backlog. After an
// outage the shipper sends each table's rows by its own ranges (LIVETRACE_SHIP_BATCH ids a table a
// batch), so a spool holding more traces than lifetimes has its lifetimes in PostgreSQL batches before
// the traces that cite them. A round between those batches took such a lifetime for one no trace cites
// (ended, over the row limit's cut) and deleted it; the citing trace, shipped next, is among the newest
// kept and pointed at a lifetime PostgreSQL no longer has, for good. Real shipper, real PostgreSQL
// stopped while the agent traced, batches stepped by hand between the round and the rest.
import { centralRound } from '../../src/retention/central-retention-store';
import { SLOT_BITS } from '../../src/storage/spool';
import { TraceStore } from '../../src/traces/trace-store';
import { capturedReplies } from '../support/captured-replies';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(180_000);

const spools = usePostgresSpools();
const MIN = 60_000;
const NOW = Date.now();
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe('PostgreSQL retention with a spool backlog (real shipper, real PostgreSQL)', () => {
  it('a lifetime shipped ahead of the trace that cites it is not pruned as untraced before that trace arrives', async () => {
    const url = await spools.pg().database('central_backlog');
    const s = await spools.storeOn(url, undefined, { LIVETRACE_SHIP_BATCH: '2', LIVETRACE_CENTRAL_RETENTION_ROWS: '3' });
    await s.shipper!.stop(); // its batches are stepped by hand below
    const traces = new TraceStore(s);
    const lifetime = (i: number, firstSeen: string, removedAt: string) =>
      s.writer.submit((tx) =>
        Number(
          tx
            .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source) VALUES ('hv1', ?, ?, ?, ?, '0', 'in_port(1)', 'drop', 1, 1, 'poller')`)
            .run(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, firstSeen, removedAt, removedAt).lastInsertRowid,
        ),
      );
    const trace = (createdAt: string, datapathFlowId: number | null) =>
      s.writer.submit((tx) => traces.insert(tx, { trace: capturedReplies()[0][0], chassis: 'hv1', createdAt, datapathFlowId, pathId: null, portUuids: new Map() }));

    // PostgreSQL away while the agent goes on: a flow traced while installed (L, ended an hour ago),
    // the poller's other lifetimes, and more traces than lifetimes (on-demand ones, older).
    spools.pg().stopServer();
    let cited: number;
    let citing: number;
    try {
      cited = await lifetime(0, ago(120 * MIN), ago(60 * MIN));
      for (let i = 1; i < 8; i++) await lifetime(i, ago(40 * MIN), ago(30 * MIN));
      for (let i = 0; i < 11; i++) await trace(ago((180 - i) * MIN), null);
      citing = await trace(ago(70 * MIN), cited); // the newest trace: kept by a row limit of 3
    } finally {
      spools.pg().startServer();
    }
    expect(cited - s.central!.slot * 2 ** SLOT_BITS).toBe(1);

    // PostgreSQL back: the lifetimes' 4 batches of 2 go out before the traces' 6; a round runs in between.
    for (let i = 0; i < 4; i++) await s.shipper!.shipSome();
    const has = async (table: string, id: number) => (await pgRows(url, `SELECT 1 FROM ${table} WHERE id = $1`, [id])).length > 0;
    expect([await has('datapath_flow', cited), await has('trace', citing)]).toEqual([true, false]);
    await centralRound(s.central!.pool, { days: 0, keep: 3 }, NOW);
    while ((await s.shipper!.shipSome()) > 0);
    await centralRound(s.central!.pool, { days: 0, keep: 3 }, NOW);

    // The citing trace is among the 3 kept, and so is the lifetime it cites.
    expect(await has('trace', citing)).toBe(true);
    expect(await has('datapath_flow', cited)).toBe(true);
  });
});
