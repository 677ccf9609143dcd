// The shipper against values PostgreSQL cannot hold as the spool does (review of issue 19's faults).
// SQLite's text holds U+0000; PostgreSQL's cannot ("invalid byte sequence for encoding UTF8: 0x00").
// One such value (an ingested event's id: POST /ingest/events checks only the length of most of its
// strings) failed its batch at every retry, so nothing written after it ever reached PostgreSQL: the
// backlog only grew until the spool was full. It now goes as U+FFFD, by range (COPY), by key
// (upsert) and in a key that is deleted.
import { SLOT_BITS } from '../../src/storage/spool';
import { newSpool, pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const newPath = `INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES ('hv1', '2026-12-05T00:00:00Z', 'u0', '{}')`;
const ingest = `INSERT INTO ingest_event (source, event_id, type, time, received_at, chassis, body) VALUES ('p', ?, 'upcall', 't', 't', 'hv1', '{}')`;
const alias = `INSERT INTO logical_port_alias (uuid, port_name) VALUES (?, ?)`;

describe('the shipper and a value PostgreSQL cannot hold (real PostgreSQL)', () => {
  it('a NUL in a text value does not stop the spool from shipping: it arrives as U+FFFD, everything after it arrives', async () => {
    const url = await spools.pg().database('ship_nul');
    const s = await storeOn(url, newSpool());
    await s.shipper!.stop();
    const base = s.central!.slot * 2 ** SLOT_BITS;
    const drain = async () => {
      for (let i = 0; i < 10; i++) if ((await s.shipper!.shipSome()) === 0) return;
    };
    // By range (binary COPY) and by key (logged: logical_port_alias has no id of the writer's).
    const ev = await s.writer.submit((tx) => {
      tx.stmt(alias).run('u-1', 'lsp\u0000a');
      tx.stmt(alias).run('u-2', 'lsp-b');
      return Number(tx.stmt(ingest).run('evt\u0000one').lastInsertRowid);
    });
    const ids = await s.writer.submit((tx) => [1, 2, 3].map(() => Number(tx.stmt(newPath).run().lastInsertRowid)));
    expect(ids[0]).toBeGreaterThan(base);
    await drain();
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path')).toEqual([{ n: 3 }]);
    expect(await pgRows(url, 'SELECT event_id FROM ingest_event')).toEqual([{ event_id: 'evt\uFFFDone' }]);
    expect(await pgRows(url, 'SELECT uuid, port_name FROM logical_port_alias ORDER BY uuid')).toEqual([
      { uuid: 'u-1', port_name: 'lsp\uFFFDa' },
      { uuid: 'u-2', port_name: 'lsp-b' },
    ]);
    // Changed after it was shipped (an upsert by key), and a key holding a NUL deleted.
    await s.writer.submit((tx) => {
      tx.stmt(`UPDATE ingest_event SET body = ? WHERE id = ?`).run('{"x":"\u0000"}', ev);
      tx.stmt(`DELETE FROM logical_port_alias WHERE uuid = 'u-1'`).run();
      tx.stmt(newPath).run();
    });
    await drain();
    expect(await pgRows(url, 'SELECT body FROM ingest_event')).toEqual([{ body: '{"x":"\uFFFD"}' }]);
    expect(await pgRows(url, 'SELECT uuid FROM logical_port_alias')).toEqual([{ uuid: 'u-2' }]);
    expect(await pgRows(url, 'SELECT COUNT(*)::int AS n FROM path')).toEqual([{ n: 4 }]);
    expect(s.shipper!.state.backlog).toBe(0);
    expect(s.shipper!.state.lastError).toBeNull();
  });
});
