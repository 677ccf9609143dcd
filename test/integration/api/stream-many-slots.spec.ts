// GET /traces/stream over HTTP on the real store (SQLite holding traces in 1,250 writer slots, as a
// PostgreSQL of that many agents does: ids slot·2^40 + n), disconnected and resumed by its own last
// id, as the page's live view and the CLI's follow do. The id listed one trace id a slot: past
// 1,024 slots a reconnect got 400 (past ~1,100, Node's 16 KB header limit), so the follow broke
// exactly where the deployment is large. Every trace written after the disconnect must come: in
// slots that sent just before it, in slots quiet then, and in a slot with no trace until then.
import { StoreService } from '../../../src/storage/store.service';
import { MAX_RESUME_SLOTS } from '../../../src/traces/stream-position';
import { slotBase } from '../../../src/traces/trace-slot-store';
import { TraceStore } from '../../../src/traces/trace-store';
import { STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import { useDaemonlessApp } from '../../support/app';
import { capturedPasses } from '../../support/captured-passes';
import { readSse, SseTrace } from '../../support/sse';
import { waitFor } from '../../support/wait';

jest.setTimeout(180_000);

/** Slots that send while the stream is open, slots quiet then, and one whose first trace comes after the disconnect. */
const BUSY = Array.from({ length: 1100 }, (_, i) => i);
const QUIET = Array.from({ length: 150 }, (_, i) => 1100 + i);
const NEW_SLOT = 1300;

describe('GET /traces/stream resumed by its own id with more writer slots than a Last-Event-ID could list', () => {
  let store: StoreService;
  const next = new Map<number, number>();
  let template: number;

  beforeAll(() => {
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 20, heartbeatMs: 60_000 };
  });
  const t = useDaemonlessApp();
  beforeAll(async () => {
    store = t.app.get(StoreService);
    const traces = t.app.get(TraceStore);
    const { pass } = capturedPasses()[0];
    template = await store.writer.submit((tx) => traces.insert(tx, { trace: pass, chassis: 'hv0', createdAt: new Date(Date.now() - 7_200_000).toISOString(), portUuids: new Map() }));
    next.set(0, template);
  });

  afterAll(() => {
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  /**
   * One trace in each of `slots`, traced at `at` (its id the slot's next), a copy of a captured pass
   * stored through TraceStore (`template`): AUTOINCREMENT gives an id above every other, so a lower
   * slot's next id is written as the row's own, as a shipper's copy into PostgreSQL does.
   */
  async function commit(slots: readonly number[], at = Date.now()): Promise<number[]> {
    return store.writer.submit((tx) => {
      const cols = (tx.stmt(`SELECT name FROM pragma_table_info('trace')`).all() as Array<{ name: string }>).map((c) => c.name).filter((c) => !['id', 'chassis', 'created_at'].includes(c));
      const copy = tx.stmt(`INSERT INTO trace (id, chassis, created_at, ${cols.join(', ')}) SELECT ?, ?, ?, ${cols.join(', ')} FROM trace WHERE id = ?`);
      return slots.map((slot) => {
        const id = (next.get(slot) ?? slotBase(slot)) + 1;
        next.set(slot, id);
        copy.run(id, `hv${slot}`, new Date(at).toISOString(), template);
        return id;
      });
    });
  }

  async function open(lastEventId?: string) {
    const ac = new AbortController();
    const res = await fetch(`${t.base}/traces/stream`, { signal: ac.signal, headers: lastEventId ? { 'Last-Event-ID': lastEventId } : {} });
    const body = res.status === 200 ? undefined : await res.text();
    expect({ status: res.status, body }).toEqual({ status: 200, body: undefined });
    const s = readSse<SseTrace<{ id: number }>['trace']>(res);
    await waitFor('the stream to start', () => s.comments.some((c) => c.startsWith('after trace')));
    return { ...s, close: async () => (ac.abort(), await s.done) };
  }

  it('every trace written after the disconnect comes on the resume, none from before the stream', async () => {
    expect(BUSY.length).toBeGreaterThan(MAX_RESUME_SLOTS);
    // History, an hour old: every slot but the new one holds traces when the stream starts.
    const history = [template, ...(await commit([...BUSY, ...QUIET], Date.now() - 3_600_000))];
    const live = await open();
    const sent = await commit(BUSY);
    await waitFor('every busy slot\'s trace on the live stream', () => sent.every((id) => live.items.some((t) => t.id === id)), 60_000);
    const position = live.events[live.events.length - 1].id;
    await live.close();

    const after = await commit([...BUSY.filter((s) => s % 7 === 0), ...QUIET, NEW_SLOT]);
    const resumed = await open(position);
    await waitFor('every trace written after the disconnect on the resumed stream', () => after.every((id) => resumed.items.some((t) => t.id === id)), 60_000);
    await resumed.close();
    const got = new Set(resumed.items.map((t) => t.id));
    // Some sent again within the anchor's window is allowed; a trace from before the stream is not.
    expect(history.filter((id) => got.has(id))).toEqual([]);
    expect([...got].every((id) => after.includes(id) || sent.includes(id))).toBe(true);
    // Bounded: a header any HTTP server takes (the anchored form: most slots resumed from its time).
    expect(position).toMatch(/^t\d+,/);
    expect(position.length).toBeLessThan(4096);
  });
});
