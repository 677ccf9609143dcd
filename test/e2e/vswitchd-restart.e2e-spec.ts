// ovs-vswitchd restarts under a live session (new pid, new control socket, every UFID and
// recirculation id gone): the service notices, closes the old lifetimes, and goes on tracing
// the new flows without being restarted itself.
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startDemoApp } from '../support/app';
import type { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(180_000);

const ICMP = 'eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)';

describe('an ovs-vswitchd restart during a session', () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  const vif1 = async () => (await sb.dpPorts()).get('vif1')!;

  beforeAll(async () => {
    ({ sb, app, http } = await startDemoApp({ LIVETRACE_POLL_INTERVAL_MS: '200' }));
    await sb.keepFlows();
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('is recovered: old lifetimes closed as vswitchd_restarted, new flows traced', async () => {
    await http.post('/trace-sessions').send({ logicalPort: 'lsp1' }).expect(201);
    await sb.inject('vif1', `in_port(${await vif1()}),${ICMP}`, 2);
    const before = await waitFor('a stored output trace', async () => {
      const r = await http.get('/traces?logical_port=lsp1&verdict=output');
      return r.body.items?.length ? r.body.items : undefined;
    });
    const oldPid = (await http.get('/health')).body.details.vswitchd.pid;

    await sb.restartVswitchd();
    await sb.nbctl('--wait=hv', 'sync');
    await waitFor('old lifetimes closed', async () => {
      const r = await http.get(`/datapath-flows/${before[0].ufid}`);
      return r.body.lifetimes?.[0]?.removalReason === 'vswitchd_restarted';
    }, 60_000);
    const health = (await http.get('/health')).body.details.vswitchd;
    expect(health.pid).not.toBe(oldPid);
    expect(health.restarts).toBe(1);

    // ovn-controller reconnects to the new ovs-vswitchd and reinstalls its OpenFlow rules after
    // a while; until then packets are dropped (and traced as such). Wait for forwarding.
    await waitFor('lsp1 -> lsp2 forwarded again', async () => {
      await sb.inject('vif1', `in_port(${await vif1()}),${ICMP}`, 1);
      return /in_port\(vif1\).*actions:.*\bvif2\b/.test(await sb.appctl('dpctl/dump-flows', '-m'));
    }, 90_000);
    const after = await waitFor('a new trace after the restart', async () => {
      const r = await http.get('/traces?logical_port=lsp1&verdict=output');
      return r.body.items?.find((t: { id: number }) => t.id > before[0].id);
    }, 60_000).catch(async (err) => {
      const s = (await http.get('/trace-sessions/1')).body;
      const m = (await http.get('/metrics')).text.split('\n').filter((l) => l.startsWith('livetrace_traces_total') || l.startsWith('livetrace_datapath'));
      const h = (await http.get('/health')).body.details.vswitchd;
      throw new Error(`${err.message}; session ${JSON.stringify(s.stats)}; ${m.join(' | ')}; vswitchd ${JSON.stringify(h)}`);
    });
    expect(after.consistent).toBe(true);
    expect((await http.get('/trace-sessions/1')).body.state).toBe('active');
  });
});
