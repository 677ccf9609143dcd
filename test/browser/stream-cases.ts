// GET /traces/stream, served by the API instance that does not trace: what it streams was
// committed by the tracer app on the same database (another writer). Registered by live.spec.ts.
import { TraceStreamService, STREAM_DEFAULTS } from '../../src/traces/trace-stream.service';
import { waitFor } from '../support/wait';
import { Live, SseClient } from './live-fixture';

export function streamCases(ctx: () => Live): void {
  const open: SseClient[] = [];
  let live: Live;
  const stream = async (query: string, headers: Record<string, string> = {}) => {
    const r = await SseClient.open(`${live.url}/traces/stream${query}`, headers);
    if (r.status === 200) open.push(r.client);
    return r;
  };

  beforeAll(() => {
    live = ctx();
    TraceStreamService.options = { ...STREAM_DEFAULTS, pollMs: 100, heartbeatMs: 300 };
  });

  afterAll(() => {
    for (const c of open) c.close();
    TraceStreamService.options = STREAM_DEFAULTS;
  });

  it('is its own route (not /traces/:id), and bad filters are 400 or 404 naming what was wrong', async () => {
    const ok = await stream('?logical_port=lsp1');
    expect(ok.status).toBe(200);
    expect(ok.client.res!.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const bad = await stream('?verdict=lost');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body!)).toMatchObject({ statusCode: 400, field: 'verdict' });
    const unknown = await stream('?logical_port=nope');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body!).message).toMatch(/nope/);
    const resume = await stream('?logical_port=lsp1', { 'Last-Event-ID': 'x1' });
    expect(resume.status).toBe(400);
    expect(JSON.parse(resume.body!).field).toBe('last-event-id');
    expect((await stream('?ufid=0')).status).toBe(400);
  });

  it('sends a packet traced by another writer as it is committed, equal to its item in GET /traces', async () => {
    const { client } = await stream('?logical_port=lsp1');
    await waitFor('the stream to start', () => client.comments.some((c) => c.startsWith('after trace')));
    expect(client.traces()).toEqual([]);
    await live.send(2, 40003);
    const [t] = await waitFor('a streamed trace', () => (client.traces().length ? client.traces() : undefined), 30_000);
    const listed = (await live.json('/traces?logical_port=lsp1&limit=500')).items.find((i: any) => i.id === t.id);
    // The item as it was committed: a pass's path-scope ports grow as the path's later passes are traced.
    const { logicalPorts, ...rest } = t;
    const { logicalPorts: listedPorts, ...listedRest } = listed;
    expect(rest).toEqual(listedRest);
    expect(listedPorts).toEqual(expect.arrayContaining(logicalPorts));
    expect(t.logicalPorts.map((p: any) => p.name)).toContain('lsp1');
    expect(client.events.find((e) => e.event === 'trace')!.id).toBe(String(t.id));
    await waitFor('a heartbeat comment', () => client.comments.includes('heartbeat'));
  });

  it('resumes after Last-Event-ID, oldest first, with the filter applied', async () => {
    const all = (await live.json('/traces?logical_port=lsp1&limit=500')).items.map((t: any) => t.id).reverse();
    expect(all.length).toBeGreaterThan(2);
    const { client } = await stream('?logical_port=lsp1', { 'Last-Event-ID': String(all[0]) });
    const got = await waitFor('the missed traces', () => (client.traces().length >= all.length - 1 ? client.traces() : undefined));
    expect(got.map((t) => t.id)).toEqual(all.slice(1));
    const drops = (await live.json('/traces?logical_port=lsp1&verdict=drop&limit=500')).items.map((t: any) => t.id).reverse();
    const { client: dropOnly } = await stream('?logical_port=lsp1&verdict=drop', { 'Last-Event-ID': '0' });
    const gotDrops = await waitFor('the drops', () => (dropOnly.traces().length >= drops.length ? dropOnly.traces() : undefined));
    expect(gotDrops.map((t) => t.id)).toEqual(drops);
    expect(gotDrops.every((t) => t.verdict.kinds.includes('drop'))).toBe(true);
  });

  it('bounds the open streams (503) and frees a stream when its client goes', async () => {
    for (const c of open.splice(0)) c.close();
    const service = live.api.get(TraceStreamService);
    await waitFor('closed streams freed', () => service.open === 0);
    TraceStreamService.options = { ...TraceStreamService.options, maxStreams: 2 };
    try {
      const a = await stream('');
      await stream('');
      const refused = await stream('');
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body!).message).toMatch(/at most 2/);
      a.client.close();
      await waitFor('the closed stream freed', () => service.open === 1);
      expect((await stream('')).status).toBe(200);
    } finally {
      TraceStreamService.options = { ...TraceStreamService.options, maxStreams: STREAM_DEFAULTS.maxStreams };
    }
  });
}
