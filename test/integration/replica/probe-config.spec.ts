// LIVETRACE_OVSDB_PROBE_INTERVAL_MS as config/livetrace.env documents it: the inactivity probe of
// tcp:/ssl: connections, 0 disables it, and unix: sockets are never probed (OVN's
// set_idl_probe_interval: stream_or_pstream_needs_probes). Read off the connection each follower
// holds to a real ovsdb-server, built by ReplicasService from the configuration.
import { loadConfig } from '../../../src/config/config';
import { MetricsService } from '../../../src/metrics/metrics.service';
import { ReplicasService } from '../../../src/replicas/replicas.service';
import { nbctl, OvsdbServer, startOvsdbServer } from '../../support/ovsdb-server';
import { waitFor } from '../../support/wait';

jest.setTimeout(60_000);

describe('the inactivity probe a replica connection gets from the configuration', () => {
  let server: OvsdbServer;
  let service: ReplicasService | undefined;

  beforeAll(async () => {
    server = await startOvsdbServer({ schema: 'nb', tcp: true });
    nbctl(server, 'init');
  });
  afterEach(() => {
    service?.onApplicationShutdown();
    service = undefined;
  });
  afterAll(async () => {
    await server?.destroy();
  });

  async function probeOfNorthbound(env: Record<string, string>): Promise<number> {
    const config = loadConfig({ ...env, OVN_SB_DB: 'unix:/nonexistent/sb.sock', OVS_DB: 'unix:/nonexistent/db.sock' });
    service = new ReplicasService(config, new MetricsService());
    service.followers.nb.start();
    const conn = await waitFor('the northbound replica to sync', () => service!.followers.nb.session.connection);
    return conn.probeIntervalMs;
  }

  it('0 disables it on tcp:', async () => {
    expect(await probeOfNorthbound({ OVN_NB_DB: server.tcp!, LIVETRACE_OVSDB_PROBE_INTERVAL_MS: '0' })).toBe(0);
  });

  it('a value applies to tcp:', async () => {
    expect(await probeOfNorthbound({ OVN_NB_DB: server.tcp!, LIVETRACE_OVSDB_PROBE_INTERVAL_MS: '7000' })).toBe(7000);
  });

  it('never on unix:, whatever the value', async () => {
    expect(await probeOfNorthbound({ OVN_NB_DB: server.unix, LIVETRACE_OVSDB_PROBE_INTERVAL_MS: '5000' })).toBe(0);
  });
});
