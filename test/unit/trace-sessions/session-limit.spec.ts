// LIVETRACE_MAX_SESSIONS holds under simultaneous POST /trace-sessions: every active session is
// checked against every new datapath flow, so their number is the bound on that work. The check
// read the active sessions, then awaited, then inserted: two requests at once both read "0
// active" and both inserted. On a real migrated SQLite file with the app's store (writer, read
// connection); the replicas are a stand-in (an api instance checks no switch).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { StoreService } from '../../../src/storage/store.service';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { TraceSessionStore } from '../../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { testConfig } from '../../support/app';

const replicas = { chassisName: () => 'api-1', status: () => ({ synced: false }), model: { generation: 1 } } as unknown as ReplicasService;

/** One api process on `file`: its own connections and writer, as a second instance on the same file has. */
async function api(file: string, max: number) {
  const ds = new DataSource({ ...dataSourceOptions(file), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const cfg = testConfig({ LIVETRACE_DB: file, LIVETRACE_ROLE: 'api', LIVETRACE_MAX_SESSIONS: String(max) });
  const store = new StoreService(ds, null, cfg);
  const svc = new TraceSessionsService(cfg, store, new TraceSessionStore(store), replicas);
  const close = async () => {
    await svc.beforeApplicationShutdown();
    await store.beforeApplicationShutdown();
    await store.onApplicationShutdown();
    await ds.destroy();
  };
  return { svc, store, close };
}

const dbFile = () => join(mkdtempSync(join(tmpdir(), 'livetrace-session-limit-')), 'db.sqlite');
const active = (store: StoreService) => (store.db.prepare(`SELECT count(*) AS n FROM trace_session WHERE state = 'active'`).get() as { n: number }).n;
const outcome = (r: PromiseSettledResult<unknown>) => (r.status === 'fulfilled' ? 201 : ((r.reason as { status?: number }).status ?? String(r.reason)));

describe('LIVETRACE_MAX_SESSIONS under simultaneous creates', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const x of open.splice(0)) await x.close();
  });

  it('one process: of five at once under a limit of 2, two are made and three answered 409', async () => {
    const a = await api(dbFile(), 2);
    open.push(a);
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => a.svc.create({ bridge: 'br-int', filter: `tcp,tp_dst=${i + 1}` })));
    expect(results.map(outcome).sort()).toEqual([201, 201, 409, 409, 409]);
    expect(active(a.store)).toBe(2);
  });

  it('two api processes on one SQLite file: the limit holds across them', async () => {
    const file = dbFile();
    const a = await api(file, 1);
    open.push(a);
    const b = await api(file, 1);
    open.push(b);
    const results = await Promise.allSettled([a.svc.create({ bridge: 'br-int', filter: 'icmp' }), b.svc.create({ bridge: 'br-int', filter: 'udp' })]);
    expect(results.map(outcome).sort()).toEqual([201, 409]);
    expect(active(a.store)).toBe(1);
  });
});
