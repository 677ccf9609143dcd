// Operations from day one: the service starts on a real sandbox, reports its health, exposes
// metrics and its OpenAPI document, refuses a bad configuration, and shuts down on SIGTERM.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { pairFile, Sandbox } from '../support/sandbox';
import { waitFor } from '../support/wait';
import { portBelowEphemeral } from '../support/ports';
import { spawnService, startApp } from '../support/app';
import { parsePromText, type PromFamily } from '../support/prom-text';

jest.setTimeout(120_000);

/** A name from the northbound as a hostile tenant may write it: every character the format escapes. */
const HOSTILE = 'a"b\\c\nd';

/**
 * GET /metrics read strictly (test/support/prom-text.ts), then the conventions a scrape is still
 * read without but a dashboard relies on: a counter named _total, a number where a number is meant,
 * the format's own content type.
 */
function strictScrape(res: request.Response): PromFamily[] {
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  const families = parsePromText(res.text);
  expect(families.filter((f) => f.type === 'counter' && !f.name.endsWith('_total')).map((f) => f.name)).toEqual([]);
  expect(families.filter((f) => f.help === undefined || f.type === 'untyped').map((f) => f.name)).toEqual([]);
  // NaN only where it is the truth: prom-client's event-loop lag gauges when no delay was sampled
  // since the last scrape (the second of two scrapes in a row below; CI on debian13 saw it).
  const noSample = (f: PromFamily, v: number) => Number.isNaN(v) && f.type === 'gauge' && f.name.startsWith('livetrace_nodejs_eventloop_lag_');
  const notNumbers = families.flatMap((f) => f.samples.filter((s) => !Number.isFinite(s.value) && !(f.type === 'gauge' && s.value === Infinity) && !noSample(f, s.value)).map((s) => `${s.name} ${JSON.stringify(s.labels)} ${s.value}`));
  expect(notNumbers).toEqual([]);
  return families;
}

describe('operations endpoints on a real sandbox', () => {
  let sb: Sandbox;
  let app: INestApplication;

  beforeAll(async () => {
    sb = await Sandbox.start();
    await sb.demoTopology();
    app = await startApp({ ...sb.env });
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('GET /health reports storage (WAL, migrated) and the three databases synced, with their remotes and row counts', async () => {
    const res = await waitFor('all databases synced', async () => {
      const r = await request(app.getHttpServer()).get('/health');
      return r.status === 200 ? r : undefined;
    });
    expect(res.body.status).toBe('ok');
    expect(res.body.details.storage).toMatchObject({ status: 'up', journalMode: 'wal' });
    expect(res.body.details.storage.migrations).toBeGreaterThanOrEqual(1);
    expect(res.body.details.nb_db).toMatchObject({ status: 'up', database: 'OVN_Northbound', remote: sb.env.OVN_NB_DB, model: 'standalone', synced: true });
    expect(res.body.details.sb_db).toMatchObject({ status: 'up', database: 'OVN_Southbound', remote: sb.env.OVN_SB_DB });
    expect(res.body.details.sb_db.rows.Chassis).toBe(1);
    expect(res.body.details.sb_db.rows.Logical_Flow).toBeGreaterThan(10);
    expect(res.body.details.ovs_db.rows.Bridge).toBe(1);
    // Columns the server's schema lacks are skipped, and said so: Datapath_Binding's type/nb_uuid
    // exist from OVN 26.03's schema on (23.03 and 25.03 keep them in external_ids).
    const sbSchema = JSON.parse(readFileSync(pairFile('/usr/share/ovn/ovn-sb.ovsschema'), 'utf8'));
    const dbColumns = Object.keys(sbSchema.tables.Datapath_Binding.columns);
    const expected = ['Datapath_Binding.type', 'Datapath_Binding.nb_uuid'].filter((c) => !dbColumns.includes(c.split('.')[1]));
    const skipped: string[] = res.body.details.sb_db.skipped ?? [];
    expect(skipped.filter((c) => c.startsWith('Datapath_Binding.'))).toEqual(expected);
  });

  // Names from the northbound are the tenant's: a port, a switch and an ACL named with a quote, a
  // backslash and a newline, must leave the scrape one Prometheus reads.
  it('GET /metrics is valid text format 0.0.4 with hostile names in the northbound', async () => {
    const http = request(app.getHttpServer());
    const acls = async () => ((await http.get('/health')).body.details?.nb_db?.rows?.ACL as number | undefined) ?? 0;
    const before = await acls();
    await sb.nbctl('ls-add', `sw-${HOSTILE}`);
    await sb.nbctl('lsp-add', `sw-${HOSTILE}`, HOSTILE);
    await sb.nbctl('--name=' + HOSTILE, 'acl-add', `sw-${HOSTILE}`, 'to-lport', '1001', 'ip4', 'allow-related');
    await sb.nbctl('set', 'logical_switch_port', HOSTILE, `external_ids:reason=${JSON.stringify(HOSTILE)}`);
    await sb.nbctl('--wait=sb', 'sync');
    await waitFor('the hostile ACL in the replica', async () => (await acls()) > before);
    const families = strictScrape(await http.get('/metrics').expect(200));
    const names = families.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['livetrace_process_cpu_user_seconds_total', 'livetrace_ovsdb_rows']));
    // Two scrapes in a row: a collect() that moves a counter must not throw on the second.
    strictScrape(await http.get('/metrics').expect(200));
  });

  it('GET /health turns 503 naming the database when a server goes away', async () => {
    const pid = Number(readFileSync(join(sb.dir, 'ovsdb-server-nb.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    let last: unknown;
    const res = await waitFor('nb_db down', async () => {
      const r = await request(app.getHttpServer()).get('/health');
      last = r.body;
      return r.status === 503 && r.body.error?.nb_db ? r : undefined;
    }).catch((err) => {
      throw new Error(`${err.message}; last /health: ${JSON.stringify(last)}`);
    });
    expect(res.body.error.nb_db).toMatchObject({ status: 'down', synced: false });
    expect(res.body.error.nb_db.lastError).toContain(sb.env.OVN_NB_DB);
    expect(res.body.details.sb_db.status).toBe('up');
  });

  it('GET /metrics answers Prometheus text', async () => {
    // With a database gone too (the test before killed nb): still valid, its replica's gauges numbers.
    const res = await request(app.getHttpServer()).get('/metrics').expect(200);
    strictScrape(res);
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
    const port = String(portBelowEphemeral());
    const child = spawnService({ LIVETRACE_DB: join(dir, 'db.sqlite'), LIVETRACE_PORT: port });
    try {
      // No OVN here: /health answers 503 (databases unreachable) but the service serves.
      await waitFor('the service to answer /health', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        return res?.status === 503;
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

describe('the OpenAPI document', () => {
  let sb: Sandbox;
  let app: INestApplication;

  beforeAll(async () => {
    sb = await Sandbox.start();
    app = await startApp({ ...sb.env, LIVETRACE_POLLER: 'false' });
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop();
  });

  it('documents every route with a summary, and the main ones with real examples', async () => {
    const doc = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body;
    const paths = Object.keys(doc.paths);
    for (const p of ['/traces', '/traces/{id}', '/paths/{id}', '/datapath-flows', '/datapath-flows/{ufid}', '/datapath-flows/{ufid}/trace',
      '/logical-flows/{uuid}', '/logical-flows/{uuid}/datapath-flows', '/northbound/{table}/{uuid}/datapath-flows', '/trace-sessions', '/trace-sessions/{id}'])
      expect(paths).toContain(p);
    for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, { summary?: string }>>))
      for (const [m, op] of Object.entries(ops)) expect(`${m} ${p}: ${op.summary ?? ''}`).toMatch(/: \S/);
    const example = doc.paths['/traces/{id}'].get.responses['200'].content['application/json'].schema.example;
    expect(example.steps[0].owners[0].table).toBe('Logical_Flow');
    expect(doc.paths['/traces'].get.parameters.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['logical_port', 'role', 'verdict', 'limit', 'cursor']));
  });
});
