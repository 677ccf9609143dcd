// GET /traces and the audits run in the reader threads (issue 18 #7: big pages on the event loop
// delayed tracing; issue 19: the audits saturated the loop at 8 connections): their bodies are byte
// for byte what the in-process reads give, and a worker that dies answers its queries 503 in the one
// error shape and is started again.
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { ApiError } from '../../src/common/api-error';
import { cursor, traceCursor } from '../../src/common/query';
import { AuditQuery, LogicalFlowStore } from '../../src/logical-flows/logical-flow-store';
import { ReadPool } from '../../src/read-workers/read-pool';
import { ReplicasService } from '../../src/replicas/replicas.service';
import { ReadWorkersService } from '../../src/read-workers/read-workers.service';
import { TraceFilter, TracesService } from '../../src/traces/traces.service';
import { startDemoApp } from '../support/app';
import type { Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';

jest.setTimeout(240_000);

const pkt = (from: number, to: number, l4: string, proto: number) =>
  `eth(src=50:54:00:00:00:0${from},dst=50:54:00:00:00:0${to}),eth_type(0x0800),ipv4(src=10.0.0.${from},dst=10.0.0.${to},proto=${proto},tos=0,ttl=64,frag=no),${l4}`;

describe('the trace reader worker', () => {
  let sb: Sandbox;
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let traces: TracesService;
  let pool: ReadPool | undefined;

  beforeAll(async () => {
    ({ sb, app, http } = await startDemoApp({ LIVETRACE_POLL_INTERVAL_MS: '200' }));
    traces = app.get(TracesService);
    pool = app.get(ReadWorkersService).pool;
    await http.post('/trace-sessions').send({ logicalPort: 'lsp1', includeExisting: true }).expect(201);
    await sb.keepFlows();
    const ports = await sb.dpPorts();
    await sb.inject('vif1', `in_port(${ports.get('vif1')}),${pkt(1, 2, 'icmp(type=8,code=0)', 1)}`, 2);
    await sb.inject('vif1', `in_port(${ports.get('vif1')}),${pkt(1, 3, 'udp(src=5353,dst=53)', 17)}`, 2);
    await waitFor('traces of the echo and the dropped DNS query', async () => {
      const items = (await http.get('/traces?logical_port=lsp1&verdict=drop')).body.items ?? [];
      return items.length > 0 && (await http.get('/traces?logical_port=lsp1&verdict=output')).body.items?.length > 0;
    }, 60_000);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  const base: TraceFilter = { limit: 50, withSteps: false };
  const cases: Array<[string, TraceFilter]> = [
    ['/traces', base],
    ['/traces?logical_port=lsp1', { ...base, logicalPort: 'lsp1' }],
    ['/traces?logical_port=lsp1&role=inport&include=steps&limit=3', { ...base, logicalPort: 'lsp1', role: 'inport', withSteps: true, limit: 3 }],
    ['/traces?logical_port=lsp2&role=outport', { ...base, logicalPort: 'lsp2', role: 'outport' }],
    ['/traces?verdict=drop&include=steps', { ...base, verdict: 'drop', withSteps: true }],
    ['/traces?datapath=sw0&limit=2', { ...base, datapath: 'sw0', limit: 2 }],
  ];

  it('is where GET /traces runs, and its bodies are the in-process query to the byte', async () => {
    expect(pool).toBeDefined();
    for (const [url, filter] of cases) {
      const r = await http.get(url).expect(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.text).toBe(JSON.stringify(await traces.list(filter)));
    }
    // A cursor and a cited logical flow (the citation bitmaps) too.
    const first = (await http.get('/traces?logical_port=lsp1&limit=1&include=steps').expect(200)).body;
    const r = await http.get(`/traces?logical_port=lsp1&limit=2&cursor=${first.next}`).expect(200);
    expect(r.text).toBe(JSON.stringify(await traces.list({ ...base, logicalPort: 'lsp1', limit: 2, ...traceCursor({ cursor: first.next }) })));
    const lflow = first.items[0].steps.flatMap((s: { owners: Array<{ table: string; uuid: string }> }) => s.owners).find((o: { table: string }) => o.table === 'Logical_Flow').uuid;
    const cited = await http.get(`/traces?logical_flow=${lflow}`).expect(200);
    expect(cited.body.items.length).toBeGreaterThan(0);
    expect(cited.text).toBe(JSON.stringify(await traces.list({ ...base, logicalFlow: lflow })));
    // An unknown port is still a 404 naming it (resolved on the main thread).
    expect((await http.get('/traces?logical_port=nosuch').expect(404)).body).toMatchObject({ statusCode: 404, field: 'logical_port' });
  });

  it('runs the audits too: their bodies are the event loop\'s reads to the byte, the 404s decided against OVN', async () => {
    const store = app.get(LogicalFlowStore);
    const steps = (await http.get('/traces?logical_port=lsp1&limit=1&include=steps').expect(200)).body.items[0].steps;
    const lflow = steps.flatMap((s: { owners: Array<{ table: string; uuid: string }> }) => s.owners).find((o: { table: string }) => o.table === 'Logical_Flow').uuid;
    // The dropped DNS query's ACL (a stage hint of the flows its trace cited).
    let acl: string | undefined;
    for (const r of app.get(ReplicasService).nb.rows('ACL')) if ((await store.audit({ of: 'northbound', table: 'ACL', uuid: r._uuid, limit: 1 })).cited) acl ??= r._uuid;
    expect(acl).toBeDefined();
    const onePage = JSON.parse((await store.audit({ of: 'logical-flow', uuid: lflow, limit: 1 })).body) as { next: string | null };
    // A logical flow OVN has and no trace cited: its empty page, read by the thread; the 404 needs both missing.
    const sbFlows = [...app.get(ReplicasService).sb.rows('Logical_Flow')].map((r) => r._uuid);
    let uncited: string | undefined;
    for (const u of sbFlows) if (!(await store.audit({ of: 'logical-flow', uuid: u, limit: 1 })).cited) (uncited ??= u);
    expect(uncited).toBeDefined();
    const cases: Array<[string, AuditQuery]> = [
      [`/logical-flows/${lflow}/datapath-flows`, { of: 'logical-flow', uuid: lflow, limit: 50 }],
      [`/logical-flows/${lflow}/datapath-flows?limit=1`, { of: 'logical-flow', uuid: lflow, limit: 1 }],
      [`/northbound/ACL/${acl}/datapath-flows`, { of: 'northbound', table: 'ACL', uuid: acl!, limit: 50 }],
      [`/logical-flows/${uncited}/datapath-flows`, { of: 'logical-flow', uuid: uncited!, limit: 50 }],
    ];
    if (onePage.next) cases.push([`/logical-flows/${lflow}/datapath-flows?limit=1&cursor=${onePage.next}`, { of: 'logical-flow', uuid: lflow, limit: 1, cursor: cursor({ cursor: onePage.next }) }]);
    const served = pool!.served.audit;
    for (const [url, a] of cases) {
      const r = await http.get(url).expect(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.text).toBe((await store.audit(a)).body);
    }
    for (const u of [`/logical-flows/${lflow}/datapath-flows`, `/northbound/ACL/${acl}/datapath-flows`]) expect((await http.get(u).expect(200)).body.items.length).toBeGreaterThan(0);
    // Every one of them answered by a reader thread, none on the event loop.
    expect(pool!.served.audit - served).toBe(cases.length + 2);
    const gone = '00000000-0000-4000-8000-000000000000';
    expect((await http.get(`/logical-flows/${gone}/datapath-flows`).expect(404)).body.message).toMatch(/no logical flow .* in any trace or in the southbound database/);
    expect((await http.get(`/northbound/ACL/${gone}/datapath-flows`).expect(404)).body.message).toMatch(/no ACL .* in any trace or in the northbound database/);
  });

  it('refuses queries beyond 64 waiting with 503 rather than queue them without bound', async () => {
    const all = Array.from({ length: 70 }, () => traces.listJson({ ...base, logicalPort: 'lsp1', withSteps: true }).then(() => 200, (e: ApiError) => e));
    const settled = await Promise.all(all);
    const refused = settled.filter((x): x is ApiError => x instanceof ApiError);
    expect(settled.filter((x) => x === 200).length).toBe(64);
    expect(refused).toHaveLength(6);
    for (const e of refused) expect(e.getResponse()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.stringMatching(/64 trace queries are already waiting/) });
    await http.get('/traces?logical_port=lsp1').expect(200);
  });

  it('answers 503 for the queries a dead worker held, and is started again', async () => {
    const before = (await http.get('/traces?logical_port=lsp1').expect(200)).text;
    const starts = pool!.starts;
    // A query handed over as the worker goes down (one already answered would not show it).
    const killed = pool!.kill();
    const held = traces.listJson({ ...base, logicalPort: 'lsp1' });
    await killed;
    const err = await held.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).getStatus()).toBe(503);
    expect((err as ApiError).getResponse()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.stringMatching(/trace reader stopped/) });
    // Asked while the thread is down (its restart is a timer away; these only await promises, no timer
    // runs between): a known port's page needs the thread (503: retry); a port no one knows is a 404 all
    // the same, found on this thread as when the probe came before the page (not a 503 retried in vain).
    const known = await traces.listJson({ ...base, logicalPort: 'lsp1' }).then(() => 200, (e: ApiError) => e.getStatus());
    const unknown = await traces.listJson({ ...base, logicalPort: 'no-such-port' }).then(() => 200, (e: ApiError) => e.getStatus());
    expect({ unknown, known }).toEqual({ unknown: 404, known: 503 });
    await waitFor('a new worker', async () => pool!.starts > starts, 10_000);
    // While it starts, a query either waits for it or is told to retry; once up, the same answer.
    await waitFor('the same answer again', async () => {
      const r = await http.get('/traces?logical_port=lsp1');
      if (r.status === 503) expect(r.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      else expect(r.status).toBe(200);
      return r.status === 200 && r.text === before;
    }, 10_000);
  });
});
