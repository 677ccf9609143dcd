// The stream's tailing logic against a store whose commits become visible out of id order, as they
// can with several writers on PostgreSQL (issue 19) and never with SQLite's one writer: so this is
// the one place a fake store stands in. The real stream runs on a sandbox in test/browser.
import { EventEmitter } from 'node:events';
import { STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import type { TracesService } from '../../../src/traces/traces.service';

/** The list query of GET /traces over an in-memory set of visible ids (newest first, cursor = below). */
function fakeTraces(visible: Set<number>): TracesService {
  return {
    listJson: async (f: { cursor?: number; limit: number; verdict?: string }) => {
      const ids = [...visible].filter((id) => (f.cursor ? id < f.cursor : true) && (!f.verdict || id % 2 === 0)).sort((a, b) => b - a);
      const items = ids.slice(0, f.limit).map((id) => ({ id, verdict: { kinds: [id % 2 === 0 ? 'drop' : 'output'] } }));
      return Buffer.from(JSON.stringify({ items, next: ids.length > f.limit ? 'more' : null }));
    },
  } as unknown as TracesService;
}

class FakeResponse extends EventEmitter {
  out = '';
  destroyed = false;
  writableNeedDrain = false;
  status() {
    return this;
  }
  setHeader() {}
  flushHeaders() {}
  write(s: string) {
    this.out += s;
    return true;
  }
  end() {
    this.destroyed = true;
  }
  ids(): number[] {
    return [...this.out.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  }
}

const settle = (ms = 120) => new Promise((r) => setTimeout(r, ms));

describe('the trace stream tailing', () => {
  const visible = new Set<number>();
  let service: TraceStreamService;

  beforeEach(() => {
    visible.clear();
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 10, heartbeatMs: 60_000, reorderMs: 2000, maxCatchUp: 5 };
    service = new TraceStreamService(fakeTraces(visible));
  });

  afterEach(() => {
    service.beforeApplicationShutdown();
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  it('sends a trace committed late with a lower id, once, and every other trace once', async () => {
    for (const id of [1, 2, 3]) visible.add(id);
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    visible.add(5);
    await settle();
    visible.add(4); // id 4 becomes visible after id 5
    await settle();
    visible.add(6);
    await settle();
    expect(res.ids()).toEqual([5, 4, 6]);
  });

  it('resumes after Last-Event-ID with the filter, and says so when more were missed than it sends', async () => {
    for (let id = 1; id <= 20; id++) visible.add(id);
    const res = new FakeResponse();
    await service.start({ verdict: 'drop' }, 4, res as any);
    await settle();
    // 6..20 even: 8 traces, 5 sent (the newest), a gap event first.
    expect(res.ids()).toEqual([12, 14, 16, 18, 20]);
    expect(res.out).toMatch(/event: gap\ndata: \{"after":4,"before":12,/);
  });

  it('sends nothing to a client that does not read, then catches up when it drains', async () => {
    visible.add(1);
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    res.writableNeedDrain = true;
    visible.add(2);
    await settle();
    expect(res.ids()).toEqual([]);
    res.writableNeedDrain = false;
    await settle();
    expect(res.ids()).toEqual([2]);
  });

  it('stops polling for a client that went away', async () => {
    const res = new FakeResponse();
    await service.start({}, undefined, res as any);
    expect(service.open).toBe(1);
    res.emit('close');
    expect(service.open).toBe(0);
  });
});
