// Session ids across writers: the active sessions are copied into every spool with their creator's
// ids (shipper.ts pullSessions). SQLite gives an AUTOINCREMENT row max(sqlite_sequence, MAX(id)) + 1,
// so a spool holding a higher slot's session gave its own next session that slot's next id: two api
// instances (or LIVETRACE_ROLE=all processes) then made two sessions under one id, and PostgreSQL kept
// the one shipped last: the other, acknowledged to its client, was gone. A spool's new session
// takes an id of its own slot (spool.ts nextOwnId).
import { SLOT_BITS } from '../../src/storage/spool';
import type { StoreService } from '../../src/storage/store.service';
import { emptyStats, TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { pgRows, usePostgresSpools } from '../support/spool-stores';

jest.setTimeout(120_000);

const spools = usePostgresSpools();
const { storeOn } = spools;

const slotOf = (id: number) => Math.floor(id / 2 ** SLOT_BITS);

/** A new active session made the way the service makes it (TraceSessionStore.insert). */
function newSession(s: StoreService, filter: string): Promise<number> {
  return s.writer.submit((tx) =>
    new TraceSessionStore(s).insert(tx, {
      chassis: 'hv1', createdAt: '2026-12-05T00:00:00Z', bridge: 'br-int', filter, logicalPort: null, maxTraces: null, durationSeconds: null,
      includeExisting: false, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null, stats: emptyStats(), perChassis: {},
    }),
  );
}

describe('session ids across writers (real PostgreSQL)', () => {
  it('a session made after a higher slot’s session was copied in takes an id of its own slot; two writers’ sessions never share an id', async () => {
    const url = await spools.pg().database('session_ids');
    const [low, high] = [await storeOn(url), await storeOn(url)];
    expect(low.central!.slot).toBeLessThan(high.central!.slot);
    const h1 = await newSession(high, 'tcp,tp_dst=1');
    await high.shipper!.synced();
    await low.shipper!.pullSessions();
    const l1 = await newSession(low, 'tcp,tp_dst=2');
    const h2 = await newSession(high, 'tcp,tp_dst=3');
    const l2 = await newSession(low, 'tcp,tp_dst=4');
    await low.shipper!.synced();
    await high.shipper!.synced();
    expect([h1, l1, h2, l2].map(slotOf)).toEqual([high.central!.slot, low.central!.slot, high.central!.slot, low.central!.slot]);
    expect(l2).toBe(l1 + 1);
    expect(h2).toBe(h1 + 1);
    expect((await pgRows(url, 'SELECT filter FROM trace_session ORDER BY filter')).map((r) => r.filter)).toEqual(['tcp,tp_dst=1', 'tcp,tp_dst=2', 'tcp,tp_dst=3', 'tcp,tp_dst=4']);
  });

  it('a store without a writer slot (plain SQLite) numbers its sessions as before', async () => {
    const url = await spools.pg().database('session_ids_plain');
    const s = await storeOn(url);
    // No slot in meta: SQLite's AUTOINCREMENT decides, as in a store of its own.
    s.writer.db.prepare(`DELETE FROM meta WHERE key = 'writer_slot'`).run();
    const a = await newSession(s, 'a');
    const b = await newSession(s, 'b');
    expect(b).toBe(a + 1);
    expect(slotOf(a)).toBe(s.central!.slot);
  });
});
