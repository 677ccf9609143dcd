// POST /ingest/events and /ingest/retis end to end: per-line counts and errors, 413 over the body
// limit, a repeated id not stored twice, translations annotated and queryable like live traces,
// and nothing accepted lost when the process is killed with SIGKILL right after replying.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { Child, spawnService, startApp } from '../support/app';
import { waitFor } from '../support/wait';
import { portBelowEphemeral } from '../support/ports';

jest.setTimeout(180_000);

const NDJSON = 'application/x-ndjson';
const T = '2026-11-27T05:21:55.633Z';
const UFID = 'c3eaf764-0b75-4369-bd29-5dd907c66fb9';
const KEY = 'recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(2),skb_mark(0/0),eth(src=50:54:00:00:00:01/01:00:00:00:00:00,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1/0.0.0.0,dst=10.0.0.2/0.0.0.0,proto=1,frag=no)';
const TRACE = readFileSync(join(__dirname, '../fixtures/documented/retis/c3eaf764-0b75-4369-bd29-5dd907c66fb9.trace.txt'), 'utf8');
const RETIS = readFileSync(join(__dirname, '../fixtures/documented/retis/events.json'), 'utf8');
const ndjson = (events: unknown[]) => events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n';

describe('POST /ingest/events', () => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    app = await startApp({ LIVETRACE_POLLER: 'false', LIVETRACE_INGEST_MAX_BYTES: '65536', LIVETRACE_CHASSIS: 'hv-ingest' });
    http = request(app.getHttpServer());
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = (body: string, url = '/ingest/events?source=usdt') => http.post(url).set('Content-Type', NDJSON).send(body);

  const valid = [
    { type: 'ukey_created', id: 'c1', time: T, ufid: UFID, key: KEY, actions: 'ct(zone=1),recirc(0x1)', packets: 1, bytes: 98 },
    { type: 'upcall', id: 'u1', time: T, upcallType: 'miss', key: 'recirc_id(0),in_port(2),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800)', thread: 'handler1', ufid: UFID },
    { type: 'translation', id: 't1', time: T, ufid: UFID, upcallId: 'u1', text: TRACE },
    { type: 'ukey_updated', id: 'd1', time: '2026-11-27T05:21:56Z', ufid: UFID, packets: 7, bytes: 686 },
    { type: 'ukey_revalidated', id: 'r1', time: '2026-11-27T05:21:57Z', ufid: UFID, result: 'KEEP', reason: 'NONE' },
  ];
  const invalid = [
    '{"type":"upcall","id":"u2"',
    { type: 'ukey_revalidated', id: 'r2', time: T, ufid: UFID, result: 'MAYBE' },
    { type: 'translation', id: 't2', time: T, text: 'not a trace' },
  ];

  it('publishes the v1 schema', async () => {
    const res = await http.get('/ingest/schema').expect(200);
    expect(res.body.oneOf.map((b: { title: string }) => b.title)).toEqual(['upcall', 'ukey_created', 'ukey_updated', 'ukey_revalidated', 'ukey_removed', 'translation']);
  });

  it('counts accepted and rejected lines, names each rejected line and why, and stores the accepted ones', async () => {
    const res = await post(ndjson([...valid, ...invalid])).expect(200);
    expect(res.body).toEqual({
      accepted: 5,
      rejected: 3,
      duplicates: 0,
      errors: [
        { line: 6, reason: expect.stringMatching(/^not JSON/) },
        { line: 7, reason: expect.stringMatching(/^result: must be one of KEEP, MODIFY, DELETE/) },
        { line: 8, reason: expect.stringMatching(/^text: .*expected "Flow: "/) },
      ],
    });
    // The datapath flow lifetime, its upcall and its annotated translation are linked and queryable.
    const flows = (await http.get(`/datapath-flows/${UFID}`).expect(200)).body.lifetimes;
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ source: 'ingest', chassis: 'hv-ingest', packets: 7, state: 'live', recircId: '0x0', inPort: '2' });
    expect(flows[0].traces).toEqual([expect.objectContaining({ method: 'ingested' })]);
    const up = (await http.get('/upcalls?source=usdt').expect(200)).body;
    expect(up.items).toEqual([expect.objectContaining({ eventId: 'u1', ufid: UFID, datapathFlowId: flows[0].id, traceId: flows[0].traces[0].id, sampled: false, thread: 'handler1' })]);
    const trace = (await http.get(`/traces/${flows[0].traces[0].id}`).expect(200)).body;
    expect(trace).toMatchObject({ method: 'ingested', ufid: UFID, datapathActions: 'ct(zone=1),recirc(0x1)' });
    expect(trace.steps.length).toBeGreaterThan(5);
    expect((await http.get(`/traces?ufid=${UFID}`).expect(200)).body.items).toHaveLength(1);
  });

  it('accepts a resent batch without storing anything twice', async () => {
    const res = await post(ndjson(valid)).expect(200);
    expect(res.body).toEqual({ accepted: 5, rejected: 0, duplicates: 5, errors: [] });
    expect((await http.get('/upcalls?source=usdt').expect(200)).body.items).toHaveLength(1);
    expect((await http.get(`/traces?ufid=${UFID}`).expect(200)).body.items).toHaveLength(1);
    // The same id under another source is another event.
    const other = await post(ndjson([valid[1]]), '/ingest/events?source=other').expect(200);
    expect(other.body).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('refuses a body over the limit with 413 and stores none of it', async () => {
    const big = ndjson(Array.from({ length: 600 }, (_, i) => ({ type: 'upcall', id: `big${i}`, time: T, key: KEY })));
    expect(big.length).toBeGreaterThan(65536);
    const res = await post(big, '/ingest/events?source=big').expect(413);
    expect(res.body.message).toMatch(/LIVETRACE_INGEST_MAX_BYTES \(65536 bytes\)/);
    // chunked, without Content-Length
    const req = http.post('/ingest/events?source=big').set('Content-Type', NDJSON);
    req.write(big.slice(0, 40000));
    req.write(big.slice(40000));
    expect((await req).status).toBe(413);
    expect((await http.get('/upcalls?source=big').expect(200)).body.items).toEqual([]);
  });

  it('says which content types it reads', async () => {
    const res = await http.post('/ingest/events').set('Content-Type', 'application/json').send('{}').expect(415);
    expect(res.body.message).toMatch(/application\/x-ndjson/);
  });

  it('reads a retis file: one upcall per queue id, the enriched flows and their translations; a resend is all duplicates', async () => {
    const res = await post(RETIS, '/ingest/retis').expect(200);
    expect(res.body).toMatchObject({ accepted: 10, rejected: 0, duplicates: 0, ignored: expect.any(Number), errors: [] });
    const again = await post(RETIS, '/ingest/events?format=retis').expect(200);
    expect(again.body).toMatchObject({ accepted: 10, duplicates: 10 });
    const up = (await http.get('/upcalls?source=retis').expect(200)).body.items;
    expect(up).toEqual([expect.objectContaining({ upcallType: 'miss', thread: 'handler9', packet: 'icmp 10.0.0.1 > 10.0.0.2 type 8 code 0', extra: expect.objectContaining({ queueId: 2809249329, installed: true }) })]);
    const xl = (await http.get('/traces?ufid=a41ad08f-23ba-4c34-97b8-6082b6539265&include=steps').expect(200)).body.items;
    expect(xl).toEqual([expect.objectContaining({ method: 'ingested', datapathFlowId: expect.any(Number) })]);
    expect(xl[0].steps[0]).toMatchObject({ cookie: expect.stringMatching(/^0x[0-9a-f]{8}$/) });
  });
});

describe('nothing accepted is lost on SIGKILL right after the reply', () => {
  const dir = mkdtempSync(join(tmpdir(), 'livetrace-ingest-kill-'));
  const env = () => ({ LIVETRACE_DB: join(dir, 'db.sqlite'), LIVETRACE_PORT: String(portBelowEphemeral()), LIVETRACE_POLLER: 'false', LIVETRACE_LOG_LEVEL: 'warn' });
  let child: Child | undefined;

  afterEach(() => {
    child?.proc.kill('SIGKILL');
  });

  async function start(): Promise<{ child: Child; base: string }> {
    const e = env();
    const c = spawnService(e);
    const base = `http://127.0.0.1:${e.LIVETRACE_PORT}`;
    await waitFor('the service to listen', async () => (await fetch(`${base}/ingest/schema`).catch(() => undefined))?.status === 200, 90_000);
    return { child: c, base };
  }

  it('keeps every accepted event of a batch whose reply came just before kill -9', async () => {
    const first = await start();
    child = first.child;
    const n = 3000;
    const body = ndjson(Array.from({ length: n }, (_, i) => ({ type: 'upcall', id: `k${i}`, time: T, upcallType: 'miss', key: `recirc_id(0),in_port(${(i % 7) + 1})`, queueId: i })));
    const res = await fetch(`${first.base}/ingest/events?source=crash`, { method: 'POST', headers: { 'Content-Type': NDJSON }, body });
    const reply = await res.json();
    child.proc.kill('SIGKILL');
    expect(reply).toEqual({ accepted: n, rejected: 0, duplicates: 0, errors: [] });
    expect(await child.exit).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await start();
    child = second.child;
    const ids = new Set<string>();
    let next: string | null = '';
    while (next !== null) {
      const page = (await (await fetch(`${second.base}/upcalls?source=crash&limit=500${next ? `&cursor=${next}` : ''}`)).json()) as { items: Array<{ eventId: string }>; next: string | null };
      page.items.forEach((u) => ids.add(u.eventId));
      next = page.next;
    }
    expect(ids.size).toBe(n);
    // and a resend after the crash is recognised
    const again = await (await fetch(`${second.base}/ingest/events?source=crash`, { method: 'POST', headers: { 'Content-Type': NDJSON }, body })).json();
    expect(again).toMatchObject({ accepted: n, duplicates: n });
  });
});
