// A leader-only follower on a real three-member cluster whose leader steps down while the follower
// connects to it. A proxy in front of the leader holds one direction from the follower's _Server
// monitor request on, while the test has the leader lose its leadership (SIGSTOP until another is
// elected, SIGCONT), then lets it through:
// - the leader's answers held: the step-down (an update3 on the _Server monitor) comes before the
//   follower has finished connecting (get_schema, the data monitor), and went to no listener;
// - the monitor request held: the leader answers it as a follower already, no update3 ever comes,
//   and only the select before it had been judged.
// Either way the follower stayed synced on a member that was no longer the leader, for good.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaFollower } from '../../../src/ovsdb/replica/follower';
import { Replica } from '../../../src/ovsdb/replica/replica';
import { SOUTHBOUND } from '../../../src/replicas/ovn-tables';
import { southboundCluster } from '../../support/raft-cluster';
import { waitFor } from '../../support/wait';

jest.setTimeout(180_000);

type Held = 'answers' | 'request';

/**
 * A TCP proxy to `port` that, from the first connection's monitor request for _Server on, holds
 * what the server sends back ('answers') or that request and what follows it ('request') until
 * release(); the bytes are the two ends' own, only delivered late.
 */
async function holdingProxy(port: number, hold: Held) {
  const held: Buffer[] = [];
  let holding = false;
  let released = false;
  let deliver: ((b: Buffer) => void) | undefined;
  const srv: Server = createServer((a) => {
    const b = connect(port, '127.0.0.1');
    a.on('error', () => undefined);
    b.on('error', () => undefined);
    a.on('data', (d) => {
      if (!released && !holding && /"method":"monitor[a-z_]*","params":\["_Server"/.test(d.toString('latin1'))) {
        holding = true;
        deliver = (x) => (hold === 'answers' ? a : b).write(x);
      }
      if (hold === 'request' && holding && !released) held.push(d);
      else b.write(d);
    });
    b.on('data', (d) => void (hold === 'answers' && holding && !released ? held.push(d) : a.write(d)));
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    remote: `tcp:127.0.0.1:${(srv.address() as { port: number }).port}`,
    heldBytes: () => held.reduce((n, x) => n + x.length, 0),
    release() {
      released = true;
      deliver?.(Buffer.concat(held));
    },
    close: () => new Promise((r) => srv.close(r)),
  };
}

describe.each(['answers', 'request'] as const)('a leader that steps down while the follower connects to it (%s held)', (hold) => {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-stepdown-'));
  const cluster = southboundCluster(dir);
  const { members, role, pid } = cluster;
  let follower: ReplicaFollower | undefined;
  let proxy: Awaited<ReturnType<typeof holdingProxy>> | undefined;

  afterAll(async () => {
    follower?.close();
    await proxy?.close();
    cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves it for the new leader', async () => {
    await cluster.start();
    cluster.sbctl('init');
    const leader = members.find((m) => role(m) === 'leader')!;
    const others = members.filter((m) => m !== leader);
    proxy = await holdingProxy(Number(leader.client.split(':')[2]), hold);

    // The leader (through the proxy) first: random() near 1 leaves the list in order. No probe:
    // the proxy holds the leader's bytes for a while on purpose.
    follower = new ReplicaFollower(new Replica('OVN_Southbound', SOUTHBOUND), {
      remotes: [proxy.remote, ...others.map((m) => m.client)],
      random: () => 0.999,
      leaderOnly: true,
      probeIntervalMs: 0,
      backoffMinMs: 100,
      backoffMaxMs: 400,
    });
    follower.start();
    await waitFor('the proxy to hold', () => proxy!.heldBytes() > 0);
    process.kill(pid(leader), 'SIGSTOP');
    await waitFor('another leader', () => others.some((m) => role(m) === 'leader'), 60_000);
    process.kill(pid(leader), 'SIGCONT');
    await waitFor('the old leader to step down', () => role(leader) === 'follower', 60_000);
    proxy.release();

    await waitFor('the follower synced on the leader', () => {
      const s = follower!.getStatus();
      const on = s.remote === proxy!.remote ? `${leader.name} through the proxy` : members.find((m) => m.client === s.remote)?.name;
      if (!(s.synced && s.remote !== proxy!.remote && members.some((m) => m.client === s.remote && role(m) === 'leader'))) {
        throw new Error(`synced ${s.synced} on ${on} (role ${s.remote === proxy!.remote ? role(leader) : '?'}), last error ${s.lastError}`);
      }
      return true;
    }, 30_000);
  });
});
