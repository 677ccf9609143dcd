// Issue 18: what a browser page, a hostile client and a bad day find. The app runs with no OVS/OVN
// daemon at all (their sockets do not exist), which is also the "ovs-vswitchd is down" case.
// A browser-style part (form and text bodies, foreign Host and Origin, /docs behind the token, no
// token in any log line of the real process), the one error shape for framework errors, /health
// for strangers, and what a producer's idle or abandoned lifetimes become.
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonlessEnv, spawnService, useDaemonlessApp } from '../support/app';
import { waitFor } from '../support/wait';
import { portBelowEphemeral } from '../support/ports';

jest.setTimeout(120_000);

const TOKEN = 'hardening-token-0123456789';
const shape = { statusCode: expect.any(Number), error: expect.any(String), message: expect.any(String), field: expect.any(String) };
const UFID = '8a3b0c2e-1f4d-4e5a-9b6c-7d8e9f0a1b2c';

describe('with the token set', () => {
  const t = useDaemonlessApp({ LIVETRACE_API_TOKEN: TOKEN });
  const auth = `Bearer ${TOKEN}`;

  it.each(['/docs', '/docs/', '/docs-json', '/docs-yaml', '/docs/swagger-ui-init.js', '/docs/swagger-ui.css', '/nope'])('%s needs it', async (url) => {
    const res = await t.http.get(url).expect(401);
    expect(res.body).toEqual({ ...shape, statusCode: 401, field: 'authorization' });
    expect(res.headers['www-authenticate']).toBe('Bearer');
    await t.http.get(url).set('Authorization', 'Bearer not-the-token-at-all').expect(401);
  });

  it('/docs answers with it', async () => {
    await t.http.get('/docs').set('Authorization', auth).expect(200).expect('Content-Type', /html/);
    expect((await t.http.get('/docs-json').set('Authorization', auth).expect(200)).body.paths['/traces']).toBeDefined();
  });

  it('/health tells a stranger up or down only: no file, socket path, pid or error text', async () => {
    const res = await t.http.get('/health');
    expect([200, 503]).toContain(res.status);
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/\/tmp|sqlite|\.sock|\.ctl|pid|ENOENT/i);
    for (const part of Object.values(res.body.details as Record<string, unknown>)) expect(Object.keys(part as object)).toEqual(['status']);
    const full = JSON.stringify((await t.http.get('/health').set('Authorization', auth)).body);
    expect(full).toMatch(/sqlite/);
  });
});

describe('a browser page open on the operator machine (no token, the default)', () => {
  const t = useDaemonlessApp({ LIVETRACE_ONDEMAND_RATE: '1' });

  it('cannot send form or text bodies', async () => {
    for (const [url, type, body] of [
      ['/traces', 'application/x-www-form-urlencoded', 'flow=in_port%3D1'],
      ['/trace-sessions', 'application/x-www-form-urlencoded', 'logicalPort=lsp1'],
      ['/trace-sessions', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="logicalPort"\r\n\r\nlsp1\r\n--x--\r\n'],
      ['/trace-sessions', 'text/plain', '{"logicalPort":"lsp1"}'],
      ['/ingest/events', 'text/plain', '{"type":"upcall","id":"x","time":"2026-11-27T05:21:55Z"}'],
      ['/ingest/retis', 'application/x-www-form-urlencoded', 'a=b'],
    ]) {
      const res = await t.http.post(url).set('Content-Type', type).send(body).expect(415);
      expect(res.body).toEqual({ ...shape, statusCode: 415, field: 'content-type' });
    }
  });

  it('cannot be reached under a foreign Host name (DNS rebinding)', async () => {
    for (const host of ['evil.example', 'evil.example:8470', '127.0.0.1.evil.example', '']) {
      const res = await t.http.get('/traces').set('Host', host).expect(421);
      expect(res.body).toEqual({ ...shape, statusCode: 421, field: 'host' });
    }
    await t.http.get('/traces').set('Host', 'localhost:8470').expect(200);
    await t.http.get('/traces').set('Host', '[::1]:8470').expect(200);
  });

  it('cannot start anything from another origin, even without a body; gets no CORS headers', async () => {
    const res = await t.http.post(`/datapath-flows/${UFID}/trace`).set('Origin', 'http://evil.example').expect(403);
    expect(res.body).toEqual({ ...shape, statusCode: 403, field: 'origin' });
    await t.http.delete('/trace-sessions/1').set('Origin', 'null').expect(403);
    await t.http.post('/trace-sessions').set('Sec-Fetch-Site', 'cross-site').send({ logicalPort: 'lsp1' }).expect(403);
    const pre = await t.http.options('/trace-sessions').set('Origin', 'http://evil.example').set('Access-Control-Request-Method', 'POST');
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect((await t.http.get('/traces').set('Origin', 'http://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers framework errors in the one shape, naming the field', async () => {
    const bad = await t.http.post('/trace-sessions').set('Content-Type', 'application/json').send('{"logicalPort":').expect(400);
    expect(bad.body).toEqual({ ...shape, statusCode: 400, error: 'Bad Request', field: 'body' });
    const big = await t.http.post('/traces').set('Content-Type', 'application/json').send(JSON.stringify({ flow: 'x'.repeat(1_100_000) })).expect(413);
    expect(big.body).toEqual({ ...shape, statusCode: 413, error: 'Payload Too Large', field: 'body' });
    for (const url of ['/traces/%E0%A4%A', '/datapath-flows/%zz', '/trace-sessions/%']) {
      expect((await t.http.get(url).expect(400)).body).toEqual({ ...shape, statusCode: 400, field: 'path' });
    }
    expect((await t.http.get('/no/such/route').expect(404)).body).toEqual({ ...shape, statusCode: 404, field: 'path' });
    expect((await t.http.post('/trace-sessions').send({ bridge: '../../etc', logicalPort: 'lsp1' }).expect(400)).body).toMatchObject({ field: 'bridge' });
  });

  it('answers 503 for on-demand traces while ovs-vswitchd is down, without its socket path', async () => {
    const one = await waitFor('an on-demand trace past the rate limit', async () => {
      const r = await t.http.post(`/datapath-flows/${UFID}/trace`);
      return r.status === 429 ? undefined : r;
    });
    expect(one.status).toBe(503);
    expect(one.body.message).toMatch(/ovs-vswitchd is not reachable now/);
    const two = await waitFor('a hand-typed trace past the rate limit', async () => {
      const r = await t.http.post('/traces').send({ flow: 'in_port=1,icmp' });
      return r.status === 429 ? undefined : r;
    });
    expect(two.status).toBe(503);
    for (const m of [one.body.message, two.body.message]) expect(m).not.toMatch(/\/tmp|\/var|\.ctl|\.sock/);
  });

  it('bounds on-demand traces: past LIVETRACE_ONDEMAND_RATE the answer is 429 with Retry-After', async () => {
    const all = await Promise.all(Array.from({ length: 10 }, () => t.http.post(`/datapath-flows/${UFID}/trace`)));
    const limited = all.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0].body).toEqual({ ...shape, statusCode: 429, error: 'Too Many Requests', field: 'path' });
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });
});

describe('ingested lifetimes end', () => {
  const t = useDaemonlessApp({ LIVETRACE_INGEST_IDLE_SECONDS: '30' });
  const T = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const created = (id: string, ufid: string, time: string) =>
    JSON.stringify({ type: 'ukey_created', id, time, ufid, key: 'recirc_id(0),in_port(1),eth_type(0x0800)', actions: 'drop' });
  const post = (source: string, lines: string[]) => t.http.post(`/ingest/events?source=${source}`).set('Content-Type', 'application/x-ndjson').send(lines.join('\n')).expect(200);
  const flow = async (ufid: string) => (await t.http.get(`/datapath-flows/${ufid}`).expect(200)).body;

  it('a lifetime no event touched for LIVETRACE_INGEST_IDLE_SECONDS closes as idle at its last sighting; one still touched stays', async () => {
    const old = '11111111-1111-4111-8111-111111111111';
    const fresh = '22222222-2222-4222-8222-222222222222';
    // The old one's producer dates it 30 minutes back (its clock, or a late send): idle counts from when it was heard.
    await post('usdt', [created('c-old', old, T(30)), created('c-fresh', fresh, T(0))]);
    let touches = 0;
    let touched = 0;
    const lt = await waitFor('the idle lifetime to close', async () => {
      // The fresh one's producer goes on telling of it (a second apart).
      if (Date.now() - touched >= 1000) {
        touched = Date.now();
        await post('usdt', [JSON.stringify({ type: 'ukey_updated', id: `u-fresh-${++touches}`, time: T(0), ufid: fresh, packets: touches })]);
      }
      const f = await flow(old);
      const l = (f.lifetimes ?? f.items ?? f)[0];
      return l?.removedAt ? l : undefined;
    }, 60_000);
    expect(lt).toMatchObject({ removalReason: 'idle', removedAt: lt.lastSeen });
    const f = await flow(fresh);
    expect((f.lifetimes ?? f.items ?? f)[0].removedAt).toBeNull();
  });

  it("a producer that restarts closes all of its open lifetimes at once, and only its own", async () => {
    const mine = ['33333333-3333-4333-8333-333333333331', '33333333-3333-4333-8333-333333333332'];
    const other = '44444444-4444-4444-8444-444444444444';
    await post('retis-a', mine.map((u, i) => created(`m${i}`, u, T(0))));
    await post('retis-b', [created('o1', other, T(0))]);
    // Open before the close (CI once closed 0 of them: this says whether they were stored, and how they ended).
    const open = async (u: string) => (({ removedAt, removalReason }) => ({ removedAt, removalReason }))(((await flow(u)).lifetimes ?? (await flow(u)))[0]);
    expect(await Promise.all(mine.map(open))).toEqual(mine.map(() => ({ removedAt: null, removalReason: null })));
    const res = await t.http.post('/ingest/close-lifetimes?source=retis-a').expect(200);
    expect(res.body).toEqual({ source: 'retis-a', closed: 2 });
    for (const u of mine) expect((await flow(u)).lifetimes?.[0] ?? (await flow(u))[0]).toMatchObject({ removalReason: 'producer_restart' });
    const o = await flow(other);
    expect((o.lifetimes ?? o)[0].removedAt).toBeNull();
    expect((await t.http.post('/ingest/close-lifetimes').expect(400)).body.field).toBe('source');
  });
});

describe('the real process', () => {
  it('never logs the token, and a client that hangs up is not an error with a stack', async () => {
    const port = portBelowEphemeral();
    const db = join(mkdtempSync(join(tmpdir(), 'livetrace-logs-')), 'db.sqlite');
    const child = spawnService(daemonlessEnv({ LIVETRACE_DB: db, LIVETRACE_PORT: String(port), LIVETRACE_API_TOKEN: TOKEN, LIVETRACE_LOG_LEVEL: 'debug' }));
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor('the service to listen', async () => (await fetch(`${base}/health`).catch(() => undefined)) !== undefined, 90_000);
      const h = { Authorization: `Bearer ${TOKEN}` };
      await fetch(`${base}/traces`, { headers: h });
      await fetch(`${base}/docs-json`, { headers: h });
      await fetch(`${base}/traces`, { headers: { Authorization: `Bearer ${TOKEN}x` } });
      await fetch(`${base}/trace-sessions`, { method: 'POST', headers: { ...h, 'Content-Type': 'application/json' }, body: '{"logicalPort":' });
      // an ingest body cut off halfway: the client declares 1 MB, sends a line and hangs up
      await new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write(`POST /ingest/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n{"type":"upcall"`);
          setTimeout(() => s.destroy(), 200);
        });
        s.on('close', () => resolve());
      });
      await fetch(`${base}/traces?after-the-hangup=1`, { headers: h });
      const out = () => child.stdout() + child.stderr();
      await waitFor('the request after the hang-up to be logged', () => out().includes('after-the-hangup'));
      expect(out()).toMatch(/"authorization":"<redacted>"/);
      expect(out()).not.toContain(TOKEN);
      const lines = out().split('\n').filter((l) => l.startsWith('{'));
      const errors = lines.filter((l) => JSON.parse(l).level >= 50);
      expect(errors).toEqual([]);
      expect(out()).not.toMatch(/\n\s+at /);
    } finally {
      child.proc.kill('SIGTERM');
      await child.exit;
    }
  });

  it('refuses a non-loopback bind without a token unless told, and then says so loudly', async () => {
    const base = daemonlessEnv({ LIVETRACE_DB: join(mkdtempSync(join(tmpdir(), 'livetrace-bind-')), 'db.sqlite'), LIVETRACE_HOST: '0.0.0.0' });
    const refused = spawnService({ ...base, LIVETRACE_PORT: String(portBelowEphemeral()) });
    expect((await refused.exit).code).toBe(78);
    expect(refused.stderr()).toMatch(/LIVETRACE_HOST=0\.0\.0\.0 is not a loopback address and LIVETRACE_API_TOKEN is empty.*LIVETRACE_ALLOW_INSECURE_BIND/);
    const port = portBelowEphemeral();
    const allowed = spawnService({ ...base, LIVETRACE_PORT: String(port), LIVETRACE_ALLOW_INSECURE_BIND: 'true' });
    try {
      await waitFor('the insecure warning', () => /INSECURE: LIVETRACE_HOST=0\.0\.0\.0/.test(allowed.stdout() + allowed.stderr()), 90_000);
    } finally {
      allowed.proc.kill('SIGTERM');
      await allowed.exit;
    }
  });
});
