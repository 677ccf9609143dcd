// Hostile values in ids, cursors and times of the HTTP API, on the app with an empty store and no
// OVS/OVN daemon: each is a 400 naming the parameter and what is wrong with it, never a silent
// reading of something else (an id rounded to another id, a time in the server's own zone, a day
// the month does not have rolled into the next month); a page on another site, which may not
// hold the trace streams it cannot read; and on-demand traces asked for under another case of
// their path, which Express routes the same.
import { useDaemonlessApp } from '../../support/app';

jest.setTimeout(120_000);

const b64 = (s: string) => Buffer.from(s).toString('base64url');

describe('hostile input: ids, cursors and times', () => {
  const t = useDaemonlessApp();

  const refused = async (method: 'get' | 'delete' | 'post', url: string, field: string, message: RegExp) => {
    const res = await t.http[method](url);
    expect({ url, status: res.status, field: res.body.field }).toEqual({ url, status: 400, field });
    expect(res.body.message).toMatch(message);
  };

  // Ids past 2^53 were rounded (Number('9007199254740993') is ...992): the 404 named an id nobody asked for.
  it.each([
    ['get', '/paths/9007199254740993'],
    ['get', '/traces/9999999999999999'],
    ['get', '/traces/9007199254740993/cross-checks'],
    ['post', '/traces/9007199254740993/cross-check'],
    ['get', '/cross-checks/9999999999999999'],
    ['get', '/upcalls/9007199254740993'],
    ['get', '/trace-sessions/9007199254740993'],
    ['delete', '/trace-sessions/9007199254740993'],
  ] as const)('%s %s: an id past 2^53 is refused by name', async (method, url) => {
    await refused(method, url, 'id', /^id: must be a positive integer below 2\^53 \(got "\d+"\)$/);
  });

  it('the largest id there can be is still an id (404, named as given)', async () => {
    const res = await t.http.get('/paths/9007199254740991').expect(404);
    expect(res.body.message).toMatch(/9007199254740991/);
  });

  it.each(['/traces?session=9999999999999999', '/traces/stream?session=9007199254740993'])('%s: a session id past 2^53 is refused', async (url) => {
    await refused('get', url, 'session', /^session: must be a positive integer below 2\^53/);
  });

  // ?session= of a session that never was answered 200 with no traces: a typo read as "nothing
  // traced". As an unknown logical_port: a 404 naming the session; a session that has no trace yet
  // is still an empty page.
  it.each(['/traces?session=424242', '/traces?session=424242&verdict=drop&limit=1', '/traces/stream?session=424242'])('%s: an unknown session is a 404 naming it', async (url) => {
    // fetch, not supertest: before the fix the stream opened (200) and never ended.
    const ctl = new AbortController();
    const res = await fetch(`${t.base}${url}`, { signal: ctl.signal });
    const body = res.status === 404 ? ((await res.json()) as { field?: string; message?: string }) : {};
    ctl.abort();
    expect({ status: res.status, field: body.field, message: body.message }).toEqual({ status: 404, field: 'session', message: 'no trace session 424242' });
  });

  it.each(['/trace-sessions', '/datapath-flows', '/upcalls', '/logical-flows/00000000-0000-0000-0000-000000000000/datapath-flows'])('%s: a cursor whose id is past 2^53 is refused', async (path) => {
    await refused('get', `${path}?cursor=${b64('id:9007199254740993')}`, 'cursor', /^cursor: its id must be a positive integer below 2\^53 \(got "9007199254740993"\)$/);
  });

  // Node's base64url decoder skips what is not of its alphabet: "aWQ6MT!Iz" was read as id:123 and
  // answered a page from there, as if the API had returned that cursor.
  it.each(['/trace-sessions', '/datapath-flows', '/upcalls', '/logical-flows/00000000-0000-0000-0000-000000000000/datapath-flows'])('%s: a cursor with characters outside base64url is refused', async (path) => {
    for (const c of ['aWQ6MT!Iz', 'aWQ6MTIz%20', 'aWQ6MTIz.', 'aWQ6MTIz=='])
      await refused('get', `${path}?cursor=${c}`, 'cursor', /^cursor: is not a cursor this API returned \(not base64url\)$/);
    // The cursor as the API writes it is read as before (a 404 for the audit of a flow nobody knows).
    expect((await t.http.get(`${path}?cursor=aWQ6MTIz`)).status).toBe((await t.http.get(path)).status);
  });

  // These routes read no query at all: GET /datapath-flows/<ufid>?state=live answered every lifetime,
  // DELETE /trace-sessions/5?dry_run=true stopped the session; the lists refuse a parameter they do not know.
  const UFID = '8a3b0c2e-1f4d-4e5a-9b6c-7d8e9f0a1b2c';
  it.each([
    ['get', `/datapath-flows/${UFID}?state=live`, 'state'],
    ['get', `/logical-flows/${UFID}?include=steps`, 'include'],
    ['get', '/trace-sessions/1?state=active', 'state'],
    ['delete', '/trace-sessions/1?dry_run=true', 'dry_run'],
    ['get', '/upcalls/1?format=text', 'format'],
    ['post', '/trace-sessions?filter=tcp', 'filter'],
    ['post', '/traces?flow=in_port%3D1', 'flow'],
    ['post', `/datapath-flows/${UFID}/trace?bridge=br-int`, 'bridge'],
  ] as const)('%s %s: a parameter the route does not read is refused by name', async (method, url, field) => {
    await refused(method, url, field, new RegExp(`^${field}: unknown query parameter \\(known: none\\)$`));
  });

  // role says how logical_port took part: alone it filtered nothing, and every trace came back as
  // if it were the port's outputs (or inputs).
  it.each(['/traces?role=outport', '/traces?role=inport&verdict=drop', '/traces/stream?role=inport'])('%s: role without logical_port is refused', async (url) => {
    await refused('get', url, 'role', /^role: only with logical_port \(how that port took part\)$/);
  });

  it.each([
    ['2026-11-27T05:00:00', /with its offset/],
    ['2026-11-27T05:00', /with its offset/],
    ['2026-11-27T05:00:00.000+0100', /with its offset/],
    ['2026-02-30T00:00:00Z', /no such day or hour/],
    ['2026-04-31T12:00:00Z', /no such day or hour/],
    ['2025-02-29T12:00:00Z', /no such day or hour/],
    ['2026-13-01T00:00:00Z', /no such day or hour|with its offset/],
    ['2026-11-27T24:00:00Z', /no such day or hour/],
  ])('since=%s is refused (not read in the server time zone or rolled over)', async (value, why) => {
    for (const [path, name] of [['/traces', 'since'], ['/traces', 'until'], ['/upcalls', 'since']]) {
      await refused('get', `${path}?${name}=${encodeURIComponent(value)}`, name, new RegExp(`^${name}: .*${why.source}.*\\(got ${JSON.stringify(value).replace(/[.+]/g, '\\$&')}\\)$`));
    }
  });

  it.each(['2024-02-29T12:00:00Z', '2026-11-27T05:00:00.123456789Z', '2026-11-27T05:00:00+01:00', '+002026-11-27T05:00:00Z', '2026-12-31T23:59:59-00:30'])('since=%s is still a time', async (value) => {
    await t.http.get(`/traces?since=${encodeURIComponent(value)}`).expect(200);
    await t.http.get(`/upcalls?until=${encodeURIComponent(value)}`).expect(200);
  });
});

describe('hostile input: JSON bodies', () => {
  const t = useDaemonlessApp();

  // JSON.parse keeps the last of a repeated name: {"maxTraces":10,"maxTraces":10000000} started a
  // session of ten million traces, a client that meant one of them had no word of the other (the
  // ingest refuses such a line, the query string a repeated parameter, the filter a repeated field).
  it.each([
    ['/trace-sessions', '{"filter":"tcp","maxTraces":10,"maxTraces":10000000}', 'maxTraces'],
    ['/trace-sessions', '{"filter":"tcp","chassis":["hv1"],"chassis":["hv2"]}', 'chassis'],
    ['/trace-sessions', '{"filter":"tcp","filt\\u0065r":"udp"}', 'filter'],
    ['/traces', '{"flow":"in_port=1","bridge":"br-int","flow":"in_port=2"}', 'flow'],
  ])('POST %s %s: a name given twice is refused by name', async (url, body, field) => {
    const res = await t.http.post(url).set('Content-Type', 'application/json').send(body);
    expect({ status: res.status, field: res.body.field }).toEqual({ status: 400, field });
    expect(res.body.message).toBe(`${field}: given twice in one object (a field is given once)`);
  });

  // A Content-Encoding body-parser does not know was answered "content-type: unsupported charset",
  // and a body that is not the gzip it says it is "Bad Request", naming nothing.
  it('a body in an unknown Content-Encoding, or not in the one it names, is refused naming Content-Encoding', async () => {
    const unknown = await t.http.post('/trace-sessions').set({ 'Content-Type': 'application/json', 'Content-Encoding': 'compress' }).send('{"filter":"tcp"}').expect(415);
    expect(unknown.body).toMatchObject({ field: 'content-encoding', message: 'content-encoding: "compress" is not one this service reads: send the body uncompressed, or gzip' });
    const corrupt = await t.http.post('/trace-sessions').set({ 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }).send('{"filter":"tcp"}').expect(400);
    expect(corrupt.body).toMatchObject({ field: 'content-encoding', message: expect.stringMatching(/^content-encoding: the body is not valid "gzip" data \(/) });
  });

  // POST /traces hands ofproto/trace its arguments as separate JSON-RPC params: a ctNext value must be
  // conntrack flags OVS takes (checked here, refused before the daemon: this app has none, so anything
  // that got through would answer 503), and a bridge or flow that ofproto/trace would read as an
  // option (-generate, --ct-next …) is refused rather than handed over as one.
  it.each([
    ['ctNext not a list', { flow: 'in_port=1,icmp', ctNext: 'trk,est' }, 'ctNext', /^ctNext: must be a list of conntrack states/],
    ['17 states', { flow: 'in_port=1,icmp', ctNext: Array.from({ length: 17 }, () => 'trk') }, 'ctNext', /^ctNext: at most 16 states \(got 17\)$/],
    ['a number', { flow: 'in_port=1,icmp', ctNext: [2] }, 'ctNext', /^ctNext\[0\]: must be a string of conntrack flags/],
    ['an option inside a state', { flow: 'in_port=1,icmp', ctNext: ['trk,est', 'trk,est --ct-next trk'] }, 'ctNext', /^ctNext\[1\]: "trk,est --ct-next trk": unknown conntrack flag "est --ct-next tr"/],
    ['no trk', { flow: 'in_port=1,icmp', ctNext: ['est'] }, 'ctNext', /^ctNext\[0\]: "est": "trk" is required/],
    ['inv with est', { flow: 'in_port=1,icmp', ctNext: ['trk,inv,est'] }, 'ctNext', /^ctNext\[0\]: "trk,inv,est": when "inv" is set, only "trk" may also be set$/],
    ['5,000 characters', { flow: 'in_port=1,icmp', ctNext: ['trk,' + 'x'.repeat(5000)] }, 'ctNext', /^ctNext\[0\]: longer than 64 characters \("trk,x{20}"…\)$/],
    ['a bridge that is an option', { bridge: '--ct-next', flow: 'trk,est' }, 'bridge', /would read it as an option/],
    ['a flow that is an option', { flow: '-generate' }, 'flow', /^flow: must not start with "-"/],
  ] as const)('POST /traces, %s: refused by name', async (_what, body, field, message) => {
    const res = await t.http.post('/traces').send(body);
    expect({ status: res.status, field: res.body.field }).toEqual({ status: 400, field });
    expect(res.body.message).toMatch(message);
  });

  it('a name given once in each of two objects is no repetition; a malformed body is still named as such', async () => {
    await t.http.post('/trace-sessions').set('Content-Type', 'application/json').send('{"filter":"tcp","chassis":["a"],"x":{"filter":1}}').expect(400, /"field":"x"/);
    const long = await t.http.post('/trace-sessions').set('Content-Type', 'application/json').send(`{"${'n'.repeat(100_000)}":1,"${'n'.repeat(100_000)}":2}`).expect(400);
    expect(long.body).toMatchObject({ field: 'n'.repeat(64), message: `${'n'.repeat(64)}: given twice in one object (a field is given once)` });
    const bad = await t.http.post('/trace-sessions').set('Content-Type', 'application/json').send('{"filter":"tcp","filter').expect(400);
    expect(bad.body).toMatchObject({ field: 'body', message: expect.stringMatching(/^body: not valid JSON/) });
  });
});

describe('a page on another site (Fetch Metadata as browsers send it)', () => {
  const DASHBOARD = 'https://dash.example';
  const page = { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors', 'Sec-Fetch-Dest': 'empty' };
  const t = useDaemonlessApp({ LIVETRACE_CORS_ORIGINS: DASHBOARD });

  it('cannot hold the trace streams (its 32 no-cors fetches held all of them: the operator page got 503)', async () => {
    const held = Array.from({ length: 32 }, () => new AbortController());
    try {
      const answers = await Promise.all(held.map((c) => fetch(`${t.base}/traces/stream`, { headers: page, signal: c.signal }).then(async (r) => ({ status: r.status, body: r.status === 200 ? null : ((await r.json()) as { field: string; message: string }) }))));
      for (const a of answers) {
        expect(a.status).toBe(403);
        expect(a.body).toMatchObject({ field: 'origin' });
        expect(a.body?.message).toMatch(/^GET from a page of another origin refused \(Sec-Fetch-Site: cross-site; Sec-Fetch-Dest: "empty"; Origin "not sent"\)/);
      }
      const own = new AbortController();
      const r = await fetch(`${t.base}/traces/stream`, { headers: { 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' }, signal: own.signal });
      expect(r.status).toBe(200);
      own.abort();
    } finally {
      for (const c of held) c.abort();
    }
  });

  it('nor make a list run for it; a link followed from it (a navigation) and an origin of LIVETRACE_CORS_ORIGINS still come in', async () => {
    expect((await fetch(`${t.base}/traces?limit=500&include=steps`, { headers: { ...page, Origin: 'https://evil.example', 'Sec-Fetch-Mode': 'cors' } })).status).toBe(403);
    // (fetch sets Sec-Fetch-Mode itself: supertest sends the headers as given)
    await t.http.get('/traces/7?format=text').set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' }).expect(404);
    await t.http.get('/traces/7?format=text').set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors', 'Sec-Fetch-Dest': 'image' }).expect(403);
    // A frame is a navigation too: 32 hidden iframes of /traces/stream would hold every stream (review).
    const framed = await t.http.get('/traces/stream').set({ 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'iframe' }).expect(403);
    expect(framed.body.message).toMatch(/^GET from a page of another origin refused \(Sec-Fetch-Site: cross-site; Sec-Fetch-Dest: "iframe"; Origin "not sent"\)/);
    // Another port of the same host is "same-site" (browsers ignore the port): refused alike.
    await t.http.get('/traces/stream').set({ 'Sec-Fetch-Site': 'same-site', 'Sec-Fetch-Mode': 'no-cors', 'Sec-Fetch-Dest': 'empty' }).expect(403);
    await t.http.get('/traces/7?format=text').set({ 'Sec-Fetch-Site': 'same-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' }).expect(404);
    const dash = await fetch(`${t.base}/traces`, { headers: { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors', Origin: DASHBOARD } });
    expect(dash.status).toBe(200);
    expect(dash.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    // curl, the CLI, Prometheus: no Fetch Metadata at all
    expect((await fetch(`${t.base}/traces`)).status).toBe(200);
  });
});

describe('on-demand traces under another case of their path', () => {
  const UFID = '8a3b0c2e-1f4d-4e5a-9b6c-7d8e9f0a1b2c';
  const t = useDaemonlessApp({ LIVETRACE_ONDEMAND_RATE: '1' });

  // Express routes /TRACES as /traces: each of these reached ovs-vswitchd (all 10 answered 503 or
  // 404) past LIVETRACE_ONDEMAND_RATE=1 and the in-flight bound.
  it.each(['/TRACES', '/Traces/', `/DATAPATH-FLOWS/${UFID}/Trace`, '/Traces/1/Cross-Check'])('POST %s meets the rate limit', async (url) => {
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.http.post(url).send(url.toLowerCase().startsWith('/traces') && !url.includes('ross') ? { flow: 'in_port=1' } : undefined)));
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(8);
    expect(limited[0].body).toMatchObject({ statusCode: 429, field: 'path' });
    expect(limited[0].body.message).toMatch(/on-demand traces or cross-checks a second \(LIVETRACE_ONDEMAND_RATE\)/);
  });
});

describe('hostile input: ingested text', () => {
  const t = useDaemonlessApp();
  const T = '2026-11-27T05:21:55.633Z';
  const upcall = (id: string) => `{"type":"upcall","id":"${id}","time":"${T}","upcallType":"miss","key":"recirc_id(0),in_port(4)"}`;
  const ingest = (lines: string[]) => t.http.post('/ingest/events?source=surrogates').set('Content-Type', 'application/x-ndjson').send(lines.join('\n') + '\n').expect(200);

  // A lone surrogate escape (\ud800) is valid JSON but no text UTF-8 can carry: SQLite and
  // PostgreSQL store it as U+FFFD, so "a\ud800b" and "a\udc00b" were one id. Both were answered
  // accepted (the second as a duplicate of the first) and only one was stored, under neither id.
  it('a lone surrogate in a string is refused by field and line, not stored as U+FFFD', async () => {
    const res = await ingest([upcall('a\\ud800b'), upcall('a\\udc00b'), upcall('smile-\\ud83d\\ude00')]);
    expect(res.body).toMatchObject({ accepted: 1, rejected: 2, duplicates: 0 });
    expect(res.body.errors).toEqual([
      { line: 1, reason: 'id: must not contain a lone UTF-16 surrogate (\\ud800 at character 1): it has no UTF-8 form' },
      { line: 2, reason: 'id: must not contain a lone UTF-16 surrogate (\\udc00 at character 1): it has no UTF-8 form' },
    ]);
    const stored = await t.http.get('/upcalls?source=surrogates').expect(200);
    expect(stored.body.items.map((u: { eventId: string }) => u.eventId)).toEqual(['smile-\u{1F600}']);
  });
});
