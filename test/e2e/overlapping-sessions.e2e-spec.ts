// Two trace sessions wanting the same pass (two engineers tracing lsp1, or overlapping filters) on
// a real sandbox: the pass is traced and stored once, and each session counts it in stats.stored,
// so each must find it too: GET /traces?session=, with a port, and the stream's session filter.
// The stored trace named the first session only, so the second session's stats said "stored 6"
// and its traces were empty.
import type { AddressInfo } from 'node:net';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { startApp } from '../support/app';
import { Sandbox } from '../support/sandbox';
import { readSse } from '../support/sse';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

const MAC = (n: number) => `50:54:00:00:00:0${n}`;
const IP = (n: number) => `10.0.0.${n}`;
const icmp = (from: number, to: number) =>
  `eth(src=${MAC(from)},dst=${MAC(to)}),eth_type(0x0800),ipv4(src=${IP(from)},dst=${IP(to)},proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)`;

describe('two sessions wanting the same passes', () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let base = '';
  const dpPort = new Map<string, number>();

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
    await sb.keepFlows(120_000);
    for (const [name, port] of await sb.dpPorts()) dpPort.set(name, port);
    app = await startApp({ ...sb.env, LIVETRACE_POLL_INTERVAL_MS: '200' });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    http = request(app.getHttpServer());
    await waitFor('service healthy', async () => (await http.get('/health')).status === 200, 60_000);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it("each session finds every trace its stats count: ?session=, with logical_port, and the stream's session filter", async () => {
    const a = (await http.post('/trace-sessions').send({ bridge: 'br-int', logicalPort: 'lsp1' }).expect(201)).body.id as number;
    // Overlapping: every packet of lsp1 here is ICMP.
    const b = (await http.post('/trace-sessions').send({ bridge: 'br-int', logicalPort: 'lsp1', filter: 'icmp' }).expect(201)).body.id as number;
    await sb.inject('vif1', `in_port(${dpPort.get('vif1')}),${icmp(1, 2)}`, 2);
    const stored = await waitFor('both sessions stored the passes', async () => {
      const sa = (await http.get(`/trace-sessions/${a}`)).body.stats;
      const sbs = (await http.get(`/trace-sessions/${b}`)).body.stats;
      return sa?.stored > 0 && sbs?.stored > 0 && sa.stored === sbs.stored ? sbs.stored as number : undefined;
    }, 60_000);
    const ids = async (query: Record<string, string | number>) =>
      ((await http.get('/traces').query({ ...query, limit: 100 }).expect(200)).body.items as Array<{ id: number }>).map((t) => t.id).sort((x, y) => x - y);
    const ofA = await ids({ session: a });
    expect(ofA).toHaveLength(stored);
    expect(await ids({ session: b })).toEqual(ofA);
    expect(await ids({ session: b, logical_port: 'lsp1' })).toEqual(ofA);
    expect(await ids({ session: b, logical_port: 'lsp1', role: 'inport' })).toEqual(ofA);

    const ac = new AbortController();
    const res = await fetch(`${base}/traces/stream?session=${b}`, { signal: ac.signal, headers: { 'Last-Event-ID': '0' } });
    expect(res.status).toBe(200);
    const s = readSse<{ id: number }>(res);
    try {
      await waitFor('the stream to start', async () => s.comments.some((c) => c.startsWith('after trace')) || undefined, 30_000);
      await waitFor("the stream to send session b's traces", async () => (s.items.length >= stored ? true : undefined), 15_000).catch(() => undefined);
      expect(s.items.map((t) => t.id).sort((x, y) => x - y)).toEqual(ofA);
    } finally {
      ac.abort();
      await s.done;
    }
  });
});
