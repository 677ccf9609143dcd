// Operations from day one: the service starts on a real sandbox, reports its health, exposes
// metrics and its OpenAPI document, refuses a bad configuration, and shuts down on SIGTERM.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { Sandbox, waitFor } from '../support/sandbox';
import { spawnService, startApp } from '../support/app';

jest.setTimeout(120_000);

describe('operations endpoints on a real sandbox', () => {
  let sb: Sandbox;
  let app: INestApplication;

  beforeAll(async () => {
    sb = await Sandbox.start();
    app = await startApp({ ...sb.env });
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('GET /health reports storage up, in WAL mode, with its migrations applied', async () => {
    const res = await request(app.getHttpServer()).get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.details.storage).toMatchObject({ status: 'up', journalMode: 'wal' });
    expect(res.body.details.storage.migrations).toBeGreaterThanOrEqual(1);
  });

  it('GET /metrics answers Prometheus text', async () => {
    const res = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^# TYPE livetrace_process_cpu_user_seconds_total counter$/m);
  });

  it('GET /docs-json is an OpenAPI document listing the routes; /docs serves the UI', async () => {
    const res = await request(app.getHttpServer()).get('/docs-json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/health', '/metrics']));
    await request(app.getHttpServer()).get('/docs').expect(200).expect('Content-Type', /html/);
  });
});

describe('the service process', () => {
  it('refuses to start on a bad value, naming the key and the value', async () => {
    const child = spawnService({ LIVETRACE_PORT: 'eighty' });
    const { code } = await child.exit;
    expect(code).toBe(78);
    expect(child.stderr()).toMatch(/invalid configuration: LIVETRACE_PORT="eighty": expected an integer/);
  });

  it('refuses an ssl: remote without its certificates', async () => {
    const child = spawnService({ OVN_SB_DB: 'ssl:127.0.0.1:6642' });
    expect((await child.exit).code).toBe(78);
    expect(child.stderr()).toMatch(/LIVETRACE_SSL_PRIVATE_KEY="": required because OVN_SB_DB uses an ssl: remote/);
  });

  // Nest closes every module, then re-raises the signal so the exit status says why it stopped.
  it('serves, then shuts down gracefully on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livetrace-proc-'));
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const child = spawnService({ LIVETRACE_DB: join(dir, 'db.sqlite'), LIVETRACE_PORT: port });
    try {
      await waitFor('the service to answer /health', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        return res?.status === 200;
      }, 60_000);
      child.proc.kill('SIGTERM');
      const { code, signal } = await child.exit;
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
      expect(child.stdout()).toMatch(/shutting down on SIGTERM/);
      expect(child.stdout()).toMatch(/"msg":"stopped \(SIGTERM\)"/);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });
});
