// Trace-session agents sharing one real migrated SQLite file, for specs of what several chassis do
// with one session (maxTraces together, a completion seen by the other agent), what one agent does
// with a file an older version left (sessionAgentsOnFile), and under the tracer (session-tracer.ts).
// The replicas are a stand-in: the chassis name, the local OVS database synced.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import { StoreService } from '../../src/storage/store.service';
import { TraceSessionStore } from '../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../src/trace-sessions/trace-sessions.service';
import { testConfig } from './app';

/** Agents `names` on a new SQLite file in a temporary folder named from `prefix`; `env`, more of their configuration. */
export function sessionAgentsOnOneFile(prefix: string, names: string[] = ['hv1', 'hv2'], env: Record<string, string> = {}) {
  return sessionAgentsOnFile(join(mkdtempSync(join(tmpdir(), prefix)), 'db.sqlite'), names, env);
}

/** Agents `names` on SQLite `file` once every migration has run on it (a file an older version left, too). */
export async function sessionAgentsOnFile(file: string, names: string[], env: Record<string, string> = {}) {
  const ds = new DataSource({ ...dataSourceOptions(file), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  const cfg = testConfig({ LIVETRACE_DB: file, ...env });
  const store = new StoreService(ds, null, cfg);
  const sessions = new TraceSessionStore(store);
  const agents = names.map(
    (name) => new TraceSessionsService(cfg, store, sessions, { chassisName: () => name, status: () => ({ synced: true }), model: { generation: 1, topologyGeneration: 1 } } as unknown as ReplicasService),
  );
  /** The agents stopped, then the store and its file's connection. */
  const close = async (): Promise<void> => {
    for (const a of agents) await a.beforeApplicationShutdown();
    await store.beforeApplicationShutdown();
    await store.onApplicationShutdown();
    await ds.destroy();
  };
  return { cfg, store, sessions, agents, close };
}
