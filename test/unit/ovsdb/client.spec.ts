import { OvsdbClient, TransactionError } from '../../../src/ovsdb/client';
import { InvalidRequestError } from '../../../src/ovsdb/errors';
import { JsonRpcConnection } from '../../../src/ovsdb/jsonrpc';
import { connectRemote, parseRemote } from '../../../src/ovsdb/remote';
import type { SelectOperation } from '../../../src/ovsdb/types';
import { FakeJsonRpcServer, rejectionOf } from '../../support/fake-jsonrpc-server';
import { waitFor } from '../../support/wait';

describe('OvsdbClient against a fake server', () => {
  let server: FakeJsonRpcServer;
  let conn: JsonRpcConnection;

  beforeEach(async () => {
    server = await FakeJsonRpcServer.start();
    conn = new JsonRpcConnection(await connectRemote(parseRemote(server.remote)), { remote: server.remote });
  });
  afterEach(async () => {
    conn.close();
    await server.stop();
  });

  it('falls back monitor_cond_since → monitor_cond → monitor on "unknown method" and remembers it', async () => {
    server.script = (msg, sc) => {
      if (msg.method === 'monitor') {
        sc.reply(msg.id, { Logical_Switch: { u1: { new: { name: 'sw0' } } } });
        return true;
      }
      return false; // the default answers "unknown method"
    };
    const client = new OvsdbClient(conn);
    const req = { Logical_Switch: { columns: ['name'], where: [['name', '==', 'sw0'] as [string, string, string]] } };
    const first = await client.monitor('OVN_Northbound', 'm1', req);
    expect(first).toEqual({ method: 'monitor', conditionsIgnored: true, updates: { Logical_Switch: { u1: { new: { name: 'sw0' } } } } });
    expect(server.requests.map((m) => m.method)).toEqual(['monitor_cond_since', 'monitor_cond', 'monitor']);
    // plain monitor cannot filter: the where clause is not sent
    expect(server.requests[2].params).toEqual(['OVN_Northbound', 'm1', { Logical_Switch: { columns: ['name'] } }]);
    await client.monitor('OVN_Northbound', 'm2', req);
    expect(server.requests.slice(3).map((m) => m.method)).toEqual(['monitor']);
    expect(client.features).toEqual({ monitorCondSince: false, monitorCond: false });
  });

  it('sends monitor_cond_since with the last transaction id and returns found / last id', async () => {
    server.script = (msg, sc) => {
      if (msg.method !== 'monitor_cond_since') return false;
      sc.reply(msg.id, [true, 'txn-9', null]);
      return true;
    };
    const client = new OvsdbClient(conn);
    const r = await client.monitor('OVN_Southbound', 'sb', { Logical_Flow: {} }, { lastTxnId: 'txn-7' });
    expect(r).toEqual({ method: 'monitor_cond_since', found: true, lastTxnId: 'txn-9', updates: {} });
    expect(server.requests[0].params).toEqual(['OVN_Southbound', 'sb', { Logical_Flow: {} }, 'txn-7']);
  });

  it('refuses write operations before sending anything', async () => {
    const client = new OvsdbClient(conn);
    for (const op of ['insert', 'update', 'delete', 'mutate', 'commit', undefined]) {
      const err = await rejectionOf(client.transact('OVN_Northbound', [{ op, table: 'ACL', where: [] } as unknown as SelectOperation]));
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect(err.message).toMatch(new RegExp(`^transact on db OVN_Northbound @ ${server.remote}: operation 0 is "${String(op)}"`));
    }
    expect(server.requests).toHaveLength(0);
  });

  it('names the failed operation of a transaction', async () => {
    server.script = (msg, sc) => {
      sc.reply(msg.id, [{ rows: [] }, { error: 'unknown column', details: 'no column "x" in table ACL' }]);
      return true;
    };
    const client = new OvsdbClient(conn);
    const ops: SelectOperation[] = [
      { op: 'select', table: 'ACL', where: [] },
      { op: 'select', table: 'ACL', where: [['x', '==', 1]] },
    ];
    const err = await rejectionOf(client.transact('OVN_Northbound', ops));
    expect(err).toBeInstanceOf(TransactionError);
    expect(err.message).toBe(`transact on db OVN_Northbound @ ${server.remote}: operation 1 failed: unknown column (no column "x" in table ACL)`);
  });

  it('surfaces update, update2 and update3 notifications as typed events', async () => {
    const client = new OvsdbClient(conn);
    const seen: unknown[] = [];
    client.on('update', (id, u) => seen.push(['update', id, u]));
    client.on('update2', (id, u) => seen.push(['update2', id, u]));
    client.on('update3', (id, txn, u) => seen.push(['update3', id, txn, u]));
    await client.listDbs();
    const sc = server.connections[0];
    sc.send({ id: null, method: 'update', params: ['a', { T: { u: { new: { x: 1 } } } }] });
    sc.send({ id: null, method: 'update2', params: ['b', { T: { u: { modify: { x: 2 } } } }] });
    sc.send({ id: null, method: 'update3', params: ['c', 'txn-1', { T: { u: { delete: null } } }] });
    await waitFor('three notifications', () => seen.length === 3);
    expect(seen).toEqual([
      ['update', 'a', { T: { u: { new: { x: 1 } } } }],
      ['update2', 'b', { T: { u: { modify: { x: 2 } } } }],
      ['update3', 'c', 'txn-1', { T: { u: { delete: null } } }],
    ]);
  });
});
