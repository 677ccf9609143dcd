// A method a known path does not serve: 405 with Allow (HTTP's answer, RFC 9110 15.5.6), and
// OPTIONS on a known path is 204 with Allow; only an unknown path is 404. Every one of these was
// answered 404 "no route PUT /traces", which told a client the path itself did not exist. The
// expected lists are the routes the controllers declare (HEAD wherever GET is), on the app with an
// empty store and no OVS/OVN daemon; the role and CORS cases on apps started with them.
import { useDaemonlessApp } from '../../support/app';

jest.setTimeout(120_000);

const shape = { statusCode: 405, error: 'Method Not Allowed', field: 'method' };

describe('a method the path does not serve', () => {
  const t = useDaemonlessApp();

  it.each([
    ['put', '/traces', 'GET, HEAD, POST'],
    ['patch', '/traces', 'GET, HEAD, POST'],
    ['delete', '/upcalls', 'GET, HEAD'],
    ['post', '/upcalls/7', 'GET, HEAD'],
    ['get', '/ingest/events', 'POST'],
    ['head', '/ingest/events', 'POST'],
    ['put', '/trace-sessions/5', 'GET, HEAD, DELETE'],
    ['post', '/trace-sessions/5', 'GET, HEAD, DELETE'],
    ['delete', '/trace-sessions', 'GET, HEAD, POST'],
    ['get', '/traces/1/cross-check', 'POST'],
    // Express routes without case and with a trailing slash, so the table is read the same way.
    ['put', '/TRACES/', 'GET, HEAD, POST'],
    // SwaggerModule's routes are Express's too, mounted outside Nest's controllers.
    ['post', '/docs-json', 'GET, HEAD'],
    // The page's own files (express.static under /docs, no route): PUT answered 404 "no route"
    // for a file GET serves.
    ['put', '/docs/swagger-ui.css', 'GET, HEAD'],
    ['post', '/docs/swagger-ui-bundle.js', 'GET, HEAD'],
    ['delete', '/docs/favicon-32x32.png', 'GET, HEAD'],
  ] as const)('%s %s: 405 with Allow: %s', async (method, url, allow) => {
    const res = await t.http[method](url);
    expect({ status: res.status, allow: res.headers.allow }).toEqual({ status: 405, allow });
    if (method === 'head') return;
    const path = JSON.stringify(url);
    expect(res.body).toEqual({ ...shape, message: `method: ${method.toUpperCase()} is not one ${path} serves (it serves ${allow})` });
  });

  it.each([
    ['/trace-sessions', 'GET, HEAD, POST'],
    ['/trace-sessions/5', 'GET, HEAD, DELETE'],
    ['/ingest/events', 'POST'],
    ['/traces/stream', 'GET, HEAD'],
    ['/docs/swagger-ui.css', 'GET, HEAD'],
  ])('OPTIONS %s: 204 with Allow: %s, no body', async (url, allow) => {
    const res = await t.http.options(url);
    expect({ status: res.status, allow: res.headers.allow, body: res.text ?? '' }).toEqual({ status: 204, allow, body: '' });
  });

  it.each(['get', 'put', 'options', 'delete'] as const)('%s of an unknown path is still 404, without Allow', async (method) => {
    for (const url of ['/no-such-path', '/trace-sessions/5/extra', '/ingest', '/docs/no-such-file.js', '/docs/../package.json', '/docs/%2e%2e/package.json']) {
      const res = await t.http[method](url);
      expect({ url, status: res.status, allow: res.headers.allow }).toEqual({ url, status: 404, allow: undefined });
      if (method !== 'options') expect(res.body).toMatchObject({ statusCode: 404, field: 'path', message: `no route ${method.toUpperCase()} ${JSON.stringify(url)}` });
    }
  });

  it('a method served is answered by its route as before', async () => {
    await t.http.get('/trace-sessions').expect(200);
    await t.http.head('/trace-sessions').expect(200);
    await t.http.get('/trace-sessions/5').expect(404);
    await t.http.get('/docs/swagger-ui.css').expect(200).expect('Content-Type', /text\/css/);
    await t.http.get('/docs').expect(200).expect('Content-Type', /text\/html/);
  });

  // The edge's rules come first: a page of another origin changes nothing and learns nothing here.
  it('a state-changing method from another origin is still refused before any 405', async () => {
    const res = await t.http.put('/traces').set('Origin', 'http://evil.example').expect(403);
    expect(res.body).toMatchObject({ field: 'origin' });
    expect(res.headers.allow).toBeUndefined();
    await t.http.options('/trace-sessions').set({ Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' }).expect(403);
    const pre = await t.http.options('/trace-sessions').set({ Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' }).expect(204);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
  });
});

// An api instance serves reads and the trace sessions' writes (config/role.ts): its Allow says so.
describe('a method this role does not serve', () => {
  const t = useDaemonlessApp({ LIVETRACE_ROLE: 'api' });

  it.each([
    ['post', '/traces', 'GET, HEAD'],
    ['put', '/trace-sessions/5', 'GET, HEAD, DELETE'],
    ['get', '/ingest/events', null],
  ] as const)('%s %s on LIVETRACE_ROLE=api: Allow: %s', async (method, url, allow) => {
    const res = await t.http[method](url);
    if (allow === null) {
      // No method of this path is the api's: the path is absent here, as before.
      expect({ status: res.status, allow: res.headers.allow }).toEqual({ status: 404, allow: undefined });
      return;
    }
    expect({ status: res.status, allow: res.headers.allow }).toEqual({ status: 405, allow });
    expect(res.body).toMatchObject({ ...shape, message: expect.stringMatching(/LIVETRACE_ROLE=api/) });
  });

  it('OPTIONS lists only what this role serves', async () => {
    expect((await t.http.options('/traces').expect(204)).headers.allow).toBe('GET, HEAD');
    expect((await t.http.options('/trace-sessions').expect(204)).headers.allow).toBe('GET, HEAD, POST');
    await t.http.options('/ingest/events').expect(404);
  });
});

// With LIVETRACE_CORS_ORIGINS the cors middleware answered every OPTIONS itself, 204 for a path
// that does not exist and no Allow for one that does.
describe('OPTIONS with LIVETRACE_CORS_ORIGINS', () => {
  const DASHBOARD = 'https://dash.example';
  const t = useDaemonlessApp({ LIVETRACE_CORS_ORIGINS: DASHBOARD });
  const preflight = { Origin: DASHBOARD, 'Access-Control-Request-Method': 'POST', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' };

  it('a preflight from a listed origin gets its grant and the Allow of the path', async () => {
    const res = await t.http.options('/trace-sessions').set(preflight).expect(204);
    expect(res.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(res.headers.allow).toBe('GET, HEAD, POST');
  });

  it('an unknown path is 404 to a preflight too; another origin gets no grant', async () => {
    await t.http.options('/no-such-path').set(preflight).expect(404);
    const other = await t.http.options('/trace-sessions').set({ Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' }).expect(204);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

// A browser sends a preflight without credentials (Fetch: "CORS-preflight request" never carries
// Authorization): with LIVETRACE_API_TOKEN set it was answered 401 with no grant, so a page of an
// origin LIVETRACE_CORS_ORIGINS names could not send its bearer token at all.
describe('a preflight with LIVETRACE_API_TOKEN and LIVETRACE_CORS_ORIGINS', () => {
  const DASHBOARD = 'https://dash.example';
  const TOKEN = 'sekrit-token-1234567890abcdef';
  const t = useDaemonlessApp({ LIVETRACE_CORS_ORIGINS: DASHBOARD, LIVETRACE_API_TOKEN: TOKEN });
  const preflight = (origin: string) => ({ Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' });

  it('from a listed origin is granted without the token; what it asks for then still needs it', async () => {
    const pre = await t.http.options('/traces').set(preflight(DASHBOARD)).expect(204);
    expect(pre.headers['access-control-allow-origin']).toBe(DASHBOARD);
    expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(pre.headers.allow).toBe('GET, HEAD, POST');
    await t.http.get('/traces').set({ Origin: DASHBOARD, 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' }).expect(401);
    await t.http.get('/traces').set({ Origin: DASHBOARD, 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors', Authorization: `Bearer ${TOKEN}` }).expect(200);
  });

  it('from any other origin, or an OPTIONS that is no preflight, still needs the token', async () => {
    await t.http.options('/traces').set(preflight('https://evil.example')).expect(401);
    await t.http.options('/traces').set({ Origin: DASHBOARD, 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' }).expect(401);
    await t.http.options('/traces').expect(401);
    expect((await t.http.options('/traces').set('Authorization', `Bearer ${TOKEN}`).expect(204)).headers.allow).toBe('GET, HEAD, POST');
  });
});
