import { PassThrough } from 'node:stream';
import { Backoff, shuffle } from '../../../src/ovsdb/backoff';
import { ConnectError } from '../../../src/ovsdb/errors';
import { OvsdbSession } from '../../../src/ovsdb/session';
import { FakeJsonRpcServer } from '../../support/fake-jsonrpc-server';
import { waitFor } from '../../support/wait';

describe('Backoff (OVS reconnect.c policy)', () => {
  it('doubles from 1 s to 8 s on repeated failures', () => {
    const b = new Backoff();
    const delays = Array.from({ length: 6 }, () => b.next({ connected: false }));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });

  it('tries every remote once without delay before backing off', () => {
    const b = new Backoff({ freeTries: 3 });
    const delays = Array.from({ length: 5 }, () => b.next({ connected: false }));
    expect(delays).toEqual([0, 0, 1000, 2000, 4000]);
  });

  it('restarts from the minimum after a connection that stayed up at least the current backoff', () => {
    const b = new Backoff({ minMs: 100, maxMs: 800 });
    [100, 200, 400].forEach((d) => expect(b.next({ connected: false })).toBe(d));
    expect(b.next({ connected: true, upForMs: 50 })).toBe(800); // flapping: keeps growing
    expect(b.next({ connected: true, upForMs: 60_000 })).toBe(100);
  });

  it('honours configured bounds', () => {
    const b = new Backoff({ minMs: 250, maxMs: 1000 });
    expect(Array.from({ length: 4 }, () => b.next({ connected: false }))).toEqual([250, 500, 1000, 1000]);
  });

  it('shuffles without losing or duplicating remotes', () => {
    const items = ['a', 'b', 'c', 'd'];
    expect(shuffle(items, () => 0).sort()).toEqual(items);
    expect(shuffle(items, () => 0.999)).toEqual(items);
  });
});

describe('OvsdbSession schedule (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('round-robins the remotes and backs off 1 s doubling to 8 s while all are down', async () => {
    const tried: string[] = [];
    const delays: number[] = [];
    const session = new OvsdbSession({
      remotes: 'tcp:10.0.0.1:6641,tcp:10.0.0.2:6641',
      random: () => 0.999, // keep the given order
      connect: (remote) => {
        tried.push(remote.text);
        return Promise.reject(new ConnectError({ remote: remote.text }, 'ECONNREFUSED'));
      },
    });
    const errors: string[] = [];
    session.on('error', (e) => errors.push(e.message));
    session.on('backoff', (d) => delays.push(d));
    session.start();
    for (let i = 0; i < 7; i++) {
      await jest.advanceTimersByTimeAsync(delays[delays.length - 1] ?? 0);
    }
    session.close();
    expect(delays.slice(0, 6)).toEqual([0, 1000, 2000, 4000, 8000, 8000]);
    expect(tried.slice(0, 4)).toEqual(['tcp:10.0.0.1:6641', 'tcp:10.0.0.2:6641', 'tcp:10.0.0.1:6641', 'tcp:10.0.0.2:6641']);
    expect(errors[0]).toBe('tcp:10.0.0.1:6641: cannot connect: ECONNREFUSED');
    expect(jest.getTimerCount()).toBe(0);
  });

  it('runs onConnected before declaring the session up, and retries when it fails', async () => {
    const order: string[] = [];
    let hookCalls = 0;
    const session = new OvsdbSession({
      remotes: 'unix:/run/x.sock',
      connect: async () => new PassThrough(),
      onConnected: async () => {
        order.push(`hook${++hookCalls}`);
        if (hookCalls === 1) throw new Error('monitor refused');
      },
    });
    session.on('connected', () => order.push('connected'));
    session.on('disconnected', (_r, reason) => order.push(`disconnected: ${reason}`));
    session.on('error', () => undefined);
    session.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['hook1', 'disconnected: monitor refused']);
    await jest.advanceTimersByTimeAsync(1000);
    expect(order).toEqual(['hook1', 'disconnected: monitor refused', 'hook2', 'connected']);
    expect(session.isUp).toBe(true);
    session.close();
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('OvsdbSession against a fake server', () => {
  let server: FakeJsonRpcServer;
  let session: OvsdbSession | undefined;

  beforeEach(async () => {
    server = await FakeJsonRpcServer.start();
  });
  afterEach(async () => {
    session?.close();
    await server.stop();
  });

  function record(s: OvsdbSession): string[] {
    const events: string[] = [];
    s.on('connecting', (r) => events.push(`connecting ${r}`));
    s.on('connected', (r) => events.push(`connected ${r}`));
    s.on('disconnected', (r, reason) => events.push(`disconnected ${r}: ${reason}`));
    s.on('backoff', (d) => events.push(`backoff ${d}`));
    s.on('error', () => undefined);
    return events;
  }

  it('reconnects after the server drops the connection mid-message, saying which remote and what happened', async () => {
    let monitors = 0;
    server.script = (msg, sc) => {
      if (msg.method !== 'monitor_cond') return false;
      if (++monitors === 2) {
        sc.send('{"id":' + String(msg.id) + ',"result":{"Logical_Switch":{"');
        setTimeout(() => sc.destroy(), 10);
      } else {
        sc.reply(msg.id, {});
      }
      return true;
    };
    session = new OvsdbSession({
      remotes: server.remote,
      backoffMinMs: 20,
      backoffMaxMs: 80,
      onConnected: async (conn) => {
        await conn.request('monitor_cond', ['OVN_Northbound', 'm', {}], { db: 'OVN_Northbound' });
      },
    });
    const events = record(session);
    session.start();
    await session.waitUp();
    // the server drops the live connection; the session reconnects and re-issues the monitor
    server.connections[0].destroy();
    await waitFor('second session', () => session!.connectCount === 2);
    expect(monitors).toBe(3);
    expect(events.map((e) => e.replace(/\(\d+ bytes/, '(N bytes'))).toEqual([
      `connecting ${server.remote}`,
      `connected ${server.remote}`,
      `disconnected ${server.remote}: peer closed the connection`,
      'backoff 20',
      `connecting ${server.remote}`,
      `disconnected ${server.remote}: peer closed the connection in the middle of a message (N bytes of it received)`,
      'backoff 40',
      `connecting ${server.remote}`,
      `connected ${server.remote}`,
    ]);
  });

  it.each([
    ['garbage', (id: unknown) => `{"id":${String(id)},"result":[]}<html>`, /^protocol error: unexpected byte '<' at offset \d+/],
    ['an oversize message', (id: unknown) => JSON.stringify({ id, result: 'x'.repeat(4096), error: null }), /^protocol error: JSON message exceeds the limit of 1024 bytes/],
  ])('reports %s from the server with the remote, and reconnects with backoff', async (_what, payload, reason) => {
    let first = true;
    server.script = (msg, sc) => {
      if (msg.method !== 'list_dbs' || !first) return false;
      first = false;
      sc.send(payload(msg.id));
      return true;
    };
    session = new OvsdbSession({
      remotes: server.remote,
      backoffMinMs: 15,
      maxMessageBytes: 1024,
      onConnected: async (conn) => {
        await conn.request('list_dbs', []);
      },
    });
    const events = record(session);
    session.start();
    await session.waitUp();
    const disconnect = events.find((e) => e.startsWith('disconnected'))!;
    expect(disconnect.startsWith(`disconnected ${server.remote}: `)).toBe(true);
    expect(disconnect.slice(`disconnected ${server.remote}: `.length)).toMatch(reason);
    expect(events).toContain('backoff 15');
    expect(session.connectCount).toBe(1);
  });

  it('backs off while the server is down and reconnects when it comes back on the same port', async () => {
    session = new OvsdbSession({ remotes: server.remote, backoffMinMs: 10, backoffMaxMs: 40 });
    const events = record(session);
    session.start();
    await session.waitUp();
    await server.stop();
    await waitFor('backoff to reach its maximum', () => events.filter((e) => e === 'backoff 40').length >= 2);
    expect(events.filter((e) => e.startsWith('backoff'))).toEqual(expect.arrayContaining(['backoff 10', 'backoff 20', 'backoff 40']));
    expect(events).toContain(`disconnected ${server.remote}: peer closed the connection`);
    await server.listen();
    await waitFor('reconnect after restart', () => session!.connectCount === 2);
    await expect(session.connection!.request('list_dbs', [])).resolves.toEqual(['OVN_Northbound', '_Server']);
  });

  it('drops a silent server by inactivity probe and reconnects', async () => {
    server.answerEcho = false;
    session = new OvsdbSession({ remotes: server.remote, probeIntervalMs: 50, backoffMinMs: 10 });
    const events = record(session);
    session.start();
    await waitFor('inactivity disconnect', () => events.some((e) => e.startsWith('disconnected')));
    expect(events).toContain(`disconnected ${server.remote}: no data received for 100 ms (echo probe after 50 ms unanswered)`);
    await waitFor('reconnect', () => session!.connectCount === 2);
  });

  it('close() while waiting rejects waiters and stops retrying', async () => {
    await server.stop();
    session = new OvsdbSession({ remotes: server.remote, backoffMinMs: 10 });
    record(session);
    session.start();
    const up = session.waitUp();
    session.close();
    await expect(up).rejects.toThrow('session closed');
  });
});
