// The cost of GET /traces/stream's SSE ids with many writer slots: each event's id was positionOf
// over every slot the stream knows (two sorts of them), so a catch-up of 16 slots × 500 traces with
// thousands of slots held the event loop for seconds. The slots listed and the anchor are chosen
// once a poll; an event's id then reads the listed slots alone. Counted here as the full passes
// over the slots the service asks stream-position.ts for, not timed.
import { FakeResponse } from '../../support/fake-sse-response';

jest.mock('../../../src/traces/stream-position', () => {
  const actual = jest.requireActual('../../../src/traces/stream-position');
  // The full passes: positionOf (one id) and, once it exists, positionsOf (a poll's ids).
  return { ...actual, positionOf: jest.fn(actual.positionOf), ...(actual.positionsOf ? { positionsOf: jest.fn(actual.positionsOf) } : {}) };
});

// After the mock: the service imports the wrapped functions.
import * as position from '../../../src/traces/stream-position';
import { STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import type { TracesService } from '../../../src/traces/traces.service';

const SLOT = 2 ** 40;
const settle = (ms = 200) => new Promise((r) => setTimeout(r, ms));

describe('a stream over many writer slots', () => {
  afterEach(() => {
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  it('chooses the slots its ids list once a poll, not at each event', async () => {
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10, heartbeatMs: 60_000 };
    const at = new Map<number, string>();
    const commit = (id: number) => at.set(id, new Date().toISOString());
    // 2,000 slots holding traces: the position is anchored.
    for (let slot = 0; slot < 2000; slot++) commit(slot * SLOT + 1);
    const list = {
      listJson: async (f: { cursor?: number; above?: number; limit: number }) => {
        const ids = [...at.keys()].filter((id) => (f.cursor === undefined || id < f.cursor) && (f.above === undefined || id > f.above)).sort((a, b) => b - a);
        const items = ids.slice(0, f.limit).map((id) => ({ id, createdAt: at.get(id), chassis: 'hv1', verdict: { kinds: ['output'] } }));
        return Buffer.from(JSON.stringify({ items, next: ids.length > f.limit ? 'more' : null }));
      },
    };
    const newestPerSlot = async () => {
      const m = new Map<number, number>();
      for (const id of at.keys()) m.set(Math.floor(id / SLOT), Math.max(id, m.get(Math.floor(id / SLOT)) ?? 0));
      return m;
    };
    const service = new TraceStreamService(list as unknown as TracesService, { newestPerSlot });
    const res = new FakeResponse();
    try {
      await service.start({}, undefined, res as never);
      await settle();
      // One slot commits 300 traces at once: one poll sends them.
      for (let n = 2; n < 302; n++) commit(5 * SLOT + n);
      await settle();
      expect(res.ids()).toHaveLength(300);
      expect(res.positions().at(-1)).toMatch(/^t\d+,/);
      const passes = [position.positionOf, (position as Record<string, unknown>).positionsOf].reduce((n: number, f) => n + ((f as jest.Mock | undefined)?.mock.calls.length ?? 0), 0);
      // The stream's first line, and the poll that sent (a re-walk within the reorder window sends nothing).
      expect(passes).toBeLessThanOrEqual(3);
    } finally {
      service.beforeApplicationShutdown();
    }
  });
});
