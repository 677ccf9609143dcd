// LIVETRACE_POLL_SCOPE=sessions: when every session is confined to an in_port, the poller asks
// ovs-vswitchd only for those ports' flows (dpctl/dump-flows filter=in_port=...), and still traces
// them; flows of other ports are not followed.
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(120_000);

const icmp = (from: number, to: number) =>
  `eth(src=50:54:00:00:00:0${from},dst=50:54:00:00:00:0${to}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.${to},proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`;

describe('a poller narrowed to the sessions’ ports', () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
    await sb.keepFlows();
    app = await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200', LIVETRACE_POLL_SCOPE: 'sessions' });
    http = request(app.getHttpServer());
    await waitFor('synced', async () => (await http.get('/health')).body.details?.nb_db?.synced === true, 60_000);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('dumps and traces only vif1’s flows while the only session filters on in_port=vif1', async () => {
    await http.post('/trace-sessions').send({ filter: 'in_port=vif1,icmp' }).expect(201);
    const ports = await sb.dpPorts();
    await sb.inject('vif1', `in_port(${ports.get('vif1')}),${icmp(1, 2)}`, 2);
    await sb.inject('vif2', `in_port(${ports.get('vif2')}),${icmp(2, 3)}`, 2);
    const all = (await sb.appctl('dpctl/dump-flows', '-m')).split('\n').filter((l) => l.startsWith('ufid:'));
    expect(all.some((l) => l.includes('in_port(vif2)'))).toBe(true);
    const traced = await waitFor('vif1’s passes traced', async () => {
      const r = await http.get('/traces').query({ limit: 100 });
      return r.body.items?.length >= 3 ? r.body.items : undefined;
    });
    const flows = (await http.get('/datapath-flows').query({ limit: 500 })).body.items as Array<{ inPort: string }>;
    expect(flows.length).toBeGreaterThanOrEqual(3);
    expect(flows.every((f) => f.inPort === 'vif1')).toBe(true);
    expect(traced.every((t: { ufid: string }) => all.find((l) => l.includes(t.ufid))?.includes('in_port(vif1)'))).toBe(true);
  });
});
