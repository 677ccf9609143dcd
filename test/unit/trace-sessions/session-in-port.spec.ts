// A session's in_port against the local OVS database, on a real migrated SQLite store: a datapath
// flow names the datapath port its packet came in by, and a tunnel interface (ovn-controller's
// ovn-hv2-0) has none of its own: every Geneve tunnel's packets arrive on genev_sys_6081 (the
// captured multi-chassis dumps: in_port(genev_sys_6081)). So in_port=ovn-hv2-0 was accepted and
// never traced anything, and in_port=genev_sys_6081, what the flows say, was refused as no interface.
// The replicas are a stand-in holding the Interface rows ovn-controller and a VM's port make, and
// the southbound's Chassis rows.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ApiError } from '../../../src/common/api-error';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { StoreService } from '../../../src/storage/store.service';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { PathStore } from '../../../src/paths/path-store';
import { TraceSessionStore } from '../../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { tunnelDatapathPort } from '../../../src/trace-sessions/session-selector';
import { testConfig } from '../../support/app';

// The southbound's chassis as ovn-controller registers them: name = the system-id (a UUID on many
// deployments), hostname beside it.
const SB: Record<string, Array<Record<string, unknown>>> = {
  Chassis: [
    { name: '6f1c2b9e-8d4f-4c1a-9a0e-2b7d3c4e5f60', hostname: 'compute-1' },
    { name: 'hv2', hostname: 'hv2.example' },
    // Chassis whose agents run under their hostname (LIVETRACE_CHASSIS set so): this process is
    // 'hv1', and an agent has stored flows as 'hv3.example'.
    { name: '0b7e4f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b', hostname: 'hv1' },
    { name: '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a', hostname: 'hv3.example' },
  ],
};

const ROWS: Record<string, Array<Record<string, unknown>>> = {
  Bridge: [{ name: 'br-int' }],
  Interface: [
    { name: 'br-int', type: 'internal', options: {} },
    { name: 'vif1', type: '', options: {}, external_ids: { 'iface-id': 'lsp1' } },
    { name: 'ovn-hv2-0', type: 'geneve', options: { csum: 'true', key: 'flow', remote_ip: '192.168.0.2' } },
    { name: 'ovn-hv3-0', type: 'geneve', options: { csum: 'true', key: 'flow', remote_ip: '192.168.0.3' } },
    { name: 'vx0', type: 'vxlan', options: { dst_port: '8472', remote_ip: '192.168.0.4' } },
  ],
};

describe('a session checked against this chassis and the southbound', () => {
  let ds: DataSource;
  let store: StoreService;
  let svc: TraceSessionsService;

  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'livetrace-sessions-inport-')), 'db.sqlite');
    ds = new DataSource({ ...dataSourceOptions(file), logging: false });
    await ds.initialize();
    await ds.runMigrations();
    const cfg = testConfig({ LIVETRACE_DB: file });
    store = new StoreService(ds, null, cfg);
    const replicas = {
      chassisName: () => 'hv1',
      status: () => ({ synced: true }),
      ovs: { rows: (t: string) => ROWS[t] ?? [] },
      sb: { rows: (t: string) => SB[t] ?? [] },
    } as unknown as ReplicasService;
    svc = new TraceSessionsService(cfg, store, new TraceSessionStore(store), replicas, new PathStore(store));
    await store.writer.submit((tx) =>
      tx
        .stmt(`INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, recirc_id, key, actions, packets, bytes, source) VALUES ('hv3.example', ?, ?, ?, '0', 'in_port(1)', 'drop', 1, 1, 'poller')`)
        .run('00000000-0000-0000-0000-000000000001', new Date().toISOString(), new Date().toISOString()),
    );
  });

  afterAll(async () => {
    await svc.beforeApplicationShutdown();
    await store.beforeApplicationShutdown();
    await store.onApplicationShutdown();
    await ds.destroy();
  });

  const refusal = (filter: string) =>
    svc.create({ bridge: 'br-int', filter }).then(
      () => null,
      (e: ApiError) => ({ status: e.getStatus(), ...(e.getResponse() as object) }),
    );

  it("names the tunnel's datapath port, as ovs-vswitchd names it", () => {
    expect(tunnelDatapathPort('geneve', { remote_ip: '192.168.0.2' })).toBe('genev_sys_6081');
    expect(tunnelDatapathPort('vxlan', { dst_port: '8472' })).toBe('vxlan_sys_8472');
    expect(tunnelDatapathPort('', {})).toBeUndefined();
  });

  it('refuses a tunnel interface, naming the datapath port its packets arrive on', async () => {
    expect(await refusal('in_port=ovn-hv2-0')).toMatchObject({ status: 400, field: 'filter', message: expect.stringContaining('in_port=genev_sys_6081') });
  });

  it("takes the tunnel's datapath port, and a VM's interface, as before", async () => {
    expect(await refusal('in_port=genev_sys_6081')).toBeNull();
    expect(await refusal('in_port=vxlan_sys_8472,udp')).toBeNull();
    expect(await refusal('in_port=vif1')).toBeNull();
    expect(await refusal('in_port=nosuch')).toMatchObject({ status: 400, field: 'filter', message: expect.stringContaining('no interface named "nosuch"') });
  });

  // An agent carries a session out when `chassis` names its system-id; a host's name where the
  // system-id is another (a UUID) was accepted and no agent ever took the session up.
  it('refuses a chassis given by its hostname, naming its system-id', async () => {
    const r = await svc.create({ bridge: 'br-int', filter: 'icmp', chassis: ['hv2', 'compute-1'] }).then(
      () => null,
      (e: ApiError) => ({ status: e.getStatus(), ...(e.getResponse() as object) }),
    );
    expect(r).toMatchObject({ status: 400, field: 'chassis', message: expect.stringContaining('6f1c2b9e-8d4f-4c1a-9a0e-2b7d3c4e5f60') });
    await expect(svc.create({ bridge: 'br-int', filter: 'icmp', chassis: ['hv2', '6f1c2b9e-8d4f-4c1a-9a0e-2b7d3c4e5f60'] })).resolves.toMatchObject({ onChassis: ['hv2', '6f1c2b9e-8d4f-4c1a-9a0e-2b7d3c4e5f60'] });
  });

  // The refusal is for a name no agent goes by: LIVETRACE_CHASSIS may name an agent by its host's
  // name, which then is a chassis's hostname and no chassis's name. This process's own name, and a
  // name an agent has stored datapath flows under, are taken.
  it('takes a hostname an agent carries sessions out under (this one, or one that stored flows)', async () => {
    await expect(svc.create({ bridge: 'br-int', filter: 'icmp', chassis: ['hv1'] })).resolves.toMatchObject({ onChassis: ['hv1'] });
    await expect(svc.create({ bridge: 'br-int', filter: 'icmp', chassis: ['hv3.example'] })).resolves.toMatchObject({ onChassis: ['hv3.example'] });
  });
});
