// The unixctl client against a real daemon's control socket: ovsdb-server speaks unixctl too.
import { execFileSync } from 'node:child_process';
import { UnixctlClient, UnixctlError } from '../../../src/unixctl/client';
import { rejectionOf } from '../../support/fake-jsonrpc-server';
import { OvsdbServer, startOvsdbServer } from '../../support/ovsdb-server';

jest.setTimeout(60_000);

describe('unixctl on a real ovsdb-server', () => {
  let server: OvsdbServer;
  const clients: UnixctlClient[] = [];

  beforeAll(async () => {
    server = await startOvsdbServer({ schema: 'nb', unixctl: 'pidfile' });
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await server?.destroy();
  });

  function client(target: string, rundir?: string): UnixctlClient {
    const c = new UnixctlClient({ target, rundir, timeoutMs: 10_000 });
    clients.push(c);
    return c;
  }

  it('finds the socket through the pidfile under OVS_RUNDIR, as ovs-appctl -t ovsdb-server does', async () => {
    const c = new UnixctlClient({ target: 'ovsdb-server', env: { OVS_RUNDIR: server.dir } });
    clients.push(c);
    const viaAppctl = execFileSync('ovs-appctl', ['-t', 'ovsdb-server', 'ovsdb-server/list-dbs'], {
      env: { ...process.env, OVS_RUNDIR: server.dir },
    }).toString();
    await expect(c.call('ovsdb-server/list-dbs')).resolves.toBe(viaAppctl);
    expect(viaAppctl.split('\n')).toEqual(expect.arrayContaining(['OVN_Northbound']));
    expect(c.currentSocket).toEqual({ path: server.ctl, pid: server.pid() });
  });

  it('detects features with list-commands', async () => {
    const c = client(server.ctl);
    expect(await c.has('ovsdb-server/list-dbs')).toBe(true);
    expect(await c.has('ofproto/detrace')).toBe(false);
    const commands = await c.listCommands();
    expect(commands.get('ovsdb-server/add-db')).toBe('DB');
  });

  it("returns the daemon's own error text", async () => {
    const c = client(server.ctl);
    const err = await rejectionOf(c.call('no/such-command', ['x']));
    expect(err).toBeInstanceOf(UnixctlError);
    expect(err.message).toMatch(/^ovsdb-server: no\/such-command failed: "no\/such-command" is not a valid command/);
    const bad = await rejectionOf(c.call('ovsdb-server/add-db'));
    expect(bad).toMatchObject({ command: 'ovsdb-server/add-db' });
    expect(bad.message).toMatch(/requires at least 1 arguments/);
  });

  it('passes string params through', async () => {
    const c = client('ovsdb-server', server.dir);
    await expect(c.call('coverage/read-counter', ['unixctl_received'])).resolves.toMatch(/^\d+\n$/);
  });

  it('reconnects to the new socket after the daemon restarts (new pid from the pidfile)', async () => {
    const c = client('ovsdb-server', server.dir);
    await c.call('ovsdb-server/list-dbs');
    const before = c.currentSocket!;
    expect(await c.has('ovsdb-server/list-dbs')).toBe(true);
    await server.restart();
    const after = server.pid();
    expect(after).not.toBe(before.pid);
    await expect(c.call('ovsdb-server/list-dbs')).resolves.toContain('OVN_Northbound');
    expect(c.currentSocket).toEqual({ path: `${server.dir}/ovsdb-server.${after}.ctl`, pid: after });
    expect(c.connectCount).toBe(2);
  });
});
