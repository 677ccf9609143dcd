// LIVETRACE_ROLE: an agent answers only /health and /metrics (its rows are read through an api
// instance); an api instance runs no source (poller, vlog, ingest sweep, retention), carries out no
// session, and writes nothing into the database the agents share but the sessions it is asked to
// create or stop.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { PollerService } from '../../src/collectors/poller.service';
import { VlogSourceService } from '../../src/collectors/vlog-source.service';
import { RetentionService } from '../../src/retention/retention.service';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { startApp } from '../support/app';

jest.setTimeout(120_000);

describe('LIVETRACE_ROLE=agent', () => {
  let app: INestApplication;
  beforeAll(async () => {
    app = await startApp({ LIVETRACE_ROLE: 'agent', LIVETRACE_POLLER: 'false', LIVETRACE_CHASSIS: 'hv1' });
  });
  afterAll(async () => app?.close());

  it.each(['/traces', '/paths/1', '/upcalls', '/datapath-flows', '/trace-sessions', '/ui', '/docs-json', '/'])('answers 404 on GET %s, naming the role', async (url) => {
    const res = await request(app.getHttpServer()).get(url).expect(404);
    expect(res.body.message).toMatch(/LIVETRACE_ROLE=agent answers only \/health and \/metrics/);
  });

  it('answers 404 on the write routes too', async () => {
    await request(app.getHttpServer()).post('/trace-sessions').send({}).expect(404);
    await request(app.getHttpServer()).post('/ingest/events?source=x').set('Content-Type', 'application/x-ndjson').send('{}\n').expect(404);
  });

  // Express routes without case and with a trailing slash: the role must read a path the same way,
  // or it refuses what the router would serve and could serve what it means to refuse.
  it.each(['/Traces', '/TRACES', '/traces/', '/%74races', '/Trace-Sessions', '/trace-sessions/'])('refuses GET %s as it refuses /traces', async (url) => {
    const res = await request(app.getHttpServer()).get(url).expect(404);
    expect(res.body.message).toMatch(/LIVETRACE_ROLE=agent answers only/);
  });

  it.each(['/Metrics', '/METRICS/', '/Health'])('serves GET %s as the router does /metrics and /health', async (url) => {
    const res = await request(app.getHttpServer()).get(url);
    expect(res.status).not.toBe(404);
    expect(res.body?.message ?? '').not.toMatch(/LIVETRACE_ROLE/);
  });

  it('serves /metrics and /health', async () => {
    await request(app.getHttpServer()).get('/metrics').expect(200);
    const health = await request(app.getHttpServer()).get('/health');
    expect(health.status).not.toBe(404);
  });
});

describe('LIVETRACE_ROLE=api', () => {
  let app: INestApplication;
  let db: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livetrace-role-'));
    db = join(dir, 'shared.sqlite');
    const vlog = join(dir, 'ovs-vswitchd.log');
    writeFileSync(vlog, '');
    // A session stored active though its time is over (no agent ran to end it): the api takes it
    // up no more than any session, writes nothing for it, and answers it expired. The schema
    // first, by a one-chassis service without a poller.
    await (await startApp({ LIVETRACE_DB: db, LIVETRACE_POLLER: 'false' })).close();
    const setup = new Database(db);
    setup.prepare(
      `INSERT INTO trace_session (chassis, created_at, bridge, filter, include_existing, cross_check, duration_seconds, expires_at, state, stats)
       VALUES ('hv1', '2026-01-01T00:00:00.000Z', 'br-int', 'ip', 0, 0, 60, '2026-01-01T00:01:00.000Z', 'active', '{}')`,
    ).run();
    setup.close();
    // Every source asked for: the role must switch them off.
    app = await startApp({
      LIVETRACE_ROLE: 'api', LIVETRACE_DB: db, LIVETRACE_POLLER: 'true', LIVETRACE_VLOG_FILE: vlog,
      LIVETRACE_RETENTION_DAYS: '7', LIVETRACE_INGEST_IDLE_SECONDS: '60',
    });
  });
  afterAll(async () => app?.close());

  it('starts no source and carries out no session', async () => {
    expect(app.get(TraceSessionsService).active.size).toBe(0);
    const sessions = await request(app.getHttpServer()).get('/trace-sessions').expect(200);
    expect(sessions.body.items.map((x: { state: string; endedAt: string }) => [x.state, x.endedAt])).toEqual([['expired', '2026-01-01T00:01:00.000Z']]);
    expect(app.get(VlogSourceService).enabled).toBe(false);
    expect(app.get(RetentionService).enabled).toBe(false);
    expect(app.get(PollerService).lastCycle).toBeFalsy();
  });

  it('reports its health without a switch of its own (no local OVS database, no vswitchd)', async () => {
    const res = await request(app.getHttpServer()).get('/health');
    const keys = Object.keys(res.body.details ?? res.body.info ?? {});
    expect(keys).toEqual(expect.arrayContaining(['storage', 'nb_db', 'sb_db']));
    expect(keys.filter((k) => /ovs|vswitchd/.test(k))).toEqual([]);
  });

  it('serves the queries', async () => {
    const res = await request(app.getHttpServer()).get('/traces').expect(200);
    expect(res.body).toBeDefined();
    await request(app.getHttpServer()).get('/paths/1').expect(404);
  });

  it('refuses every write but a session and writes nothing into the shared database', async () => {
    // data_version changes when another connection commits to the file.
    const probe = new Database(db, { readonly: true });
    const version = () => probe.pragma('data_version', { simple: true }) as number;
    const before = version();
    const http = request(app.getHttpServer());
    const refused = [
      await http.post('/ingest/events?source=usdt').set('Content-Type', 'application/x-ndjson').send('{}\n'),
      await http.post('/traces').send({ flow: 'in_port=1' }),
      await http.post('/traces/1/cross-check').send({}),
    ];
    // /traces is served here by GET: its POST is 405 with that Allow; the paths with no method of the api's are absent.
    expect(refused.map((r) => [r.status, r.headers.allow])).toEqual([[404, undefined], [405, 'GET, HEAD'], [404, undefined]]);
    for (const r of refused) expect(r.body.message).toMatch(/LIVETRACE_ROLE=api only reads/);
    await http.get('/traces').expect(200);
    await http.get('/upcalls').expect(200);
    expect(version()).toBe(before);
    expect((probe.prepare("SELECT state FROM trace_session").get() as { state: string }).state).toBe('active');
    const counts = ['trace', 'upcall', 'datapath_flow', 'path'].map((t) => (probe.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n);
    expect(counts).toEqual([0, 0, 0, 0]);
    probe.close();
  });

  it('creates a session for the agents (narrowed by chassis), runs none, and stops it', async () => {
    const http = request(app.getHttpServer());
    const res = await http.post('/trace-sessions').send({ filter: 'icmp', chassis: ['hv1', 'hv2'] }).expect(201);
    expect(res.body).toMatchObject({ state: 'active', onChassis: ['hv1', 'hv2'], perChassis: {} });
    expect(app.get(TraceSessionsService).active.size).toBe(0);
    await http.post('/trace-sessions').send({ filter: 'icmp', chassis: [] }).expect(400);
    await http.post('/trace-sessions').send({ filter: 'icmp', chassis: 'a b' }).expect(400);
    const stopped = await http.delete(`/trace-sessions/${res.body.id}`).expect(200);
    expect(stopped.body).toMatchObject({ id: res.body.id, state: 'stopped' });
    // The session whose time is over is answered expired; its stored end is the agents' to write.
    const first = await http.get('/trace-sessions/1').expect(200);
    expect(first.body).toMatchObject({ state: 'expired', endedAt: '2026-01-01T00:01:00.000Z' });
    expect((await http.get('/trace-sessions?state=active')).body.items).toEqual([]);
  });

  it('creates and stops a session whatever the case of the path, as the router routes it', async () => {
    const http = request(app.getHttpServer());
    const res = await http.post('/TRACE-SESSIONS').send({ filter: 'icmp', chassis: ['hv1'] }).expect(201);
    await http.delete(`/Trace-Sessions/${res.body.id}/`).expect(200);
    // A write of the agents' under another case stays refused.
    const refused = await http.post('/Traces').send({ flow: 'in_port=1' });
    expect(refused.status).toBe(405);
    expect(refused.body.message).toMatch(/LIVETRACE_ROLE=api only reads/);
  });
});
