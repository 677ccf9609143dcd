// LIVETRACE_TRACE_METHOD=detrace on a real ovs-vswitchd that has ofproto/detrace (OVS >= 3.4: the
// debian13 and unstable pairs). ofproto/detrace finds a ukey by UFID alone, and after
// revalidator/purge the same packet installs the same first-pass UFID again with other actions (a
// new recirculation id): a new datapath flow. A pass queued for tracing while its flow was replaced
// used to be asked by UFID and stored the new flow's cached rules as its own ("ofproto/detrace
// answered"); it is now traced by its own key, and says why (flow-tracer.ts gone()).
// Made on demand: the tracer takes one flow a second (LIVETRACE_TRACE_RATE=1) and a session
// that includes the installed flows queues them in the order the poller first saw them, so the
// first pass of lsp1's echo waits behind the flows of lsp2's and lsp3's echoes sent before it; it
// is purged and installed again (and used, so its ukey gets a translation cache) meanwhile.
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import type { DatapathFlowJson } from '../../src/datapath-flows/datapath-flow-json';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

const echo = (from: number, to: number) =>
  `eth(src=50:54:00:00:00:0${from},dst=50:54:00:00:00:0${to}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.${to},proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`;

type Lifetime = DatapathFlowJson & { traces?: Array<{ id: number }> };
/** Debian 12's OVS 3.1 has no ofproto/detrace (scripts/ovn-root pairs): skipped there, reported as such. */
const PAIR = process.env.LIVETRACE_PAIR ?? 'debian12';
const withDetrace = PAIR === 'debian12' ? it.skip : it;

describe(`a detrace of a pass whose flow was replaced under the same UFID while it waited (${PAIR})`, () => {
  let sb: Sandbox;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    if (PAIR === 'debian12') return;
    sb = await Sandbox.start();
    await sb.demoTopology();
    // The flows wait in the queue for seconds: none idles out meanwhile.
    await sb.keepFlows();
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  withDetrace('stores the old pass traced by its own key, with the reason, not the new flow’s cached rules', async () => {
    expect(await sb.appctl('list-commands')).toContain('ofproto/detrace');
    app = await startApp({ ...sb.env, LIVETRACE_TRACE_METHOD: 'detrace', LIVETRACE_TRACE_RATE: '1', LIVETRACE_POLL_INTERVAL_MS: '200' });
    const http = request(app.getHttpServer());
    const ports = await sb.dpPorts();
    const [vif1, vif2, vif3] = ['vif1', 'vif2', 'vif3'].map((p) => ports.get(p)!);
    const firstPass = async () => /^ufid:([0-9a-f-]{36}), .*recirc_id\(0\),.*in_port\(vif1\).*actions:(ct\(zone=\d+\),recirc\(0x[0-9a-f]+\))/m.exec(await sb.appctl('dpctl/dump-flows', '-m'));
    const lifetimes = async (ufid: string): Promise<Lifetime[]> => {
      const r = await http.get(`/datapath-flows/${ufid}`);
      return r.status === 200 ? (r.body.lifetimes as Lifetime[]) : [];
    };
    const dumped = async () => (await sb.appctl('dpctl/dump-flows', '-m')).split('\n').filter((l) => l.startsWith('ufid:')).length;

    // The flows queued first: lsp2's and lsp3's echoes, seen by the poller before lsp1's.
    await sb.inject('vif2', `in_port(${vif2}),${echo(2, 3)}`, 1);
    await sb.inject('vif3', `in_port(${vif3}),${echo(3, 2)}`, 1);
    const fillers = await waitFor('the other echoes installed', async () => ((await dumped()) >= 4 ? dumped() : undefined));
    await waitFor('the poller to see them', async () => ((await http.get('/datapath-flows?limit=500')).body.items.length >= fillers ? true : undefined));
    await sb.inject('vif1', `in_port(${vif1}),${echo(1, 2)}`, 1);
    const before = await waitFor('lsp1’s first pass installed', firstPass);
    const ufid = before[1];
    await waitFor('its lifetime', async () => ((await lifetimes(ufid)).length ? true : undefined));

    await http.post('/trace-sessions').send({ filter: 'ip', includeExisting: true }).expect(201);
    // While it waits behind the others: purged, installed again by the same packet, used (a cache).
    await sb.appctl('revalidator/purge');
    await sb.inject('vif1', `in_port(${vif1}),${echo(1, 2)}`, 1);
    const after = await waitFor('the first pass installed again', async () => {
      const m = await firstPass();
      return m && m[1] === ufid ? m : undefined;
    });
    expect(after[2]).not.toBe(before[2]);
    for (let i = 0; i < 5; i++) await sb.inject('vif1', `in_port(${vif1}),${echo(1, 2)}`, 1);
    const both = await waitFor('the poller’s two lifetimes of the UFID', async () => {
      const l = await lifetimes(ufid);
      return l.length >= 2 ? l : undefined;
    });
    expect(both.map((l) => [l.state, l.actions])).toEqual([
      ['live', after[2]],
      ['removed', before[2]],
    ]);
    const old = both[1];

    const trace = await waitFor('the old pass’s trace', async () => {
      const l = (await lifetimes(ufid)).find((x) => x.id === old.id);
      const id = l?.traces?.[0]?.id;
      return id === undefined ? undefined : (await http.get(`/traces/${id}`).expect(200)).body;
    }, 120_000);
    // Asked while replaced: its own key traced, never the new flow's translation cache, and why.
    expect([trace.method, trace.methodReason]).toEqual(['trace', expect.stringMatching(/its UFID now a newer datapath flow/)]);
    // Its own key under the same rules (only the recirculation id moved on): consistent with its own actions.
    expect(trace.consistent).toBe(true);
  });
});
