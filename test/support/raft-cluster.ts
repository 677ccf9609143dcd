// A real three-member clustered OVN_Southbound (ovsdb-tool create-cluster, join-cluster, one
// ovsdb-server a member, raft and clients on loopback TCP) in a folder the spec owns, for the
// replica specs that follow a leader through its step-down or death.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { SCHEMAS } from './ovsdb-server';
import { portsBelowEphemeral } from './ports';
import { waitFor } from './wait';

export interface ClusterMember {
  name: string;
  db: string;
  ctl: string;
  pidfile: string;
  raft: string;
  client: string;
}

/** The cluster's parts; its members are listed before any is started, so stop() finds whatever start() got to. */
export function southboundCluster(dir: string) {
  const members: ClusterMember[] = [];
  /** The member's raft role as cluster/status says it, 'down' when it does not answer. */
  const role = (m: ClusterMember): string =>
    /Role: (\w+)/.exec(spawnSync('ovs-appctl', ['-t', m.ctl, 'cluster/status', 'OVN_Southbound'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 'down';
  const pid = (m: ClusterMember): number => Number(execFileSync('cat', [m.pidfile], { encoding: 'utf8' }));
  const remotes = (): string => members.map((m) => m.client).join(',');
  return {
    members,
    role,
    pid,
    remotes,
    /** ovn-sbctl against every member (the leader unless --no-leader-only), its output. */
    sbctl: (...args: string[]): string => execFileSync('ovn-sbctl', [`--db=${remotes()}`, ...args], { encoding: 'utf8' }),
    /** The three members made and started, once they have a leader and two followers. */
    async start(): Promise<void> {
      const ports = await portsBelowEphemeral(6);
      for (let i = 1; i <= 3; i++) {
        members.push({
          name: `s${i}`,
          db: join(dir, `s${i}.db`),
          ctl: join(dir, `s${i}.ctl`),
          pidfile: join(dir, `s${i}.pid`),
          raft: `tcp:127.0.0.1:${ports[2 * i - 2]}`,
          client: `tcp:127.0.0.1:${ports[2 * i - 1]}`,
        });
      }
      execFileSync('ovsdb-tool', ['create-cluster', members[0].db, SCHEMAS.sb, members[0].raft], { stdio: 'ignore' });
      for (const m of members.slice(1)) execFileSync('ovsdb-tool', ['join-cluster', m.db, 'OVN_Southbound', m.raft, members[0].raft]);
      for (const m of members) {
        execFileSync('ovsdb-server', [
          '--detach', '--no-chdir', `--pidfile=${m.pidfile}`, `--log-file=${join(dir, m.name + '.log')}`,
          `--unixctl=${m.ctl}`, `--remote=ptcp:${m.client.split(':')[2]}:127.0.0.1`, '-vconsole:off', m.db,
        ], { stdio: 'ignore' });
      }
      await waitFor('a leader and two followers', () => isDeepStrictEqual(members.map(role).sort(), ['follower', 'follower', 'leader']), 60_000);
    },
    /** Every member killed, a stopped one (SIGSTOP) too. */
    stop(): void {
      for (const m of members) spawnSync('sh', ['-c', `kill -CONT $(cat ${m.pidfile}) 2>/dev/null; kill -9 $(cat ${m.pidfile}) 2>/dev/null`]);
    },
  };
}
