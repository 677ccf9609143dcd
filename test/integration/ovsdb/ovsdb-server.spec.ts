// The OVSDB client against a real ovsdb-server over Unix, TCP and TLS (ovs-pki certificates).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OvsdbClient } from '../../../src/ovsdb/client';
import { ConnectError, InvalidRequestError, JsonRpcRemoteError } from '../../../src/ovsdb/errors';
import { JsonRpcConnection } from '../../../src/ovsdb/jsonrpc';
import { connectRemote, defaultProbeIntervalMs, parseRemote } from '../../../src/ovsdb/remote';
import { OvsdbSession } from '../../../src/ovsdb/session';
import { syncInitial } from '../../../src/ovsdb/sync';
import type { SelectOperation, TableUpdates2 } from '../../../src/ovsdb/types';
import { rejectionOf } from '../../support/fake-jsonrpc-server';
import { waitFor } from '../../support/wait';
import { nbctl, OvsdbServer, startOvsdbServer } from '../../support/ovsdb-server';

jest.setTimeout(60_000);

let server: OvsdbServer;
const open: JsonRpcConnection[] = [];

beforeAll(async () => {
  server = await startOvsdbServer({ schema: 'nb', tcp: true, ssl: true });
});
afterAll(async () => {
  for (const c of open) c.close();
  await server?.destroy();
});

async function client(remoteText: string): Promise<OvsdbClient> {
  const remote = parseRemote(remoteText);
  const stream = await connectRemote(remote, { tls: server.tls });
  const conn = new JsonRpcConnection(stream, { remote: remote.text, probeIntervalMs: defaultProbeIntervalMs(remote), requestTimeoutMs: 20_000 });
  open.push(conn);
  return new OvsdbClient(conn);
}

describe.each(['unix', 'tcp', 'ssl'] as const)('over %s', (kind) => {
  let c: OvsdbClient;
  const remote = () => server[kind]!;

  beforeAll(async () => {
    c = await client(remote());
  });

  it('lists the databases', async () => {
    expect(await c.listDbs()).toEqual(expect.arrayContaining(['OVN_Northbound', '_Server']));
  });

  it('reads the OVN_Northbound schema', async () => {
    const schema = await c.getSchema('OVN_Northbound');
    expect(schema.name).toBe('OVN_Northbound');
    expect(Object.keys(schema.tables)).toEqual(expect.arrayContaining(['ACL', 'Logical_Switch', 'Logical_Switch_Port', 'Load_Balancer']));
  });

  it('names the database in a server error', async () => {
    const err = await rejectionOf(c.getSchema('Nope'));
    expect(err).toBeInstanceOf(JsonRpcRemoteError);
    expect(err.message).toMatch(new RegExp(`^get_schema on db Nope @ ${remote()}: server error: unknown database`));
  });

  it('selects rows, and refuses anything but select before sending it', async () => {
    nbctl(server, '--may-exist', 'ls-add', `sel-${kind}`);
    const [res] = await c.transact('OVN_Northbound', [
      { op: 'select', table: 'Logical_Switch', where: [['name', '==', `sel-${kind}`]], columns: ['name', '_uuid'] },
    ]);
    expect(res.rows).toEqual([{ name: `sel-${kind}`, _uuid: ['uuid', expect.stringMatching(/^[0-9a-f-]{36}$/)] }]);
    const write = { op: 'delete', table: 'Logical_Switch', where: [] } as unknown as SelectOperation;
    await expect(c.transact('OVN_Northbound', [write])).rejects.toBeInstanceOf(InvalidRequestError);
    expect(nbctl(server, 'ls-list')).toContain(`sel-${kind}`);
  });

  it('monitors with monitor_cond_since and receives update3 after ovn-nbctl changes', async () => {
    nbctl(server, '--may-exist', 'ls-add', `pre-${kind}`);
    const res = await c.monitor('OVN_Northbound', `mon-${kind}`, {
      Logical_Switch: { columns: ['name', 'ports', 'external_ids'] },
      Logical_Switch_Port: { columns: ['name', 'addresses'] },
    });
    expect(res.method).toBe('monitor_cond_since');
    const initialNames = Object.values(res.updates.Logical_Switch ?? {}).map((u) => u.initial?.name);
    expect(initialNames).toContain(`pre-${kind}`);

    const updates: TableUpdates2[] = [];
    c.on('update3', (id, _txn, u) => id === `mon-${kind}` && updates.push(u));
    nbctl(server, 'ls-add', `sw-${kind}`, '--', 'lsp-add', `sw-${kind}`, `p-${kind}`, '--', 'lsp-set-addresses', `p-${kind}`, '50:54:00:00:00:01 10.0.0.1');
    const inserted = await waitFor(
      'insert of the new port',
      () => updates.flatMap((u) => Object.values(u.Logical_Switch_Port ?? {})).find((r) => r.insert?.name === `p-${kind}`),
    );
    expect(inserted.insert).toMatchObject({ name: `p-${kind}`, addresses: '50:54:00:00:00:01 10.0.0.1' });
    nbctl(server, 'ls-del', `sw-${kind}`);
    await waitFor('delete of the switch', () => updates.some((u) => Object.values(u.Logical_Switch ?? {}).some((r) => 'delete' in r)));
    await c.monitorCancel(`mon-${kind}`);
  });

  it('falls back to monitor_cond and monitor when the server does not know the newer methods', async () => {
    const old = new OvsdbClient(c.conn, { monitorCondSince: false });
    const r1 = await old.monitor('OVN_Northbound', `cond-${kind}`, { NB_Global: { columns: ['nb_cfg'] } });
    expect(r1.method).toBe('monitor_cond');
    const r2 = await new OvsdbClient(c.conn, { monitorCondSince: false, monitorCond: false }).monitor('OVN_Northbound', `plain-${kind}`, {
      Logical_Switch: { columns: ['name'], where: [['name', '==', 'x']] },
    });
    expect(r2).toMatchObject({ method: 'monitor', conditionsIgnored: true });
    expect(Object.values(r2.updates.Logical_Switch ?? {})[0]).toHaveProperty('new');
  });

  it('answers echo, and set_db_change_aware', async () => {
    expect(await c.echo(['ping'])).toEqual(['ping']);
    await expect(c.setDbChangeAware()).resolves.toBeUndefined();
  });
});

describe('TLS', () => {
  it('rejects a server whose certificate is not signed by our CA', async () => {
    const other = mkdtempSync(join(tmpdir(), 'livetrace-pki-'));
    try {
      execFileSync('ovs-pki', [`--dir=${join(other, 'pki')}`, 'init'], { stdio: 'ignore' });
      const tls = { ...server.tls!, caCert: join(other, 'pki', 'switchca', 'cacert.pem') };
      const err = await rejectionOf(connectRemote(parseRemote(server.ssl!), { tls }));
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.message).toMatch(new RegExp(`^${server.ssl}: cannot connect: .*(certificate|self.signed)`, 'i'));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('session across a server restart', () => {
  it('reconnects to the restarted server, re-issues its monitor in onConnected and sees new changes', async () => {
    const seen: string[] = [];
    let c: OvsdbClient | undefined;
    const events: string[] = [];
    const session = new OvsdbSession({
      remotes: `${server.tcp},${server.unix}`,
      tls: server.tls,
      backoffMinMs: 100,
      backoffMaxMs: 400,
      onConnected: async (conn) => {
        c = new OvsdbClient(conn);
        c.on('update3', (_id, _t, u) => Object.values(u.Logical_Switch ?? {}).forEach((r) => r.insert && seen.push(String(r.insert.name))));
        const r = await c.monitor('OVN_Northbound', 'restart', { Logical_Switch: { columns: ['name'] } });
        if (r.method !== 'monitor') Object.values(r.updates.Logical_Switch ?? {}).forEach((u) => u.initial && seen.push(String(u.initial.name)));
      },
    });
    session.on('disconnected', (r, why) => events.push(`disconnected ${r}: ${why}`));
    session.on('error', () => undefined);
    try {
      session.start();
      await session.waitUp();
      nbctl(server, 'ls-add', 'before-restart');
      await waitFor('update before restart', () => seen.includes('before-restart'));

      const oldPid = server.pid();
      await server.restart();
      expect(server.pid()).not.toBe(oldPid);
      await waitFor('reconnect after restart', () => session.connectCount >= 2 && session.isUp, 30_000);
      expect(events[0]).toMatch(/^disconnected (tcp|unix):.*: peer closed the connection/);
      nbctl(server, 'ls-add', 'after-restart');
      await waitFor('update after restart', () => seen.includes('after-restart'));
    } finally {
      session.close();
    }
  });
});

describe('syncInitial (what bench/ovsdb-sync calls)', () => {
  it('counts the rows and bytes of an initial monitor reply', async () => {
    const names = nbctl(server, '--bare', '--columns=name', 'list', 'Logical_Switch').split('\n').filter(Boolean);
    const r = await syncInitial(server.unix, 'OVN_Northbound', { Logical_Switch: ['name'], NB_Global: null });
    expect(r.rowsByTable.Logical_Switch).toBe(names.length);
    expect(r.rowsByTable.NB_Global).toBe(1);
    expect(r.rows).toBe(names.length + 1);
    expect(r.bytes).toBeGreaterThan(100);
    expect(r.method).toBe('monitor_cond_since');
  });
});
