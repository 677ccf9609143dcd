// Loads a synthetic history through the service's own write path: the app's data source and
// migrations, one StoreWriter, and per pass one writer job doing what the tracer does
// (datapath_flow lifetime as the poller writes it, recirculation edge, path row, TraceStore.insert,
// path-scoped ports, path verdict) — not a side door.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { DatapathFlowStore } from '../../src/datapath-flows/datapath-flow-store';
import { PathState } from '../../src/paths/path-state';
import { PathStore } from '../../src/paths/path-store';
import { dataSourceOptions } from '../../src/storage/data-source.options';
import type { StoreService } from '../../src/storage/store.service';
import { StoreWriter, WriteContext } from '../../src/storage/writer';
import { TraceStore } from '../../src/traces/trace-store';
import { AnnotatedTrace } from '../../src/correlation/types';
import { nbUuid, rng, ufidOf, varyFlow, World } from './world';

export interface Opened {
  ds: DataSource;
  db: Database;
}

export async function openStore(file: string): Promise<Opened> {
  const ds = new DataSource({ ...dataSourceOptions(file), logging: false });
  await ds.initialize();
  await ds.runMigrations();
  return { ds, db: (ds.driver as unknown as { databaseConnection: Database }).databaseConnection };
}

/** The stores the tracer and the poller write through. */
export interface LoadStores {
  traces: TraceStore;
  flows: DatapathFlowStore;
  paths: PathStore;
}

/** The app's stores on a writer and its read connection (storeHandles), as the app makes them. */
export function loadStores(handles: { db: Database; writer: StoreWriter }): LoadStores {
  return { traces: new TraceStore(handles), flows: new DatapathFlowStore(handles), paths: new PathStore(handles as unknown as StoreService) };
}

export interface LoadOptions {
  /** Passes (traces) to write. */
  traces: number;
  tenants: number;
  chassis: string;
  /** created_at of the first trace; the rest follow evenly up to `end`. */
  start: number;
  end: number;
  seed: number;
  /** Writer jobs in flight before the producer waits for commits. */
  window?: number;
  onProgress?: (done: number, perS: number) => void;
}

/** One packet (a reply): its passes written as the tracer writes them, one writer job per pass. */
function packetJobs(stores: LoadStores, reply: AnnotatedTrace[], chassis: string, at: string, r: () => number) {
  const store = stores.traces;
  const path = new PathState();
  const state: { pathId?: number; prevFlow?: number } = {};
  return reply.map((pass0, k) => (tx: WriteContext) => {
    const pass = varyFlow(pass0, r);
    const ufid = ufidOf(r);
    const recirc = Number(pass.recircId) || 0;
    const flowId = stores.flows.create(tx, {
      chassis,
      ufid,
      firstSeen: at,
      lastSeen: at,
      inPort: pass.inPort ?? null,
      recircId: pass.recircId,
      key: pass.megaflow,
      actions: pass.datapathActions,
      packets: 1 + Math.floor(r() * 1000),
      bytes: 100 + Math.floor(r() * 100000),
      used: at,
      source: 'poller',
    });
    const parents = state.prevFlow === undefined ? [] : [state.prevFlow];
    if (state.prevFlow !== undefined) stores.flows.link(tx, state.prevFlow, flowId, pass.recircId);
    state.prevFlow = flowId;
    if (state.pathId === undefined) state.pathId = stores.paths.create(tx, chassis, at);
    const portUuids = new Map(pass.ports.map((p) => [p.logicalPort, nbUuid(p.logicalPort)]));
    const id = store.insert(tx, { trace: pass, chassis, createdAt: at, ufid, datapathFlowId: flowId, sessionId: null, pathId: state.pathId, consistent: true, portUuids });
    path.add({ traceId: id, flowId, recircId: recirc, pass, parents });
    if (k > 0 || reply.length > 1) {
      const ports = path.ports().map((x) => ({ name: x.logicalPort, uuid: nbUuid(x.logicalPort), bindingUuid: x.portBindingUuid, datapath: x.datapath, role: x.role }));
      for (const t of path.traceIds) store.addPathPorts(tx, t, ports);
    }
    stores.paths.setVerdict(tx, state.pathId, path.verdict(), at);
    return id;
  });
}

/** Writes `traces` passes; resolves with the rate measured from first submit to last commit. */
export async function load(
  writer: StoreWriter,
  stores: LoadStores,
  world: World,
  o: LoadOptions,
): Promise<{ traces: number; seconds: number; perS: number; cpuSeconds: number; perCpuS: number }> {
  const r = rng(o.seed);
  const window = o.window ?? 10_000;
  const pending: Promise<unknown>[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let written = 0;
  let lastReport = t0;
  while (written < o.traces) {
    const tenant = Math.floor(r() * o.tenants);
    const reply = world.reply(Math.floor(r() * world.templates.length), tenant);
    const at = new Date(o.start + ((o.end - o.start) * written) / o.traces).toISOString();
    for (const job of packetJobs(stores, reply, o.chassis, at, r)) pending.push(writer.submit(job));
    written += reply.length;
    if (pending.length >= window) {
      await Promise.all(pending.splice(0));
      const now = performance.now();
      if (o.onProgress && now - lastReport > 10_000) {
        lastReport = now;
        o.onProgress(written, written / ((now - t0) / 1000));
      }
    }
  }
  await Promise.all(pending);
  const seconds = (performance.now() - t0) / 1000;
  // CPU time of the process too: on a shared machine it moves less with the neighbours than wall time.
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { traces: written, seconds, perS: written / seconds, cpuSeconds, perCpuS: written / cpuSeconds };
}
