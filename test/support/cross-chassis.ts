// The cross-chassis reader of a one-chassis service (LIVETRACE_ROLE=all) over a store, for tests
// that build PathsService by hand: the southbound Encap rows given (none by default), default skew.
import type { Database } from 'better-sqlite3';
import type { LivetraceConfig } from '../../src/config/config.schema';
import type { MetricsService } from '../../src/metrics/metrics.service';
import { CrossChassisPaths } from '../../src/paths/cross-chassis';
import { PathStore } from '../../src/paths/path-store';
import type { StoreWriter } from '../../src/storage/writer';
import { TraceStore } from '../../src/traces/trace-store';
import { closeMigratedSqlite, openMigratedSqlite, type MigratedSqlite } from './migrated-sqlite';
import type { ReplicasService } from '../../src/replicas/replicas.service';
import { recircIdHex } from '../../src/ovs/ids';
import { pushSignature } from '../../src/ovs/push-signature';
import { tunnelSignature } from '../../src/ovs/tunnel-signature';
import { ovnTunnelKeys } from '../../src/ovs/odp-tunnel';
import type { OvnModel } from '../../src/ovn/ovn-model';

export function oneChassis(
  store: PathStore,
  config: Partial<LivetraceConfig> = {},
  encap: Record<string, string> = {},
  metrics?: MetricsService,
  model?: Pick<OvnModel, 'tunnelKeys'>,
): CrossChassisPaths {
  // The southbound Encap table: chassis name → encap IP.
  const sb = { find: (_t: string, _c: string, ip: string) => Object.entries(encap).filter(([, v]) => v === ip).map(([chassis_name]) => ({ chassis_name, ip })) };
  // No Chassis or Port_Binding rows given: the push's own keys (a real model where a spec needs the southbound's view).
  const replicas = { sb, model: model ?? { tunnelKeys: ovnTunnelKeys } };
  return new CrossChassisPaths(store, replicas as unknown as ReplicasService, { LIVETRACE_ROLE: 'all', LIVETRACE_TUNNEL_SKEW_MS: 1000, ...config } as LivetraceConfig, metrics);
}

export interface PathStores {
  db: Database;
  writer: StoreWriter;
  traces: TraceStore;
  store: PathStore;
}

/**
 * A migrated SQLite store with the trace and path stores over it, for the enclosing describe: opened
 * in a beforeAll registered here (so before the spec's own), closed after it. Its fields are there
 * once that beforeAll ran.
 */
export function usePathStores(prefix: string): PathStores {
  const stores = {} as PathStores;
  let opened: (MigratedSqlite & { writer: StoreWriter }) | undefined;
  beforeAll(async () => {
    opened = await openMigratedSqlite(prefix);
    const { db, writer } = opened;
    Object.assign(stores, { db, writer, traces: new TraceStore({ db, writer }), store: new PathStore({ db }) });
  });
  afterAll(async () => {
    if (opened) await closeMigratedSqlite(opened);
  });
  return stores;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One pass as an agent stores it (the tunnel and push signatures as DatapathFlowStore.create writes
 * them): its datapath flow from a captured line, its trace (with the pass verdict) under a new path
 * of its chassis, or under `pathId`.
 */
export function storePass(
  db: Database,
  chassis: string,
  l: { key: string; actions: string; recirc: number },
  at: number,
  verdict: Record<string, unknown>,
  pathId?: number,
): { flow: number; trace: number; path: number } {
  const flow = Number(db.prepare(
    `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, removed_at, recirc_id, key, actions, packets, bytes, source, tunnel_sig, push_sig)
     VALUES (?, ?, ?, ?, NULL, ?, ?, ?, 1, 98, 'poller', ?, ?)`,
  ).run(chassis, `ufid-${chassis}-${at}-${l.recirc}`, iso(at), iso(at + 50), recircIdHex(l.recirc), l.key, l.actions, tunnelSignature(l.key, l.recirc), pushSignature(l.actions)).lastInsertRowid);
  const path = pathId ?? Number(db.prepare("INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, '{}')").run(chassis, iso(at), iso(at)).lastInsertRowid);
  const v = { kinds: [], logicalPorts: [], logicalFlow: null, northbound: null, tunnels: [], recircIds: [], reason: null, ...verdict };
  const trace = Number(db.prepare(
    `INSERT INTO trace (chassis, created_at, datapath_flow_id, ufid, method, bridge, recirc_id, flow, final_flow, megaflow, datapath_actions,
       verdict_kinds, verdict, path_id, step_count, steps)
     VALUES (?, ?, ?, NULL, 'trace', 'br-int', ?, '', '', '', ?, ?, ?, ?, 0, x'')`,
  ).run(chassis, iso(at), flow, recircIdHex(l.recirc), l.actions, `,${(v.kinds as string[]).join(',')},`, JSON.stringify(v), path).lastInsertRowid);
  return { flow, trace, path };
}

/**
 * These chassis's agents told marks past everything the test stores (chassis_mark, as their agents
 * write it): a history read after the fact, no hop provisional (src/paths/provisional.ts).
 */
export function allStored(db: Database, chassis: string[]): void {
  const far = '2100-01-01T00:00:00.000Z';
  const write = db.prepare('INSERT INTO chassis_mark (chassis, traced_through, updated_at) VALUES (?, ?, ?) ON CONFLICT (chassis) DO UPDATE SET traced_through = excluded.traced_through');
  for (const c of chassis) write.run(c, far, far);
}
