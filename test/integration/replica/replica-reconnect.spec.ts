// Reconnects: a standalone server killed and restarted (full resync: what was deleted while it
// was down is gone), and a real three-member raft cluster whose leader is killed while we follow
// it (we move on, resume from our transaction id without a full dump, never go back in time).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import { Replica } from '../../../src/ovsdb/replica/replica';
import { NORTHBOUND, SOUTHBOUND } from '../../../src/replicas/ovn-tables';
import { dumpTable, replicaTable } from '../../support/ovsdb-dump';
import { nbctl, startOvsdbServer, OvsdbServer } from '../../support/ovsdb-server';
import { southboundCluster } from '../../support/raft-cluster';
import { waitFor } from '../../support/wait';

jest.setTimeout(180_000);

const NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema';
const SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema';

async function sameAsServer(f: ReplicaFollower, remote: string, schema: string, table: string, columns: string[]): Promise<boolean> {
  const server = await dumpTable(remote, f.replica.database, schema, table, columns);
  return isDeepStrictEqual(replicaTable(f.replica.rows(table) as Iterable<Record<string, unknown>>, columns), server);
}

describe('a standalone server killed and restarted', () => {
  let server: OvsdbServer;
  let follower: ReplicaFollower;

  afterAll(async () => {
    follower?.close();
    await server?.destroy();
  });

  it('is followed again with a full resync; rows deleted while it was down are gone', async () => {
    server = await startOvsdbServer({ schema: 'nb' });
    nbctl(server, 'init');
    for (const sw of ['sw0', 'sw1', 'sw2']) nbctl(server, 'ls-add', sw);
    follower = new ReplicaFollower(new Replica('OVN_Northbound', NORTHBOUND), { remotes: server.unix, backoffMinMs: 100, backoffMaxMs: 400 });
    follower.start();
    await follower.waitSynced();
    expect(follower.replica.count('Logical_Switch')).toBe(3);

    process.kill(server.pid(), 'SIGKILL');
    await waitFor('the follower to notice', () => !follower.getStatus().synced);
    // While the server is down, change its database file offline.
    execFileSync('ovsdb-tool', [
      'transact',
      server.db,
      JSON.stringify(['OVN_Northbound', { op: 'delete', table: 'Logical_Switch', where: [['name', '==', 'sw1']] }]),
    ]);
    await server.restart();
    await waitFor('a new full copy', () => follower.getStatus().synced && follower.getStatus().fullDumps === 2);
    const names = [...follower.replica.rows('Logical_Switch')].map((r) => r.name).sort();
    expect(names).toEqual(['sw0', 'sw2']);
    expect(follower.replica.tombstonesByPrefix('Logical_Switch', '').length).toBe(0); // NB keeps no tombstones
    expect(await sameAsServer(follower, server.unix, NB_SCHEMA, 'Logical_Switch', ['name', 'ports'])).toBe(true);
  });
});

describe('a three-member clustered southbound database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-raft-'));
  const cluster = southboundCluster(dir);
  const { members, role, remotes, sbctl } = cluster;
  let follower: ReplicaFollower;

  afterAll(async () => {
    follower?.close();
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows the leader, moves on when it dies, resumes without a full dump, ends equal to the server', async () => {
    await cluster.start();
    sbctl('init');
    for (let i = 0; i < 5; i++) sbctl('chassis-add', `hv${i}`, 'geneve', `127.0.0.${i + 1}`);

    follower = new ReplicaFollower(new Replica('OVN_Southbound', SOUTHBOUND), { remotes: remotes(), leaderOnly: true, backoffMinMs: 100, backoffMaxMs: 800 });
    const deleted: string[] = [];
    follower.replica.on('change', (c) => c.kind === 'delete' && c.table === 'Chassis' && deleted.push(String(c.row.name)));
    follower.start();
    await follower.waitSynced();
    expect(follower.getStatus().model).toBe('clustered');
    const leader = members.find((m) => follower.getStatus().remote === m.client)!;
    expect(role(leader)).toBe('leader');
    expect(follower.replica.count('Chassis')).toBe(5);

    process.kill(cluster.pid(leader), 'SIGKILL');
    await waitFor('a new leader', () => members.filter((m) => m !== leader).some((m) => role(m) === 'leader'), 60_000);
    for (let i = 5; i < 8; i++) sbctl('--no-leader-only', 'chassis-add', `hv${i}`, 'geneve', `127.0.0.${i + 1}`);
    await waitFor('the follower back on the new leader with every chassis', () => {
      const s = follower.getStatus();
      return s.synced && s.remote !== leader.client && follower.replica.count('Chassis') === 8;
    }, 60_000);
    const s = follower.getStatus();
    expect(role(members.find((m) => m.client === s.remote)!)).toBe('leader');
    expect(s.resumes).toBeGreaterThanOrEqual(1); // monitor_cond_since answered found=true
    expect(s.fullDumps).toBe(1);
    expect(deleted).toEqual([]); // never served rows older than it had
    const live = members.find((m) => m.client === s.remote)!.client;
    expect(await sameAsServer(follower, live, SB_SCHEMA, 'Chassis', ['name', 'hostname', 'external_ids'])).toBe(true);
  });
});
