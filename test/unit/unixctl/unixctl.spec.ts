import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionClosedError, InvalidRequestError, RequestTimeoutError } from '../../../src/ovsdb/errors';
import { UnixctlClient, UnixctlError } from '../../../src/unixctl/client';
import {
  daemonName,
  defaultRundir,
  parseListCommands,
  resolveUnixctlSocket,
  UnixctlDiscoveryError,
} from '../../../src/unixctl/discovery';
import { FakeJsonRpcServer, rejectionOf } from '../../support/fake-jsonrpc-server';
import { waitFor } from '../../support/wait';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'unixctl-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('socket discovery (as ovs-appctl -t)', () => {
  it('uses an absolute path as the socket', async () => {
    await expect(resolveUnixctlSocket('/run/ovn/ovn-controller.42.ctl')).resolves.toEqual({ path: '/run/ovn/ovn-controller.42.ctl' });
    expect(daemonName('/run/ovn/ovn-controller.42.ctl')).toBe('ovn-controller');
  });

  it('reads <rundir>/<name>.pid and builds <rundir>/<name>.<pid>.ctl', async () => {
    writeFileSync(join(dir, 'ovs-vswitchd.pid'), '1234\n');
    await expect(resolveUnixctlSocket('ovs-vswitchd', dir)).resolves.toEqual({ path: join(dir, 'ovs-vswitchd.1234.ctl'), pid: 1234 });
  });

  it('takes the rundir from OVS_RUNDIR or OVN_RUNDIR by daemon name', () => {
    const env = { OVS_RUNDIR: '/ovs', OVN_RUNDIR: '/ovn' };
    expect(defaultRundir('ovs-vswitchd', env)).toBe('/ovs');
    expect(defaultRundir('ovn-controller', env)).toBe('/ovn');
    expect(defaultRundir('ovn-controller', {})).toBe('/var/run/ovn');
    expect(defaultRundir('ovs-vswitchd', {})).toBe('/var/run/openvswitch');
  });

  it('says which pidfile is missing or bad', async () => {
    await expect(resolveUnixctlSocket('ovn-controller', dir)).rejects.toThrow(
      new UnixctlDiscoveryError('ovn-controller', `cannot read pidfile ${join(dir, 'ovn-controller.pid')}: ENOENT`),
    );
    writeFileSync(join(dir, 'ovn-controller.pid'), 'garbage');
    await expect(resolveUnixctlSocket('ovn-controller', dir)).rejects.toThrow(/holds "garbage", not a pid/);
  });

  it('parses list-commands output', () => {
    const text = 'The available commands are:\n  coverage/show           \n  ofproto/trace           {[dp_name] odp_flow | bridge br_flow} [OPTIONS...]\n';
    expect([...parseListCommands(text)]).toEqual([
      ['coverage/show', ''],
      ['ofproto/trace', '{[dp_name] odp_flow | bridge br_flow} [OPTIONS...]'],
    ]);
  });
});

describe('UnixctlClient against a fake daemon', () => {
  let server: FakeJsonRpcServer;
  let client: UnixctlClient;
  let inFlight = 0;
  let maxInFlight = 0;

  beforeEach(async () => {
    writeFileSync(join(dir, 'fake-daemon.pid'), '77\n');
    inFlight = 0;
    maxInFlight = 0;
    server = await FakeJsonRpcServer.start(
      (msg, sc) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        const params = msg.params as string[];
        const answer = () => {
          inFlight--;
          if (msg.method === 'fail') sc.replyError(msg.id, '"fail" is not a valid command (use "list-commands" to see a list of valid commands)');
          else if (msg.method === 'hang') inFlight++;
          else sc.reply(msg.id, `${String(msg.method)}(${params.join(',')})\n`);
        };
        setTimeout(answer, 5);
        return true;
      },
      { path: join(dir, 'fake-daemon.77.ctl') },
    );
    client = new UnixctlClient({ target: 'fake-daemon', rundir: dir, timeoutMs: 2000 });
  });
  afterEach(async () => {
    client.close();
    await server.stop();
  });

  it('finds the socket through the pidfile and keeps one request in flight, answering in order', async () => {
    const replies = await Promise.all([1, 2, 3, 4, 5].map((i) => client.call('dpctl/dump-flows', [`-m`, `n${i}`])));
    expect(replies).toEqual([1, 2, 3, 4, 5].map((i) => `dpctl/dump-flows(-m,n${i})\n`));
    expect(maxInFlight).toBe(1);
    expect(server.connections).toHaveLength(1);
    expect(client.currentSocket).toEqual({ path: join(dir, 'fake-daemon.77.ctl'), pid: 77 });
  });

  it("carries the daemon's own error text, the command and the daemon", async () => {
    const err = await rejectionOf(client.call('fail'));
    expect(err).toBeInstanceOf(UnixctlError);
    expect(err).toMatchObject({ daemon: 'fake-daemon', command: 'fail' });
    expect(err.message).toBe('fake-daemon: fail failed: "fail" is not a valid command (use "list-commands" to see a list of valid commands)');
    await expect(client.call('ok')).resolves.toBe('ok()\n');
  });

  it('refuses non-string params before sending', async () => {
    await expect(client.call('x', [1 as unknown as string])).rejects.toBeInstanceOf(InvalidRequestError);
    expect(server.requests).toHaveLength(0);
  });

  it('times out a hung command, and runs the next on a fresh connection', async () => {
    const err = await rejectionOf(client.call('hang', [], { timeoutMs: 100 }));
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err.message).toBe(`hang @ unix:${join(dir, 'fake-daemon.77.ctl')}: no reply within 100 ms`);
    await expect(client.call('after')).resolves.toBe('after()\n');
    expect(server.connections).toHaveLength(2);
  });

  it('fails the in-flight request when the daemon goes away, and reconnects to the new socket after a restart', async () => {
    await client.call('warmup');
    server.script = () => true; // never answer: the daemon dies with the request in flight
    const pending = client.call('slow');
    await waitFor('request to arrive', () => server.requests.some((m) => m.method === 'slow'));
    await server.stop();
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);

    // "restart": new pid in the pidfile, new socket
    writeFileSync(join(dir, 'fake-daemon.pid'), '78\n');
    const restarted = await FakeJsonRpcServer.start(undefined, { path: join(dir, 'fake-daemon.78.ctl') });
    try {
      await expect(client.call('list-commands')).rejects.toBeInstanceOf(UnixctlError); // fake answers unknown method
      expect(client.currentSocket).toEqual({ path: join(dir, 'fake-daemon.78.ctl'), pid: 78 });
      expect(client.connectCount).toBe(2);
    } finally {
      await restarted.stop();
    }
  });
});
