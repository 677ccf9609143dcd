import { Replica } from '../../../src/ovsdb/replica/replica';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import type { DatabaseSchema } from '../../../src/ovsdb/types';
import { FakeJsonRpcServer, Message } from '../../support/fake-jsonrpc-server';
import { waitFor } from '../../support/wait';

// The follower applies a streamed full dump batch by batch. A connection lost halfway leaves the
// replica mixing old and new rows, so it must not resume from its old transaction id (the server
// would send diffs against rows that already moved on): the next sync has to be a full dump.
const schema: DatabaseSchema = {
  name: 'OVN_Southbound',
  version: '20.27.0',
  tables: { Chassis: { columns: { name: { type: 'string' }, hostname: { type: 'string' } } } },
};
const ZERO = '00000000-0000-0000-0000-000000000000';
const TXN = '11111111-1111-4111-8111-111111111111';
const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function dump(names: string[]): string {
  const rows = names.map((n, i) => `"${uuid(i)}":{"initial":{"name":"${n}","hostname":"${n}.example"}}`).join(',');
  return `"result":[false,"${TXN}",{"Chassis":{${rows}}}],"error":null}`;
}

describe('ReplicaFollower with a streamed full dump', () => {
  let server: FakeJsonRpcServer;
  let follower: ReplicaFollower | undefined;
  afterEach(async () => {
    follower?.close();
    await server.stop();
  });

  it('after a connection lost mid-dump, asks for a full dump again (not a resume) and ends equal to it', async () => {
    const monitors: Message[] = [];
    server = await FakeJsonRpcServer.start((msg, conn) => {
      if (msg.method === 'get_schema') return conn.reply(msg.id, schema), true;
      if (msg.method === 'transact') return conn.replyError(msg.id, 'unknown database'), true; // no _Server: standalone
      if (msg.method !== 'monitor_cond_since') return false;
      monitors.push(msg);
      const attempt = monitors.length;
      const text = `{"id":${msg.id},${dump(attempt === 1 ? ['a', 'b'] : attempt === 2 ? ['c', 'd', 'e', 'f'] : ['x', 'y'])}`;
      if (attempt === 1) {
        conn.send(text); // synced at TXN, then the server goes away
        setTimeout(() => conn.destroy(), 50);
      } else if (attempt === 2) {
        // found=false again (TXN is gone from its history): first rows sent, then it dies mid-reply
        conn.send(text.slice(0, text.indexOf('"e"')));
        setTimeout(() => conn.destroy(), 50);
      } else conn.send(text);
      return true;
    });
    follower = new ReplicaFollower(new Replica('OVN_Southbound', { Chassis: { columns: ['name', 'hostname'] } }), {
      remotes: server.remote,
      backoffMinMs: 50,
      backoffMaxMs: 100,
    });
    const seen: string[] = [];
    follower.replica.on('change', (c) => seen.push(`${c.kind} ${String(c.row.name)}`));
    follower.start();
    await waitFor('the third sync', () => monitors.length === 3 && follower!.getStatus().synced);
    expect((monitors[1].params as unknown[])[3]).toBe(TXN); // a resume was tried after the first drop
    expect(seen.slice(2, 4)).toEqual(['modify c', 'modify d']); // the second dump, applied as it arrived
    expect((monitors[2].params as unknown[])[3]).toBe(ZERO); // half a dump is not a resume point
    expect([...follower.replica.rows('Chassis')].map((r) => r.name).sort()).toEqual(['x', 'y']);
    expect(follower.getStatus()).toMatchObject({ synced: true, fullDumps: 2, lastTxnId: TXN });
  });
});
