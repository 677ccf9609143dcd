import { ProtocolError } from '../../../src/ovsdb/errors';
import { JsonRpcConnection } from '../../../src/ovsdb/jsonrpc';
import { connectRemote, parseRemote } from '../../../src/ovsdb/remote';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import { Replica, ReplicaUpdateError } from '../../../src/ovsdb/replica/replica';
import { OvsdbSession } from '../../../src/ovsdb/session';
import type { DatabaseSchema } from '../../../src/ovsdb/types';
import { FakeJsonRpcServer, Message } from '../../support/fake-jsonrpc-server';
import { waitFor } from '../../support/wait';

// Updates a replica cannot apply, and servers that drop us right after we connect. Each of these
// used to crash the process (a TypeError thrown from the socket's 'data' event), corrupt the
// replica (a row made up from a diff), or redial without any delay.
const schema: DatabaseSchema = {
  name: 'OVN_Southbound',
  version: '20.27.0',
  tables: {
    Chassis: {
      columns: {
        name: { type: 'string' },
        hostname: { type: 'string' },
        other_config: { type: { key: 'string', value: 'string', min: 0, max: 'unlimited' } },
      },
    },
  },
};
const ZERO = '00000000-0000-0000-0000-000000000000';
const TXN = '11111111-1111-4111-8111-111111111111';
const U1 = '00000000-0000-4000-8000-000000000001';
const U9 = '00000000-0000-4000-8000-000000000009';
const spec = { Chassis: { columns: ['name', 'hostname', 'other_config'] } };

function replica(): Replica {
  const r = new Replica('OVN_Southbound', spec);
  r.configure(schema);
  r.applyUpdate2({ Chassis: { [U1]: { insert: { name: 'hv1', hostname: 'h1', other_config: ['map', [['k', 'v']]] } } } });
  return r;
}

describe('Replica: updates it cannot apply are named, never made up', () => {
  it('refuses a modify of a row it never saw instead of inventing a row of empty columns (OVS IDL: "cannot modify missing row")', () => {
    const r = replica();
    expect(() => r.applyUpdate2({ Chassis: { [U9]: { modify: { hostname: 'h9' } } } })).toThrow(ReplicaUpdateError);
    expect(() => r.applyUpdate2({ Chassis: { [U9]: { modify: { hostname: 'h9' } } } })).toThrow(
      `OVN_Southbound: cannot apply an update: modify of row ${U9} of table Chassis, which the replica does not have`,
    );
    expect(r.get('Chassis', U9)).toBeUndefined();
    expect(r.count('Chassis')).toBe(1);
  });

  // The other two inconsistencies lib/ovsdb-idl.c ovsdb_idl_process_update flags (and then
  // ovsdb_cs_flag_inconsistency: full resync): "cannot add existing row", "cannot delete missing row".
  it.each([
    ['insert', { Chassis: { [U1]: { insert: { name: 'hv1-twice' } } } }, `insert of row ${U1} of table Chassis, which the replica already has`],
    ['initial', { Chassis: { [U1]: { initial: { name: 'hv1-twice' } } } }, `initial of row ${U1} of table Chassis, which the replica already has`],
    ['delete', { Chassis: { [U9]: { delete: null } } }, `delete of row ${U9} of table Chassis, which the replica does not have`],
  ])('refuses an update2 %s inconsistent with what it holds, leaving the row as it was', (_kind, updates, message) => {
    const r = replica();
    expect(() => r.applyUpdate2(updates as never)).toThrow(new ReplicaUpdateError('OVN_Southbound', message));
    expect([...r.rows('Chassis')].map((row) => [row._uuid, row.name])).toEqual([[U1, 'hv1']]);
  });

  it.each([
    ['insert', { Chassis: { [U1]: { new: { name: 'hv1-twice' } } } }, `insert of row ${U1} of table Chassis, which the replica already has`],
    ['modify', { Chassis: { [U9]: { old: { name: 'x' }, new: { name: 'hv9' } } } }, `modify of row ${U9} of table Chassis, which the replica does not have`],
    ['delete', { Chassis: { [U9]: { old: { name: 'x' } } } }, `delete of row ${U9} of table Chassis, which the replica does not have`],
  ])('refuses a legacy monitor %s inconsistent with what it holds (same three checks)', (_kind, updates, message) => {
    const r = replica();
    expect(() => r.applyUpdate(updates as never)).toThrow(new ReplicaUpdateError('OVN_Southbound', message));
    expect([...r.rows('Chassis')].map((row) => [row._uuid, row.name])).toEqual([[U1, 'hv1']]);
  });

  it('still takes a full dump that sends rows it already has (it replaces, never clears first)', () => {
    const r = replica();
    r.replaceAll({ Chassis: { [U1]: { initial: { name: 'hv1-dump' } } } });
    r.replaceAll({ Chassis: { [U1]: { new: { name: 'hv1-legacy' } } } }, true);
    r.beginDump();
    r.applyDumpBatch('Chassis', { [U1]: { initial: { name: 'hv1-batch' } } });
    r.endDump();
    expect([...r.rows('Chassis')].map((row) => [row._uuid, row.name])).toEqual([[U1, 'hv1-batch']]);
  });

  it.each([
    [{ Chassis: null }, 'the updates of table Chassis are null, not an object'],
    [{ Chassis: { [U1]: null } }, `row ${U1} of table Chassis: the row update is null, not an object`],
    [{ Chassis: { [U1]: { modify: 'x' } } }, `row ${U1} of table Chassis: its columns are "x", not an object`],
    [{ Chassis: { [U1]: { modify: { other_config: ['map', 5] } } } }, `row ${U1} of table Chassis, column other_config: ["map",5] is not a map`],
    [{ Chassis: { [U1]: { modify: { other_config: 'k' } } } }, `row ${U1} of table Chassis, column other_config: "k" is not a map`],
    [{ Chassis: { [U9]: { insert: { other_config: ['map', [['k']]] } } } }, `row ${U9} of table Chassis, column other_config: ["map",[["k"]]] is not a map`],
  ])('names what is wrong in %j', (updates, message) => {
    const r = replica();
    expect(() => r.applyUpdate2(updates as never)).toThrow(message);
  });

  it('keeps a map key named "__proto__" (ovs-vsctl set interface p1 external_ids:__proto__=x is stored by a real server)', () => {
    const r = replica();
    r.applyUpdate2({ Chassis: { [U9]: { insert: { name: 'hv9', other_config: ['map', [['__proto__', 'x'], ['constructor', 'y']]] } } } });
    expect(Object.entries(r.get('Chassis', U9)!.other_config)).toEqual([['__proto__', 'x'], ['constructor', 'y']]);
    r.applyUpdate2({ Chassis: { [U9]: { modify: { other_config: ['map', [['__proto__', 'z']]] } } } });
    expect(Object.entries(r.get('Chassis', U9)!.other_config)).toEqual([['__proto__', 'z'], ['constructor', 'y']]);
    r.applyUpdate2({ Chassis: { [U9]: { modify: { other_config: ['map', [['__proto__', 'z'], ['constructor', 'y']]] } } } });
    expect(Object.entries(r.get('Chassis', U9)!.other_config)).toEqual([]);
    // "constructor" and "toString" are inherited by every object: a new key, not a removal.
    r.applyUpdate2({ Chassis: { [U9]: { modify: { other_config: ['map', [['toString', 'a']]] } } } });
    expect(Object.entries(r.get('Chassis', U9)!.other_config)).toEqual([['toString', 'a']]);
  });

  it('still takes ["map", []] and an empty set for an empty column', () => {
    const r = replica();
    r.applyUpdate2({ Chassis: { [U1]: { modify: { other_config: ['map', [['k', 'v']]] } } } });
    expect(r.get('Chassis', U1)!.other_config).toEqual({});
    r.applyUpdate2({ Chassis: { [U9]: { insert: { name: 'hv9', other_config: ['map', []] } } } });
    expect(r.get('Chassis', U9)!.other_config).toEqual({});
  });
});

describe('ReplicaFollower fed an update it cannot apply', () => {
  let server: FakeJsonRpcServer;
  let follower: ReplicaFollower | undefined;
  afterEach(async () => {
    follower?.close();
    await server.stop();
  });

  it.each([
    ['a malformed update', { Chassis: { [U1]: null } }, `row ${U1} of table Chassis: the row update is null, not an object`],
    ['a modify of a row never sent', { Chassis: { [U9]: { modify: { hostname: 'h9' } } } }, `modify of row ${U9} of table Chassis, which the replica does not have`],
    ['an insert of a row it has', { Chassis: { [U1]: { insert: { name: 'hv1-twice' } } } }, `insert of row ${U1} of table Chassis, which the replica already has`],
    ['a delete of a row never sent', { Chassis: { [U9]: { delete: null } } }, `delete of row ${U9} of table Chassis, which the replica does not have`],
  ])('%s: drops the connection naming it (no crash), and resyncs with a full copy, not a resume', async (_what, bad, message) => {
    const monitors: Message[] = [];
    server = await FakeJsonRpcServer.start((msg, conn) => {
      if (msg.method === 'get_schema') return conn.reply(msg.id, schema), true;
      if (msg.method === 'transact') return conn.replyError(msg.id, 'unknown database'), true; // no _Server: standalone
      if (msg.method !== 'monitor_cond_since') return false;
      monitors.push(msg);
      const name = monitors.length === 1 ? 'hv1' : 'hv1-again';
      conn.reply(msg.id, [false, TXN, { Chassis: { [U1]: { initial: { name, hostname: 'h1' } } } }]);
      if (monitors.length === 1) {
        // A good update first (it moves the resume point), then one the replica cannot apply.
        conn.send({ method: 'update3', params: ['livetrace', TXN.replace('1111-4111', '2222-4222'), { Chassis: { [U1]: { modify: { hostname: 'h2' } } } }], id: null });
        conn.send({ method: 'update3', params: ['livetrace', TXN.replace('1111-4111', '3333-4333'), bad], id: null });
      }
      return true;
    });
    follower = new ReplicaFollower(new Replica('OVN_Southbound', spec), { remotes: server.remote, backoffMinMs: 20, backoffMaxMs: 50 });
    const unsynced: string[] = [];
    follower.on('unsynced', (why) => unsynced.push(why));
    follower.start();
    await waitFor('the resync', () => monitors.length === 2 && follower!.getStatus().synced);
    expect(unsynced[0]).toBe(`${server.remote}: protocol error: cannot handle the "update3" notification: OVN_Southbound: cannot apply an update: ${message}`);
    // The replica may hold part of the bad update: the second monitor asks for everything.
    expect((monitors[1].params as unknown[])[3]).toBe(ZERO);
    expect([...follower.replica.rows('Chassis')].map((r) => [r._uuid, r.name, r.hostname])).toEqual([[U1, 'hv1-again', 'h1']]);
  });
});

describe('JsonRpcConnection: a notification its listener cannot take', () => {
  it('closes the connection with a protocol error naming the method instead of throwing out of the socket', async () => {
    const server = await FakeJsonRpcServer.start();
    try {
      const conn = new JsonRpcConnection(await connectRemote(parseRemote(server.remote)), { remote: server.remote });
      conn.on('notification', () => {
        throw new Error('boom');
      });
      const closed = new Promise((resolve) => conn.once('close', resolve));
      const sc = (await waitFor('connection', () => server.connections[0]))!;
      sc.send({ method: 'update2', params: ['m', {}], id: null });
      const reason = await closed;
      expect(reason).toBeInstanceOf(ProtocolError);
      expect((reason as ProtocolError).detail).toBe('protocol error: cannot handle the "update2" notification: boom');
    } finally {
      await server.stop();
    }
  });
});

describe('OvsdbSession against servers that drop us right after we connect', () => {
  const servers: FakeJsonRpcServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });

  it('backs off between reconnects with two remotes, instead of redialling both without delay', async () => {
    for (let i = 0; i < 2; i++) {
      servers.push(
        await FakeJsonRpcServer.start((msg, conn) => {
          if (msg.method !== 'list_dbs') return false;
          conn.reply(msg.id, ['OVN_Southbound']);
          setTimeout(() => conn.destroy(), 5); // up, then gone: a flapping member, a proxy without backend
          return true;
        }),
      );
    }
    const session = new OvsdbSession({
      remotes: servers.map((s) => s.remote),
      backoffMinMs: 100,
      backoffMaxMs: 400,
      onConnected: async (conn) => void (await conn.request('list_dbs', [])),
    });
    const delays: number[] = [];
    session.on('backoff', (d) => delays.push(d));
    session.start();
    await new Promise((r) => setTimeout(r, 1000));
    session.close();
    // One free try to reach the second remote, then 100, 200, 400, 400 ms: about 6 connections in
    // a second (it was hundreds, every delay 0).
    expect(delays.slice(0, 4)).toEqual([0, 100, 200, 400]);
    expect(session.connectCount).toBeLessThanOrEqual(7);
  });

  it('after a connection that held, tries the other remote at once', async () => {
    let drop: (() => void) | undefined;
    for (let i = 0; i < 2; i++) {
      servers.push(
        await FakeJsonRpcServer.start((msg, conn) => {
          if (msg.method !== 'list_dbs') return false;
          conn.reply(msg.id, ['OVN_Southbound']);
          drop = () => conn.destroy();
          return true;
        }),
      );
    }
    const session = new OvsdbSession({
      remotes: servers.map((s) => s.remote),
      backoffMinMs: 100,
      backoffMaxMs: 200,
      onConnected: async (conn) => void (await conn.request('list_dbs', [])),
    });
    const delays: number[] = [];
    session.on('backoff', (d) => delays.push(d));
    session.start();
    await waitFor('up', () => session.isUp);
    await new Promise((r) => setTimeout(r, 250)); // up longer than the largest backoff
    drop!();
    await waitFor('up again', () => session.connectCount === 2);
    session.close();
    expect(delays).toEqual([0]);
  });
});

describe('ReplicaFollower on a clustered member that stops being the leader (leader-only)', () => {
  let server: FakeJsonRpcServer;
  let follower: ReplicaFollower | undefined;
  afterEach(async () => {
    follower?.close();
    await server.stop();
  });

  // Seen on a real three-member cluster (SIGSTOP the leader until another is elected, SIGCONT):
  // the _Server monitor is a monitor_cond_since one, so the step-down arrives as update3, which
  // the follower ignored: it stayed synced on a follower for good.
  it('hears the _Server change that comes as update3 and moves on at once', async () => {
    const S = '00000000-0000-4000-8000-00000000000f';
    const serverMonitors: Message[] = [];
    const monitors: Message[] = [];
    server = await FakeJsonRpcServer.start((msg, conn) => {
      if (msg.method === 'get_schema') return conn.reply(msg.id, schema), true;
      if (msg.method === 'transact') return conn.reply(msg.id, [{ rows: [{ model: 'clustered', connected: true, leader: true, index: 7 }] }]), true;
      if (msg.method !== 'monitor_cond_since') return false;
      const [db] = msg.params as string[];
      if (db === '_Server') {
        serverMonitors.push(msg);
        conn.reply(msg.id, [false, ZERO, { Database: { [S]: { initial: { name: 'OVN_Southbound', model: 'clustered', connected: true, leader: true, index: 7 } } } }]);
        return true;
      }
      monitors.push(msg);
      conn.reply(msg.id, [false, TXN, { Chassis: { [U1]: { initial: { name: 'hv1' } } } }]);
      if (monitors.length === 1) {
        setTimeout(() => conn.send({ method: 'update3', params: ['livetrace-server', ZERO, { Database: { [S]: { modify: { leader: false, index: 8 } } } }], id: null }), 20);
      }
      return true;
    });
    follower = new ReplicaFollower(new Replica('OVN_Southbound', spec), { remotes: server.remote, leaderOnly: true, backoffMinMs: 1000, backoffMaxMs: 8000 });
    const unsynced: string[] = [];
    follower.on('unsynced', (why) => unsynced.push(why));
    follower.start();
    // Back within the backoff's minimum: a deliberate move is not a failure to back off from.
    await waitFor('the move', () => monitors.length === 2 && follower!.getStatus().synced, 900);
    expect(unsynced).toEqual([`${server.remote}: member is no longer the leader`]);
    expect(serverMonitors).toHaveLength(2);
  });
});

describe('ReplicaFollower.waitSynced with a deadline', () => {
  // POST /trace-sessions waits 5 s for the replicas (ReplicasService.waitSynced); each call that
  // gave up while a database was down left a 'synced' listener on every follower (200 calls: 200
  // listeners and a MaxListenersExceededWarning).
  it('answers false at the deadline and leaves no listener behind', async () => {
    const follower = new ReplicaFollower(new Replica('Open_vSwitch', {}), { remotes: 'unix:/nonexistent/db.sock', backoffMinMs: 1000 });
    follower.start();
    try {
      for (let i = 0; i < 50; i++) expect(await follower.waitSynced(1)).toBe(false);
      expect(follower.listenerCount('synced')).toBe(0);
    } finally {
      follower.close();
    }
  });
});

describe('a monitor reply that takes longer than the request timeout to arrive', () => {
  let server: FakeJsonRpcServer;
  let follower: ReplicaFollower | undefined;
  afterEach(async () => {
    follower?.close();
    await server.stop();
  });

  // ovsdb-server writes "id" first, so a monitor reply streams; each batch of rows restarts the
  // timeout (120 s in the app). It counted from the request: a dump still arriving at the deadline
  // was dropped and asked again from the start, every time.
  it.each([
    ['arriving steadily: synced on the first try', 20, true],
    ['stalled halfway: still timed out', 0, false],
  ])('%s', async (_what, rowsAfterFirst, completes) => {
    let monitors = 0;
    server = await FakeJsonRpcServer.start((msg, conn) => {
      if (msg.method === 'get_schema') return conn.reply(msg.id, schema), true;
      if (msg.method === 'transact') return conn.replyError(msg.id, 'unknown database'), true;
      if (msg.method !== 'monitor_cond_since') return false;
      monitors++;
      const n = 1 + rowsAfterFirst;
      const rows = Array.from({ length: 21 }, (_, i) => `"00000000-0000-4000-8000-${String(i).padStart(12, '0')}":{"initial":{"name":"c${i}"}}`);
      conn.send(`{"id":${msg.id},"result":[false,"${TXN}",{"Chassis":{`);
      rows.slice(0, n).forEach((r, i) => setTimeout(() => conn.send((i ? ',' : '') + r + (i === rows.length - 1 ? '}}],"error":null}' : '')), 50 * (i + 1)));
      return true;
    });
    follower = new ReplicaFollower(new Replica('OVN_Southbound', spec), { remotes: server.remote, backoffMinMs: 100, backoffMaxMs: 200, requestTimeoutMs: 300 });
    const warnings: string[] = [];
    follower.on('log', (level, m) => level === 'warn' && warnings.push(m));
    follower.start();
    expect(await follower.waitSynced(completes ? 3000 : 1000)).toBe(completes);
    if (completes) {
      expect(monitors).toBe(1); // 21 rows over ~1 s, against a timeout of 300 ms
      expect(follower.replica.count('Chassis')).toBe(21);
    } else {
      expect(warnings[0]).toMatch(/monitor_cond_since on db OVN_Southbound @ .*: no reply within 300 ms$/);
    }
  });
});
