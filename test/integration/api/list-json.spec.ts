// GET /traces pages are written by the reader thread as JSON with each trace's stored verdict text
// spliced in as it is (trace-read-store.ts listJson, bench/api/RESULTS-postgres.md stop 26), not by
// JSON.stringify of the built page: the bytes must be the ones JSON.stringify of list()'s page gives
// (what the page was before, and what the event loop still sends without reader threads). Every
// captured pass of every pair (test/fixtures/verdicts: drops, logged and sampled drops, rejects,
// controller splits, tunnels-free one-chassis passes, recirculations) stored through the app's own
// store; every page of every listing compared, with and without steps, first and next pages.
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { StoreService } from '../../../src/storage/store.service';
import { TraceStore } from '../../../src/traces/trace-store';
import { TraceReadStore, type TraceListQuery } from '../../../src/traces/trace-read-store';
import { SqliteReader } from '../../../src/storage/sql';
import { traceCursor } from '../../../src/common/query';
import { ReadWorkersService } from '../../../src/read-workers/read-workers.service';
import { startApp } from '../../support/app';
import { packetNodes, VERDICT_FIXTURES, VERDICT_VERSIONS } from '../../support/verdict-fixtures';

jest.setTimeout(120_000);

describe('GET /traces: the reader thread writes the page JSON.stringify would', () => {
  let app: INestApplication;
  let http: ReturnType<typeof request>;
  let reads: TraceReadStore;
  const ports = new Set<string>();

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livetrace-list-json-'));
    app = await startApp({ OVS_RUNDIR: dir, OVN_RUNDIR: dir, LIVETRACE_POLLER: 'false' });
    http = request(app.getHttpServer());
    const store = app.get(TraceStore);
    const storage = app.get(StoreService);
    for (const version of VERDICT_VERSIONS)
      for (const packet of readdirSync(join(VERDICT_FIXTURES, version)).filter((p) => statSync(join(VERDICT_FIXTURES, version, p)).isDirectory() && p !== 'schemas'))
        for (const n of packetNodes(version, packet))
          await storage.writer.submit((tx) => store.insert(tx, { trace: n.trace, chassis: 'hv1', createdAt: new Date().toISOString(), ufid: n.ufid }));
    for (const r of storage.db.prepare('SELECT DISTINCT port_name FROM trace_port').all() as Array<{ port_name: string }>) ports.add(r.port_name);
    reads = new TraceReadStore(new SqliteReader(storage.db));
  });
  afterAll(() => app?.close());

  it('is served by the reader thread (the path under test)', async () => {
    const pool = app.get(ReadWorkersService).pool!;
    const before = pool.served.traces;
    await http.get('/traces?limit=2').expect(200);
    expect(pool.served.traces).toBe(before + 1);
  });

  it('gives, page after page, the bytes of JSON.stringify(list()) for every port, role and step choice', async () => {
    expect(ports.size).toBeGreaterThan(3);
    const queries: Array<[string, Omit<TraceListQuery, 'before' | 'cursor'>]> = [
      ['limit=7', { limit: 7, withSteps: false }],
      ['limit=3&include=steps', { limit: 3, withSteps: true }],
      ['limit=1', { limit: 1, withSteps: false }],
      ['verdict=drop&limit=5', { verdict: 'drop', limit: 5, withSteps: false }],
    ];
    for (const p of ports) {
      queries.push([`logical_port=${encodeURIComponent(p)}&limit=4`, { portName: p, limit: 4, withSteps: false }]);
      queries.push([`logical_port=${encodeURIComponent(p)}&role=inport&limit=2&include=steps`, { portName: p, role: 'inport', limit: 2, withSteps: true }]);
    }
    let pages = 0;
    for (const [qs, q] of queries) {
      let cursor: string | null = null;
      for (let page = 0; page < 4; page++) {
        const r = await http.get(`/traces?${qs}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`).buffer(true).parse((res, done) => {
          let s = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (s += c));
          res.on('end', () => done(null, s));
        });
        expect(r.status).toBe(200);
        const expected: string = JSON.stringify(await reads.list({ ...q, ...traceCursor(cursor ? { cursor } : {}) }));
        expect(r.body).toBe(expected);
        pages++;
        cursor = (JSON.parse(expected) as { next: string | null }).next;
        if (!cursor) break;
      }
    }
    expect(pages).toBeGreaterThan(queries.length);
  });
});
