// A real trace-session service over an OVN model's replicas (its southbound, northbound and local OVS
// rows) on a new migrated SQLite file, with one active session per logical port: for specs of which
// flows a port session selects (session-tunnel-keys, session-port-recompute).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { OvnModel } from '../../src/ovn/ovn-model';
import { inPort, parseKey } from '../../src/ovs/odp-key';
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { StoreService } from '../../src/storage/store.service';
import { emptyStats, TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { testConfig } from './app';

/** A real session service on `chassis` over the model's replicas, with one active session per logical port. */
export async function sessionsOn(model: OvnModel, chassis: string, ports: string[]) {
  const file = join(mkdtempSync(join(tmpdir(), 'livetrace-port-sessions-')), 'db.sqlite');
  const ds = new DataSource({ ...dataSourceOptions(file), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const cfg = testConfig({ LIVETRACE_DB: file });
  const store = new StoreService(ds, null, cfg);
  const sessions = new TraceSessionStore(store);
  const replicas = { chassisName: () => chassis, status: () => ({ synced: true }), model, ...model.db } as unknown as ReplicasService;
  const svc = new TraceSessionsService(cfg, store, sessions, replicas);
  const ids = new Map<number, string>();
  for (const logicalPort of ports) {
    const id = await store.writer.submit((tx) =>
      sessions.insert(tx, {
        chassis: 'api-1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: null, logicalPort, maxTraces: null,
        durationSeconds: null, includeExisting: false, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null,
        stats: emptyStats(), perChassis: {},
      }),
    );
    ids.set(id, logicalPort);
  }
  await svc.onApplicationBootstrap();
  clearInterval((svc as unknown as { timer: NodeJS.Timeout }).timer);
  /** The logical ports whose sessions select the flow, with how. */
  const selecting = (text: string) => {
    const key = parseKey(text);
    return svc.select({ inPort: inPort(key) ?? null, flow: { key } }, []).map((p) => [ids.get(p.session.json.id), p.how]);
  };
  const close = async () => {
    await svc.beforeApplicationShutdown();
    await store.beforeApplicationShutdown();
    await store.onApplicationShutdown();
    await ds.destroy();
  };
  return { svc, selecting, close };
}
