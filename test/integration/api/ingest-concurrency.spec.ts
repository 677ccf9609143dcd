// POST /ingest/*: at most LIVETRACE_INGEST_CONCURRENCY bodies read and processed at once. Every
// body was read whole and parsed as soon as it came (~100 MB for a 16 MB body): a few dozen
// producers at once took the process past its memory, and its death lost what it had accepted and
// not committed. The next requests now wait unread, in order, in a bounded line; past it (or past
// the wait) 503 with Retry-After naming the bound. The store's writer is held (not a timer) so that
// the requests pile up deterministically; once it lets go every waiting request is stored.
import { request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { IngestService } from '../../../src/ingest/ingest.service';
import { StoreService } from '../../../src/storage/store.service';
import { daemonlessApp, startedForAll } from '../../support/app';
import { metric } from '../../support/spool-check';
import { waitFor } from '../../support/wait';

jest.setTimeout(120_000);

const T = '2026-11-27T05:21:55.633Z';
const LINES = 50;
const body = (tag: string) => Array.from({ length: LINES }, (_, i) => `{"type":"upcall","id":"${tag}-${i}","time":"${T}","upcallType":"miss","key":"recirc_id(0),in_port(4),eth_type(0x0800)"}\n`).join('');

/** The app listening on loopback, with the store's writer held shut until `open()` and the bodies read counted. */
async function heldApp(env: Record<string, string>) {
  const { app, base, close } = await daemonlessApp(env);
  const writer = app.get(StoreService).writer;
  const submit = writer.submit.bind(writer);
  let open!: () => void;
  const shut = new Promise<void>((r) => (open = r));
  writer.submit = (async (job: Parameters<typeof submit>[0]) => {
    await shut;
    return submit(job);
  }) as typeof writer.submit;
  const ingest = app.get(IngestService);
  const parse = ingest.ingestNdjson.bind(ingest);
  const read: string[] = [];
  ingest.ingestNdjson = (text, source) => {
    read.push(source ?? '');
    return parse(text, source);
  };
  const post = (source: string, init: RequestInit = {}) =>
    fetch(`${base}/ingest/events?source=${source}`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: body(source), ...init });
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  const stored = async (source: string) => ((await (await fetch(`${base}/upcalls?source=${source}&limit=100`)).json()) as { items: unknown[] }).items.length;
  return { app, base, close, open, read, post, metrics, stored };
}

describe('POST /ingest/events: a bound on bodies in flight, lossless', () => {
  const t = startedForAll(() => heldApp({ LIVETRACE_INGEST_CONCURRENCY: '2', LIVETRACE_INGEST_QUEUE: '3', LIVETRACE_INGEST_WAIT_SECONDS: '3600', LIVETRACE_INGEST_MAX_BYTES: '65536' }));

  it('reads at most 2 bodies at once; the others wait unread, a waiter that hangs up frees its place, past the line 503; all waiting ones are stored', async () => {
    const first = ['p1', 'p2', 'p3', 'p4'].map((s) => t.post(s));
    const arrived = async () => {
      const m = await t.metrics();
      return t.read.length + metric(m, 'livetrace_ingest_requests_waiting') >= 4 && m;
    };
    let m = await waitFor('4 requests read or waiting', arrived);
    expect(t.read).toHaveLength(2);
    expect(metric(m, 'livetrace_ingest_requests_in_flight')).toBe(2);
    expect(metric(m, 'livetrace_ingest_requests_waiting')).toBe(2);

    // A producer that gives up while waiting leaves the line: its place goes to the next one.
    const abort = new AbortController();
    const gaveUp = t.post('gaveup', { signal: abort.signal }).catch((e: Error) => e);
    await waitFor('3 waiting', async () => metric(await t.metrics(), 'livetrace_ingest_requests_waiting') === 3);
    abort.abort();
    expect(await gaveUp).toMatchObject({ name: 'AbortError' });
    await waitFor('its place given back', async () => metric(await t.metrics(), 'livetrace_ingest_requests_waiting') === 2);
    const p5 = t.post('p5');
    await waitFor('3 waiting again', async () => metric(await t.metrics(), 'livetrace_ingest_requests_waiting') === 3);

    // The line is full: told so, and when to come back, nothing of it read.
    const refused = await t.post('refused');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ field: 'body', message: expect.stringMatching(/LIVETRACE_INGEST_QUEUE=3\b.*nothing of this request was read or stored/) });
    expect(t.read).toHaveLength(2);

    t.open();
    const answers = await Promise.all([...first, p5]);
    for (const res of answers) expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { accepted: LINES, rejected: 0, duplicates: 0, errors: [] } });
    expect(t.read).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    for (const s of ['p1', 'p2', 'p3', 'p4', 'p5']) expect([s, await t.stored(s)]).toEqual([s, LINES]);
    expect(await t.stored('gaveup')).toBe(0);
    expect(await t.stored('refused')).toBe(0);
    m = await t.metrics();
    expect(metric(m, 'livetrace_ingest_requests_refused_total', { bound: 'queue' })).toBe(1);
    expect(metric(m, 'livetrace_ingest_requests_in_flight')).toBe(0);
    expect(metric(m, 'livetrace_ingest_requests_waiting')).toBe(0);
  });

  it('a body refused while read (413, sent without Content-Length) or cut off by its producer gives its slot back', async () => {
    const big = async function* () {
      for (let i = 0; i < 40; i++) yield new TextEncoder().encode(body(`big${i}`));
    };
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${t.base}/ingest/events?source=big`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: big() as unknown as RequestInit["body"], duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
    }
    // Half a body, then the producer hangs up: the read fails and the slot comes back.
    const abort = new AbortController();
    const half = async function* () {
      yield new TextEncoder().encode(body('half').slice(0, 500));
      await new Promise(() => undefined);
    };
    const cut = fetch(`${t.base}/ingest/events?source=half`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: half() as unknown as RequestInit["body"], duplex: 'half', signal: abort.signal } as RequestInit).catch((e: Error) => e);
    await waitFor('the half body in flight', async () => metric(await t.metrics(), 'livetrace_ingest_requests_in_flight') === 1);
    abort.abort();
    expect(await cut).toMatchObject({ name: 'AbortError' });
    await waitFor('its slot given back', async () => metric(await t.metrics(), 'livetrace_ingest_requests_in_flight') === 0);
    const ok = await t.post('after413');
    expect(ok.status).toBe(200);
    expect(metric(await t.metrics(), 'livetrace_ingest_requests_in_flight')).toBe(0);
  });
});

describe('POST /ingest/events: the wait is bounded', () => {
  const t = startedForAll(() => heldApp({ LIVETRACE_INGEST_CONCURRENCY: '1', LIVETRACE_INGEST_QUEUE: '8', LIVETRACE_INGEST_WAIT_SECONDS: '1' }));

  it('a request that waited LIVETRACE_INGEST_WAIT_SECONDS is told 503 with Retry-After; the one in flight is stored', async () => {
    const inFlight = t.post('held');
    await waitFor('the first body read', () => t.read.length === 1);
    const waited = await t.post('waited');
    expect(waited.status).toBe(503);
    expect(waited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await waited.json()).toMatchObject({ message: expect.stringMatching(/LIVETRACE_INGEST_WAIT_SECONDS=1\b/) });
    t.open();
    expect((await inFlight).status).toBe(200);
    expect(await t.stored('held')).toBe(LINES);
    expect(await t.stored('waited')).toBe(0);
    expect(metric(await t.metrics(), 'livetrace_ingest_requests_refused_total', { bound: 'wait' })).toBe(1);
  });
});

/**
 * A POST whose body is written by the test a piece at a time (node:http, so that an answer sent
 * before the body ends is seen as it comes). `done` settles with the status and body of the answer,
 * or the socket's error.
 */
function slowPost(base: string, source: string) {
  const u = new URL(`${base}/ingest/events?source=${source}`);
  const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' } });
  const done = new Promise<{ status: number; body: any } | Error>((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', (e) => resolve(e));
  });
  return { req, done };
}

/**
 * A producer on a raw connection that streams a chunked body far over LIVETRACE_INGEST_MAX_BYTES,
 * as curl does a big file, then once it has read the answer sends `after` and ends (or, `end`
 * false, keeps its side open). Settles once the server has closed its side of the connection, with
 * all the producer read and the socket's error if one came.
 */
function cutProducer(server: Server, source: string, after: string, end = true, headers = '') {
  const { port } = server.address() as AddressInfo;
  return new Promise<{ read: string; error?: string }>((resolve) => {
    // Half open: the server's FIN after the answer does not end the producer's side for it.
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let read = '';
    let error: string | undefined;
    let sent = false;
    // The server's side of this connection (matched by port: accept and connect come in either order).
    const accepted: Socket[] = [];
    const onConnection = (c: Socket) => {
      accepted.push(c);
      watch();
    };
    const watch = () => {
      const mine = accepted.find((c) => c.remotePort === s.localPort);
      if (!mine) return;
      server.off('connection', onConnection);
      const done = () => {
        s.destroy();
        resolve({ read, error });
      };
      if (mine.destroyed) done();
      else mine.once('close', done);
    };
    server.on('connection', onConnection);
    s.on('connect', watch);
    s.on('data', (d) => {
      read += d;
      // The answer's JSON body ends it (its headers end with a blank line, not a brace).
      if (!read.endsWith('}') || sent) return;
      sent = true;
      if (end) s.end(after);
      else s.write(after);
    });
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    // Far more than the kernel's buffers hold: the producer is still sending when the answer comes.
    const over = 'x'.repeat(4 * 1024 * 1024);
    s.write(`POST /ingest/events?source=${source} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n${headers}\r\n${over.length.toString(16)}\r\n${over}\r\n`);
  });
}

/** The rest of cutProducer's chunked body: 256 KB more, and its last chunk. */
const REST = `${(262_144).toString(16)}\r\n${'y'.repeat(262_144)}\r\n0\r\n\r\n`;

describe('POST /ingest/events: a body that does not come does not keep its slot', () => {
  const t = startedForAll(() => heldApp({ LIVETRACE_INGEST_CONCURRENCY: '1', LIVETRACE_INGEST_QUEUE: '8', LIVETRACE_INGEST_WAIT_SECONDS: '60', LIVETRACE_INGEST_MAX_BYTES: '65536', LIVETRACE_INGEST_BODY_STALL_SECONDS: '1', LIVETRACE_INGEST_BODY_SECONDS: '3' }));
  beforeAll(() => t.open());

  it('a body that stops coming (its producer hung, the connection still up) is 408 after LIVETRACE_INGEST_BODY_STALL_SECONDS; the slot goes to the next producer', async () => {
    const stalled = slowPost(t.base, 'stalled');
    stalled.req.write(body('stalled').slice(0, 300));
    await waitFor('the stalled body in flight', async () => metric(await t.metrics(), 'livetrace_ingest_requests_in_flight') === 1);
    const next = t.post('next');
    const answer = await stalled.done;
    expect(answer).toMatchObject({ status: 408, body: { field: 'body', message: expect.stringMatching(/no byte of the body for 1 s \(LIVETRACE_INGEST_BODY_STALL_SECONDS=1\).*nothing of it was stored/) } });
    expect((await next).status).toBe(200);
    expect(await t.stored('next')).toBe(LINES);
    expect(await t.stored('stalled')).toBe(0);
    expect(metric(await t.metrics(), 'livetrace_ingest_bodies_cut_total', { bound: 'stall' })).toBe(1);
    stalled.req.destroy();
  });

  it('a body that trickles (a line every 300 ms, never stalling) is 408 once it has taken LIVETRACE_INGEST_BODY_SECONDS', async () => {
    const slow = slowPost(t.base, 'trickle');
    const lines = body('trickle').split(/(?<=\n)/);
    let i = 0;
    const timer = setInterval(() => slow.req.write(lines[i++ % lines.length]), 300);
    try {
      // The producer never ends this body: only the bound can answer it.
      const answer = await slow.done;
      expect(answer).toMatchObject({ status: 408, body: { field: 'body', message: expect.stringMatching(/did not all come in 3 s \(LIVETRACE_INGEST_BODY_SECONDS=3; \d+ bytes came\).*nothing of it was stored/) } });
    } finally {
      clearInterval(timer);
      slow.req.destroy();
    }
    expect(await t.stored('trickle')).toBe(0);
    expect((await t.post('after-trickle')).status).toBe(200);
  });

  it('a body over LIVETRACE_INGEST_MAX_BYTES is answered 413 when it passes the limit, not when its producer stops sending', async () => {
    const big = slowPost(t.base, 'endless');
    const chunk = body('endless');
    // More than the limit at once, then a line every 300 ms for ever: the answer must not wait for the end.
    big.req.write(chunk.repeat(Math.ceil(70_000 / chunk.length)));
    const timer = setInterval(() => big.req.write(chunk.slice(0, 200)), 300);
    try {
      const answer = await Promise.race([big.done, new Promise<string>((r) => setTimeout(() => r('no answer in 10 s'), 10_000))]);
      expect(answer).toMatchObject({ status: 413, body: { field: 'body' } });
    } finally {
      clearInterval(timer);
      big.req.destroy();
    }
    await waitFor('its slot given back', async () => metric(await t.metrics(), 'livetrace_ingest_requests_in_flight') === 0);
    expect((await t.post('after-endless')).status).toBe(200);
  });

  it('the producer of a cut body reads its answer and may finish sending: the rest is read and dropped, the connection then closed, not reset', async () => {
    // Node closed a `Connection: close` answer's socket as soon as the answer was written: the
    // producer, still sending, got EPIPE or ECONNRESET (across a real network the reset can cost it
    // the answer itself).
    const cut = await cutProducer(t.app.getHttpServer(), 'cut-rest', REST);
    expect(cut.read).toMatch(/^HTTP\/1\.1 413 /);
    expect(cut.error).toBeUndefined();
    expect(await t.stored('cut-rest')).toBe(0);
  });

  it('what follows a cut body on its connection is not read as a next request', async () => {
    // Read on through the linger, Node's parser took these bytes for a next request and ran it:
    // stored, on a connection its producer was told is closed, and never answered.
    const next = body('smuggled');
    // Its side kept open: nothing but the end of the linger closes this connection.
    const cut = await cutProducer(t.app.getHttpServer(), 'cut-next', `${REST}POST /ingest/events?source=smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: ${next.length}\r\n\r\n${next}`, false);
    expect(cut.read.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 413']);
    expect(await t.stored('smuggled')).toBe(0);
    expect(t.read).not.toContain('smuggled');
  });
});

/**
 * A POST with `Expect: 100-continue` that sends its body only once told to continue, as curl does
 * for bodies over 1 MB. `continued` says whether the 100 came.
 */
function expectingPost(base: string, path: string, text: string, headers: Record<string, string> = {}) {
  const u = new URL(base);
  let continued = false;
  // A path given whole (http://host/...) is sent as is: the absolute form a request line may carry.
  const req = httpRequest({ host: u.hostname, port: u.port, path, method: 'POST', headers: { 'Content-Type': 'application/x-ndjson', 'Content-Length': String(Buffer.byteLength(text)), Expect: '100-continue', ...headers } });
  req.on('continue', () => {
    continued = true;
    req.end(text);
  });
  return new Promise<{ status: number; body: any; continued: boolean; connection: string | undefined }>((resolve, reject) => {
    req.on('response', (res) => {
      let got = '';
      res.on('data', (d) => (got += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: got ? JSON.parse(got) : null, continued, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('POST /ingest/events with Expect: 100-continue', () => {
  const t = startedForAll(() => heldApp({ LIVETRACE_INGEST_CONCURRENCY: '1', LIVETRACE_INGEST_QUEUE: '0', LIVETRACE_INGEST_MAX_BYTES: '65536' }));

  it('refusals come before the 100 (the producer sends no body); the body is asked for once a slot is its own; other routes get their 100 at once', async () => {
    // Over the limit by Content-Length: 413 without a 100.
    const big = await expectingPost(t.base, '/ingest/events?source=big', 'x'.repeat(70_000));
    expect(big).toMatchObject({ status: 413, continued: false, connection: 'close', body: { field: 'body' } });
    // The one slot taken (its store held), the line empty by configuration: 503 without a 100.
    const held = t.post('held');
    await waitFor('the held body read', () => t.read.length === 1);
    const busy = await expectingPost(t.base, '/ingest/events?source=busy', body('busy'));
    expect(busy).toMatchObject({ status: 503, continued: false, connection: 'close' });
    t.open();
    expect((await held).status).toBe(200);
    // A slot free: the 100, then the body, stored.
    const ok = await expectingPost(t.base, '/ingest/events?source=expecting', body('expecting'));
    expect(ok).toMatchObject({ status: 200, continued: true, body: { accepted: LINES, rejected: 0 } });
    expect(ok.connection).not.toBe('close');
    expect(await t.stored('expecting')).toBe(LINES);
    expect(await t.stored('busy')).toBe(0);
    // A JSON route reads its body as before: its 100 at once (here a session body naming a bad field).
    const session = await expectingPost(t.base, '/trace-sessions', '{"logicalPort":"lsp1","maxTraces":"ten"}', { 'Content-Type': 'application/json' });
    expect(session).toMatchObject({ continued: true, status: 400 });
  });

  it('the ingest routes spelled any way Express routes them (case, absolute form) hold their 100 too', async () => {
    // Express matches paths without case and reads the path of an absolute request-target: these
    // are the ingest handlers (413 from the controller), and got their 100 at once, keep-alive.
    for (const path of ['/INGEST/EVENTS?source=big', '/Ingest/Retis/', `${t.base}/ingest/events?source=big`]) {
      const big = await expectingPost(t.base, path, 'x'.repeat(70_000));
      expect({ path, ...big }).toMatchObject({ path, status: 413, continued: false, connection: 'close', body: { field: 'body' } });
    }
  });
});

describe('POST /ingest/events while the service stops', () => {
  it('the requests waiting in line are told 503 when the stop begins, not cut off when the drain ends; the one in flight is stored', async () => {
    const t = await heldApp({ LIVETRACE_INGEST_CONCURRENCY: '1', LIVETRACE_INGEST_QUEUE: '8', LIVETRACE_INGEST_WAIT_SECONDS: '60' });
    const inFlight = t.post('held');
    await waitFor('the held body read', () => t.read.length === 1);
    const waiting = [t.post('w1'), t.post('w2')];
    await waitFor('2 waiting', async () => metric(await t.metrics(), 'livetrace_ingest_requests_waiting') === 2);
    const closed = t.app.close();
    for (const res of await Promise.all(waiting)) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await res.json()).toMatchObject({ field: 'body', message: expect.stringMatching(/stopping: nothing of this request was read or stored/) });
    }
    t.open();
    expect((await inFlight).status).toBe(200);
    await closed;
    expect(t.read).toEqual(['held']);
  });
});

describe('POST /ingest/events with Expect: 100-continue, refused while its producer sends anyway', () => {
  const t = startedForAll(() => heldApp({ LIVETRACE_INGEST_CONCURRENCY: '1', LIVETRACE_INGEST_QUEUE: '0' }));

  it('the 503 is read and the rest dropped, the connection then closed, not reset', async () => {
    // curl sends its body after a second without the 100; the slot is taken and the line has no
    // room: 503 at once, on a connection that closes with it (no 100 was sent). Node closed it as
    // soon as the answer was written: the producer, still sending, got a reset.
    const held = t.post('held');
    await waitFor('the held body read', () => t.read.length === 1);
    const refused = await cutProducer(t.app.getHttpServer(), 'expect-refused', REST, true, 'Expect: 100-continue\r\n');
    expect(refused.read).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused.read).not.toMatch(/100 Continue/);
    expect(refused.error).toBeUndefined();
    t.open();
    expect((await held).status).toBe(200);
    expect(await t.stored('expect-refused')).toBe(0);
  });
});
