import { constants } from 'node:buffer';
import { Duplex } from 'node:stream';
import {
  ConnectionClosedError,
  InactivityTimeoutError,
  JsonRpcRemoteError,
  OvsdbWireError,
  ProtocolError,
  RequestTimeoutError,
} from '../../../src/ovsdb/errors';
import { JsonRpcConnection } from '../../../src/ovsdb/jsonrpc';
import { connectRemote, parseRemote } from '../../../src/ovsdb/remote';
import { FakeJsonRpcServer, rejectionOf } from '../../support/fake-jsonrpc-server';
import { waitFor } from '../../support/wait';

describe('JsonRpcConnection against a fake server', () => {
  let server: FakeJsonRpcServer;
  let conn: JsonRpcConnection | undefined;

  async function open(options: { probeIntervalMs?: number; maxMessageBytes?: number; requestTimeoutMs?: number } = {}) {
    const stream = await connectRemote(parseRemote(server.remote));
    conn = new JsonRpcConnection(stream, { remote: server.remote, ...options });
    return conn;
  }

  function closed(c: JsonRpcConnection): Promise<OvsdbWireError | undefined> {
    return new Promise((resolve) => c.once('close', resolve));
  }

  beforeEach(async () => {
    server = await FakeJsonRpcServer.start();
  });
  afterEach(async () => {
    conn?.close();
    conn = undefined;
    await server.stop();
  });

  it('sends only method, params and id, and resolves the reply by id', async () => {
    const c = await open();
    await expect(c.request('list_dbs', [])).resolves.toEqual(['OVN_Northbound', '_Server']);
    const raw = server.connections[0].receivedRaw[0];
    expect(Object.keys(JSON.parse(raw)).sort()).toEqual(['id', 'method', 'params']);
    expect(raw).not.toContain('jsonrpc');
  });

  it("answers the server's echo with the same params and never a null result", async () => {
    const c = await open();
    await c.request('list_dbs', []);
    const sc = server.connections[0];
    sc.send({ method: 'echo', params: [], id: 'echo' });
    sc.send({ method: 'echo', params: ['x', 1], id: 7 });
    await waitFor('echo replies', () => sc.received.length >= 3);
    expect(sc.received.slice(1)).toEqual([
      { result: [], error: null, id: 'echo' },
      { result: ['x', 1], error: null, id: 7 },
    ]);
  });

  it('surfaces notifications and answers unknown server requests with an error, not a null result', async () => {
    const c = await open();
    const seen: unknown[] = [];
    c.on('notification', (method, params) => seen.push([method, params]));
    const sc = (await waitFor('connection', () => server.connections[0]))!;
    sc.send({ method: 'update2', params: ['m1', { T: {} }], id: null });
    sc.send({ method: 'frobnicate', params: [], id: 3 });
    await waitFor('notification and reply', () => seen.length === 1 && sc.received.length === 1);
    expect(seen).toEqual([['update2', ['m1', { T: {} }]]]);
    expect(sc.received[0]).toEqual({ error: 'unknown method', id: 3 });
  });

  it('rejects with the server error, naming method, database and remote', async () => {
    const c = await open();
    const err = await rejectionOf(c.request('get_schema', ['Nope'], { db: 'Nope' }));
    expect(err).toBeInstanceOf(JsonRpcRemoteError);
    expect(err).toMatchObject({ method: 'get_schema', db: 'Nope', remote: server.remote, tag: 'unknown method' });
    expect(err.message).toBe(`get_schema on db Nope @ ${server.remote}: server error: unknown method`);
  });

  it('reports a connection dropped in the middle of a reply, and fails the pending request', async () => {
    server.script = (msg, sc) => {
      if (msg.method !== 'get_schema') return false;
      sc.send('{"id":' + String(msg.id) + ',"result":{"name":"OVN_Northbound","tables":{"ACL":');
      setTimeout(() => sc.destroy(), 20);
      return true;
    };
    const c = await open();
    const done = closed(c);
    const err = await rejectionOf(c.request('get_schema', ['OVN_Northbound'], { db: 'OVN_Northbound' }));
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.message).toMatch(
      new RegExp(`^get_schema on db OVN_Northbound @ ${server.remote}: connection closed: peer closed the connection in the middle of a message \\(\\d+ bytes of it received\\)`),
    );
    expect((await done)?.message).toContain(server.remote);
  });

  it('reports garbage with its offset and closes', async () => {
    server.script = (msg, sc) => {
      sc.send('{"id":null,"method":"hello","params":[]}HTTP/1.1 400 Bad Request\r\n');
      return true;
    };
    const c = await open();
    const done = closed(c);
    const err = await rejectionOf(c.request('list_dbs', []));
    expect(err).toBeInstanceOf(ConnectionClosedError);
    const reason = await done;
    expect(reason).toBeInstanceOf(ProtocolError);
    const offset = '{"id":null,"method":"hello","params":[]}'.length;
    expect(reason!.message).toBe(
      `${server.remote}: protocol error: unexpected byte 'H' at offset ${offset}: a JSON-RPC message must start with '{' or '['`,
    );
  });

  it('reports a message over the size limit, naming the limit', async () => {
    server.script = (msg, sc) => {
      sc.reply(msg.id, 'x'.repeat(5000));
      return true;
    };
    const c = await open({ maxMessageBytes: 1024 });
    const done = closed(c);
    await expect(c.request('list_dbs', [])).rejects.toThrow(/exceeds the limit of 1024 bytes/);
    expect((await done)?.message).toMatch(new RegExp(`^${server.remote}: protocol error: JSON message exceeds the limit of 1024 bytes`));
  });

  it('rejects a message that is framed but not JSON-RPC', async () => {
    server.script = (msg, sc) => {
      sc.send({ id: msg.id, result: 1, jsonrpc: '2.0' });
      return true;
    };
    const c = await open();
    const done = closed(c);
    await expect(c.request('list_dbs', [])).rejects.toBeInstanceOf(ConnectionClosedError);
    expect((await done)?.message).toContain('message has unexpected member "jsonrpc"');
  });

  it('probes an idle server with echo and closes when it never answers', async () => {
    server.answerEcho = false;
    const c = await open({ probeIntervalMs: 100 });
    const reason = await closed(c);
    expect(reason).toBeInstanceOf(InactivityTimeoutError);
    expect(reason!.message).toBe(`${server.remote}: no data received for 200 ms (echo probe after 100 ms unanswered)`);
    expect(server.requests.map((m) => m.method)).toEqual(['echo']);
  });

  it('stays up while the server answers the probes', async () => {
    const c = await open({ probeIntervalMs: 50 });
    await waitFor('three probes', () => server.requests.filter((m) => m.method === 'echo').length >= 3);
    expect(c.isClosed).toBe(false);
  });

  it('times out a slow answer, names it, ignores the late reply and stays usable', async () => {
    server.script = (msg, sc) => {
      if (msg.method !== 'get_schema') return false;
      setTimeout(() => sc.reply(msg.id, { name: 'late' }), 300);
      return true;
    };
    const c = await open();
    const err = await rejectionOf(c.request('get_schema', ['OVN_Northbound'], { db: 'OVN_Northbound', timeoutMs: 50 }));
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err.message).toBe(`get_schema on db OVN_Northbound @ ${server.remote}: no reply within 50 ms`);
    await waitFor('late reply', () => c.bytesReceived > 0);
    await expect(c.request('list_dbs', [])).resolves.toEqual(['OVN_Northbound', '_Server']);
    expect(c.pendingRequests).toBe(0);
  });

  it('receives a 39 MB reply written in one go', async () => {
    const rows: Record<string, unknown> = {};
    for (let i = 0; i < 100_000; i++) rows[`${i}`] = { initial: { match: `inport == "lsp${i}" && ip4.dst == {10.0.0.2}`, pad: 'y'.repeat(300) } };
    server.script = (msg, sc) => {
      sc.reply(msg.id, { Logical_Flow: rows });
      return true;
    };
    const c = await open();
    const result = (await c.request('monitor_cond', [])) as { Logical_Flow: Record<string, unknown> };
    expect(Object.keys(result.Logical_Flow)).toHaveLength(100_000);
    expect(c.bytesReceived).toBeGreaterThan(38_000_000);
    // What is checked is the size, not the speed: building, sending and parsing 39 MB took over
    // jest's 5 s default on a loaded CI machine (Node 24, beside the 512 MiB cases below).
  }, 60_000);

  it('rejects requests on a closed connection with the reason', async () => {
    const c = await open();
    c.close('shutting down');
    await expect(c.request('list_dbs', [])).rejects.toThrow(`list_dbs @ ${server.remote}: connection closed: `);
  });
});

/** A Duplex whose writes complete only when released, to exercise backpressure. */
class StuckDuplex extends Duplex {
  written: string[] = [];
  private callbacks: Array<() => void> = [];
  constructor() {
    super({ writableHighWaterMark: 64 });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written.push(chunk.toString());
    this.callbacks.push(cb);
  }
  release(): void {
    for (const cb of this.callbacks.splice(0)) cb();
  }
}

describe('JsonRpcConnection write backpressure', () => {
  it("holds messages while write() says the buffer is full and sends them on 'drain'", async () => {
    const stream = new StuckDuplex();
    const conn = new JsonRpcConnection(stream, { remote: 'test:stuck' });
    for (let i = 0; i < 5; i++) conn.notify('n', ['x'.repeat(100)]);
    // the first write filled the 64-byte buffer: the rest wait in the connection, not in the stream
    expect(stream.written.length).toBe(1);
    expect(stream.writableLength).toBeLessThan(200);
    while (stream.written.length < 5) {
      stream.release();
      await new Promise((r) => setImmediate(r));
    }
    expect(stream.written.map((w) => JSON.parse(w).method)).toEqual(['n', 'n', 'n', 'n', 'n']);
    conn.close();
  });
});

describe('JsonRpcConnection: a message too large for one JavaScript string', () => {
  // A notification, or a reply the splitter does not stream (a transact, an update3 after a huge
  // transaction), is decoded as one string, and V8 holds at most MAX_STRING_LENGTH characters
  // (about 512 MiB) in one, whatever maxMessageBytes allows (1 GiB by default). It was reported as
  // "invalid JSON … Cannot create a string longer than 0x1fffffe8 characters", naming neither the
  // limit's owner nor the message.
  const limit = constants.MAX_STRING_LENGTH;
  // One buffer for both cases: filling 512 MiB takes seconds on a busy machine.
  let big: Buffer | undefined;
  beforeAll(() => void (big = Buffer.alloc(limit + 1, 0x61)), 120_000);
  afterAll(() => void (big = undefined));
  function huge(head: string, tail: string): Buffer {
    const b = big!;
    b.fill(0x61, 0, 64).fill(0x61, b.length - 64);
    b.write(head, 0, 'latin1');
    b.write(tail, b.length - tail.length, 'latin1');
    return b;
  }
  const tooLong = `JSON message of ${limit + 1} bytes exceeds the limit of ${limit} characters of one JavaScript string (V8's, whatever maxMessageBytes allows)`;

  it.each([
    ['the reply to a request', '{"id":1,"result":"', '"}', `get_schema on db OVN_Southbound @ test:big: protocol error: the reply cannot be decoded: ${tooLong}`],
    ['a notification', '{"id":null,"method":"update3","params":["m","', '"]}', `test:big: protocol error: the "update3" notification cannot be decoded: ${tooLong}`],
  ])('%s: closes naming the limit, the message and the remote', async (_what, head, tail, message) => {
    const stream = new StuckDuplex();
    const conn = new JsonRpcConnection(stream, { remote: 'test:big' });
    const closedWith = new Promise<OvsdbWireError | undefined>((resolve) => conn.once('close', resolve));
    const pending = rejectionOf(conn.request('get_schema', ['OVN_Southbound'], { db: 'OVN_Southbound' }));
    stream.push(huge(head, tail));
    const reason = await closedWith;
    expect(reason).toBeInstanceOf(ProtocolError);
    expect(reason!.message).toBe(message);
    expect((await pending).message).toContain(message.slice(message.indexOf('protocol error: ')));
  }, 60_000);
});
