// GET /traces/stream over real sockets, with the clients a deployment meets: one that stops
// reading (a suspended browser tab, a CLI piped into a stopped pager), one that goes away in the
// middle of an event, and many at once. The server writes a stream's traces only while the socket
// takes them, so what it holds for a client is one poll's events at most; a client that never
// reads again was kept for good, holding one of the maxStreams places (32 such and no one else
// could follow traces) and a heartbeat appended to its buffer every 15 s.
import { connect, type Socket } from 'node:net';
import { StoreService } from '../../../src/storage/store.service';
import { TraceStore } from '../../../src/traces/trace-store';
import { STREAM_DEFAULTS, TraceStreamService } from '../../../src/traces/trace-stream.service';
import { useDaemonlessApp } from '../../support/app';
import { capturedPasses } from '../../support/captured-passes';
import { readSse } from '../../support/sse';
import { waitFor } from '../../support/wait';

jest.setTimeout(180_000);

/** The events of a raw stream's bytes: complete ones only (a cut last one is no event, as EventSource has it). */
function events(raw: string): Array<{ event?: string; id?: string; data?: string }> {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const blocks = body.split('\n\n');
  blocks.pop();
  return blocks.map((b) => ({
    event: /^event: (.*)$/m.exec(b)?.[1],
    id: /^id: (.*)$/m.exec(b)?.[1],
    data: /^data: (.*)$/m.exec(b)?.[1],
  }));
}

describe('GET /traces/stream with slow, vanishing and many clients', () => {
  let store: StoreService;
  let streams: TraceStreamService;
  let template: number;

  beforeAll(() => {
    // maxCatchUp past what a test commits: a resume sends every trace missed, no gap.
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 20, heartbeatMs: 100, stallMs: 1000, maxCatchUp: 100_000 };
  });
  const t = useDaemonlessApp();
  beforeAll(async () => {
    store = t.app.get(StoreService);
    streams = t.app.get(TraceStreamService);
    const { pass } = capturedPasses()[0];
    template = await store.writer.submit((tx) => t.app.get(TraceStore).insert(tx, { trace: pass, chassis: 'hv0', createdAt: new Date().toISOString(), portUuids: new Map() }));
  });
  afterAll(() => {
    TraceStreamService.options = STREAM_DEFAULTS;
  });
  // A test that failed leaves no stream open for the next.
  const sockets: Socket[] = [];
  afterEach(async () => {
    TraceStreamService.options = { ...TraceStreamService.options, stallMs: 1000 };
    for (const s of sockets.splice(0)) s.destroy();
    await waitFor('every stream closed', () => streams.open === 0);
  });

  /** `n` copies of the stored pass, committed at once; their ids. */
  function commit(n: number): Promise<number[]> {
    return store.writer.submit((tx) => {
      const cols = (tx.stmt(`SELECT name FROM pragma_table_info('trace')`).all() as Array<{ name: string }>).map((c) => c.name).filter((c) => !['id', 'created_at'].includes(c));
      const copy = tx.stmt(`INSERT INTO trace (created_at, ${cols.join(', ')}) SELECT ?, ${cols.join(', ')} FROM trace WHERE id = ?`);
      return Array.from({ length: n }, () => Number(copy.run(new Date().toISOString(), template).lastInsertRowid));
    });
  }

  /**
   * Traces committed until the server holds events a paused client has not read (the kernel's
   * buffers, a few MB on loopback, full): then it writes that stream nothing more. Their ids.
   */
  async function commitUntilHeld(): Promise<number[]> {
    const sent: number[] = [];
    const held = () => [...(streams as unknown as { streams: Set<{ res: { writableNeedDrain: boolean } }> }).streams].some((s) => s.res.writableNeedDrain);
    await waitFor('the server to hold events the client has not read', async () => (sent.push(...(await commit(400))), held()), 120_000);
    return sent;
  }

  /** A stream on a raw socket: its bytes as they come, once it started (the stream's first comment read). */
  async function rawStream(): Promise<{ socket: Socket; raw: () => string; closed: Promise<void> }> {
    const { port } = new URL(t.base);
    const socket = connect(Number(port), '127.0.0.1');
    sockets.push(socket);
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.write('GET /traces/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    await waitFor('the stream to start', () => /: after trace \d+\n\n/.test(raw));
    return { socket, raw: () => raw, closed };
  }

  it('a client that stops reading is let go once it read nothing for stallMs; reading on, it gets whole events and then the end, and resumes by its last id', async () => {
    const slow = await rawStream();
    expect(raw200(slow.raw())).toBe(true);
    slow.socket.pause();
    const sent = await commitUntilHeld();
    await waitFor('the stalled stream let go', () => streams.open === 0);
    // The resume's catch-up is one burst a client of this process takes in more than a short stallMs.
    TraceStreamService.options = { ...TraceStreamService.options, stallMs: 60_000 };
    slow.socket.resume();
    await slow.closed;
    const got = events(slow.raw()).filter((e) => e.event === 'trace');
    // Whole events only, each one a trace sent, in order; the last one's id is where to resume.
    const ids = got.map((e) => (JSON.parse(e.data!) as { id: number }).id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id, i) => sent.includes(id) && (i === 0 || id > ids[i - 1]))).toBe(true);
    const last = got[got.length - 1].id!;
    const after = await commit(1);
    const ac = new AbortController();
    const res = await fetch(`${t.base}/traces/stream`, { signal: ac.signal, headers: { 'Last-Event-ID': last } });
    const resumed = readSse<{ id: number }>(res);
    await waitFor('the trace after the stall on the resumed stream', () => resumed.items.some((x) => x.id === after[0]));
    ac.abort();
    await resumed.done;
    // Nothing the client had is sent again, and every trace it missed comes, once, in order.
    expect(resumed.items.map((x) => x.id)).toEqual([...sent.filter((id) => id > Number(last)), ...after]);
  });

  it('a client that falls behind and catches up within stallMs is kept, and gets every trace', async () => {
    // Its catch-up is a burst of several MB that this process's own client reads: room for a loaded machine.
    TraceStreamService.options = { ...TraceStreamService.options, stallMs: 10_000 };
    const behind = await rawStream();
    behind.socket.pause();
    const sent = await commitUntilHeld();
    behind.socket.resume();
    const after = await commit(1);
    await waitFor('the trace after it caught up', () => events(behind.raw()).some((e) => e.data?.startsWith(`{"id":${after[0]},`)));
    expect(streams.open).toBe(1);
    const ids = events(behind.raw()).filter((e) => e.event === 'trace').map((e) => (JSON.parse(e.data!) as { id: number }).id);
    expect(ids).toEqual([...sent, ...after]);
  });

  it('a client that goes away in the middle of an event: its place is given back and the server goes on', async () => {
    const gone = await rawStream();
    await commit(400);
    await waitFor('some of the events', () => events(gone.raw()).length > 1 || gone.raw().length > 64 * 1024);
    gone.socket.destroy();
    await waitFor('its place given back', () => streams.open === 0);
    await t.http.get('/health').expect((r) => expect([200, 503]).toContain(r.status));
  });

  it(`${STREAM_DEFAULTS.maxStreams} clients at once each get every trace; one more is a 503 until one leaves`, async () => {
    const acs: AbortController[] = [];
    const open = async () => {
      const ac = new AbortController();
      const res = await fetch(`${t.base}/traces/stream`, { signal: ac.signal });
      return { ac, res };
    };
    const all: Array<ReturnType<typeof readSse<{ id: number }>>> = [];
    for (let i = 0; i < STREAM_DEFAULTS.maxStreams; i++) {
      const { ac, res } = await open();
      expect(res.status).toBe(200);
      acs.push(ac);
      const s = readSse<{ id: number }>(res);
      await waitFor('the stream to start', () => s.comments.some((c) => c.startsWith('after trace')));
      all.push(s);
    }
    const extra = await open();
    expect({ status: extra.res.status, retryAfter: extra.res.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '5' });
    const ids = await commit(3);
    await waitFor('every client every trace', () => all.every((s) => ids.every((id) => s.items.some((x) => x.id === id))));
    expect(all.map((s) => s.items.map((x) => x.id))).toEqual(all.map(() => ids));
    acs[0].abort();
    await waitFor('a place again', async () => {
      const next = await open();
      next.ac.abort();
      return next.res.status === 200;
    });
    for (const ac of acs) ac.abort();
    await Promise.all(all.map((s) => s.done));
    await waitFor('every place given back', () => streams.open === 0);
  });
});

function raw200(raw: string): boolean {
  return raw.startsWith('HTTP/1.1 200') && /content-type: text\/event-stream/i.test(raw);
}
