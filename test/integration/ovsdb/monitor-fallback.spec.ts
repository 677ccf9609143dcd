// Which monitor method a server answers is learnt per connection, as lib/ovsdb-cs.c does (every
// new connection starts again at monitor_cond_since, CS_S_DATA_MONITOR_COND_SINCE_REQUESTED, and
// falls back on an error to monitor_cond, then monitor). A remote list may mix an older server, or
// a relay or proxy without monitor_cond_since, with real members: what one of them lacks says
// nothing of the next.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import { Replica } from '../../../src/ovsdb/replica/replica';
import { FakeJsonRpcServer } from '../../support/fake-jsonrpc-server';
import { nbctl, OvsdbServer, SCHEMAS, startOvsdbServer } from '../../support/ovsdb-server';
import { portsBelowEphemeral } from '../../support/ports';
import { waitFor } from '../../support/wait';

jest.setTimeout(60_000);

const LS = '00000000-0000-4000-8000-000000000001';

describe('a follower that met a server without monitor_cond_since, then a real ovsdb-server', () => {
  let fake: FakeJsonRpcServer;
  let server: OvsdbServer;
  let follower: ReplicaFollower | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-fallback-'));

  afterAll(async () => {
    follower?.close();
    await fake?.stop();
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks the real server for monitor_cond_since again, and so resumes from it after a reconnect', async () => {
    // A one-member cluster: a standalone ovsdb-server keeps no transaction history to resume from.
    const [raftPort] = await portsBelowEphemeral(1);
    const db = join(dir, 'nb.db');
    execFileSync('ovsdb-tool', ['create-cluster', db, SCHEMAS.nb, `tcp:127.0.0.1:${raftPort}`]);
    server = await startOvsdbServer({ dbFile: db });
    nbctl(server, 'ls-add', 'sw-real');
    const schema = JSON.parse(readFileSync(SCHEMAS.nb, 'utf8')) as unknown;
    // Answers like an ovsdb-server from before 2.12 (no monitor_cond_since: the fake's default
    // "unknown method"), then goes away.
    fake = await FakeJsonRpcServer.start((msg, conn) => {
      if (msg.method === 'get_schema') return conn.reply(msg.id, schema), true;
      if (msg.method === 'transact') return conn.replyError(msg.id, 'unknown database'), true; // no _Server
      if (msg.method !== 'monitor_cond') return false;
      conn.reply(msg.id, { Logical_Switch: { [LS]: { initial: { name: 'sw-old' } } } });
      setTimeout(() => conn.destroy(), 50);
      return true;
    });
    const copies: string[] = [];
    // random 0.999: the shuffle keeps the list's order, the fake first.
    follower = new ReplicaFollower(new Replica('OVN_Northbound', { Logical_Switch: { columns: ['name'] } }), {
      remotes: [fake.remote, server.unix],
      random: () => 0.999,
      backoffMinMs: 20,
      backoffMaxMs: 100,
    });
    follower.on('log', (_level, m) => m.includes('full copy') && copies.push(m));
    follower.start();

    await waitFor('a copy from the real server', () => follower!.getStatus().synced && follower!.getStatus().remote === server.unix);
    // The fallback on the old server still works, within its connection.
    expect(fake.requests.map((m) => m.method).filter((m) => String(m).startsWith('monitor'))).toEqual(['monitor_cond_since', 'monitor_cond']);
    expect(copies).toEqual([`OVN_Northbound: full copy from ${fake.remote} (monitor_cond)`, `OVN_Northbound: full copy from ${server.unix} (monitor_cond_since)`]);
    expect([...follower.replica.rows('Logical_Switch')].map((r) => r.name)).toEqual(['sw-real']);

    // monitor_cond carries no transaction id: on it, every reconnect was another full dump.
    await fake.stop();
    nbctl(server, 'ls-add', 'sw-later');
    await waitFor('the change', () => follower!.replica.count('Logical_Switch') === 2);
    execFileSync('ovs-appctl', ['-t', server.ctl, 'ovsdb-server/reconnect']);
    await waitFor('a resume', () => follower!.getStatus().resumes === 1 && follower!.getStatus().synced);
    expect(follower.getStatus().fullDumps).toBe(2);
    expect([...follower.replica.rows('Logical_Switch')].map((r) => r.name).sort()).toEqual(['sw-later', 'sw-real']);
  });
});
