// A clustered database destroyed and created again (ovsdb-tool create-cluster, as after losing
// every member or restoring a backup into a new cluster) starts again at a low raft index, under a
// new cluster id. The follower refuses a member whose index is below the highest it has seen (a
// stale member of the same cluster); a new cluster id says the index counts from scratch. The OVS
// IDL needs `ovn-appctl sb-cluster-state-reset` for this; without one the replica stayed unsynced.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import { Replica } from '../../../src/ovsdb/replica/replica';
import { NORTHBOUND } from '../../../src/replicas/ovn-tables';
import { SCHEMAS } from '../../support/ovsdb-server';
import { portsBelowEphemeral } from '../../support/ports';
import { waitFor } from '../../support/wait';

jest.setTimeout(120_000);

describe('a one-member cluster destroyed and created again on the same remote', () => {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-rebuilt-'));
  const db = join(dir, 'nb.db');
  const pidfile = join(dir, 'ovsdb-server.pid');
  let client = '';
  let raft = '';
  let follower: ReplicaFollower | undefined;
  const nbctl = (...args: string[]) => execFileSync('ovn-nbctl', [`--db=${client}`, ...args], { encoding: 'utf8' });

  async function startCluster(): Promise<void> {
    execFileSync('ovsdb-tool', ['create-cluster', db, SCHEMAS.nb, raft], { stdio: 'ignore' });
    execFileSync('ovsdb-server', [
      '--detach', '--no-chdir', `--pidfile=${pidfile}`, `--log-file=${join(dir, 'ovsdb-server.log')}`,
      `--unixctl=${join(dir, 'ovsdb-server.ctl')}`, `--remote=ptcp:${client.split(':')[2]}:127.0.0.1`, '-vconsole:off', db,
    ], { stdio: 'ignore' });
    await waitFor('the new cluster to take a write', () => spawnSync('ovn-nbctl', [`--db=${client}`, '--timeout=2', 'init']).status === 0);
  }

  async function stopCluster(): Promise<void> {
    spawnSync('sh', ['-c', `kill $(cat ${pidfile}) 2>/dev/null`]);
    await waitFor('ovsdb-server to exit', () => !existsSync(pidfile));
    rmSync(db, { force: true });
  }

  afterAll(async () => {
    follower?.close();
    spawnSync('sh', ['-c', `kill -9 $(cat ${pidfile}) 2>/dev/null`]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is followed again: the new cluster id resets the raft index the follower holds it to', async () => {
    const [raftPort, clientPort] = await portsBelowEphemeral(2);
    raft = `tcp:127.0.0.1:${raftPort}`;
    client = `tcp:127.0.0.1:${clientPort}`;
    await startCluster();
    for (let i = 0; i < 20; i++) nbctl('ls-add', `old${i}`);

    follower = new ReplicaFollower(new Replica('OVN_Northbound', NORTHBOUND), { remotes: client, backoffMinMs: 100, backoffMaxMs: 400 });
    follower.start();
    await follower.waitSynced();
    const oldIndex = follower.getStatus().index!;
    expect(follower.replica.count('Logical_Switch')).toBe(20);

    await stopCluster();
    await waitFor('the follower to notice', () => !follower!.getStatus().synced);
    await startCluster();
    nbctl('ls-add', 'new0');

    await waitFor('the follower synced to the new cluster', () => {
      const s = follower!.getStatus();
      if (!s.synced && s.lastError) throw new Error(s.lastError); // named if the wait fails
      return s.synced && follower!.replica.count('Logical_Switch') === 1;
    });
    expect([...follower.replica.rows('Logical_Switch')].map((r) => r.name)).toEqual(['new0']);
    expect(follower.getStatus().index!).toBeLessThan(oldIndex);
  });
});
