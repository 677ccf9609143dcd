// Loads a synthetic history through the service's own write path: the app's data source and
// migrations, one StoreWriter, and per pass one writer job doing what the tracer does
// (datapath_flow lifetime as the poller writes it, recirculation edge, path row, TraceStore.insert,
// path-scoped ports, path verdict) — not a side door.
import 'reflect-metadata';
import type { Database } from 'better-sqlite3';
import { DataSource } from 'typeorm';
import { PathState } from '../../src/paths/path-state';
import { dataSourceOptions } from '../../src/storage/data-source.options';
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
function packetJobs(store: TraceStore, reply: AnnotatedTrace[], chassis: string, at: string, r: () => number) {
  const path = new PathState();
  const state: { pathId?: number; prevFlow?: number } = {};
  return reply.map((pass0, k) => (tx: WriteContext) => {
    const pass = varyFlow(pass0, r);
    const ufid = ufidOf(r);
    const recirc = Number(pass.recircId) || 0;
    const dp = tx
      .stmt(
        `INSERT INTO datapath_flow (chassis, ufid, first_seen, last_seen, in_port, recirc_id, key, actions, packets, bytes, used, source)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'poller')`,
      )
      .run(chassis, ufid, at, at, pass.inPort ?? null, pass.recircId, pass.megaflow, pass.datapathActions, 1 + Math.floor(r() * 1000), 100 + Math.floor(r() * 100000), at);
    const flowId = Number(dp.lastInsertRowid);
    const parents = state.prevFlow === undefined ? [] : [state.prevFlow];
    if (state.prevFlow !== undefined) tx.stmt('INSERT OR IGNORE INTO recirc_edge (parent_id, child_id, recirc_id) VALUES (?, ?, ?)').run(state.prevFlow, flowId, pass.recircId);
    state.prevFlow = flowId;
    if (state.pathId === undefined) state.pathId = Number(tx.stmt('INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, ?)').run(chassis, at, at, '{}').lastInsertRowid);
    const portUuids = new Map(pass.ports.map((p) => [p.logicalPort, nbUuid(p.logicalPort)]));
    const id = store.insert(tx, { trace: pass, chassis, createdAt: at, ufid, datapathFlowId: flowId, sessionId: null, pathId: state.pathId, consistent: true, portUuids });
    path.add({ traceId: id, flowId, recircId: recirc, pass, parents });
    if (k > 0 || reply.length > 1) {
      const ports = path.ports().map((x) => ({ name: x.logicalPort, uuid: nbUuid(x.logicalPort), bindingUuid: x.portBindingUuid, datapath: x.datapath, role: x.role }));
      for (const t of path.traceIds) store.addPathPorts(tx, t, ports);
    }
    tx.stmt('UPDATE path SET verdict = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(path.verdict()), at, state.pathId);
    return id;
  });
}

/** Writes `traces` passes; resolves with the rate measured from first submit to last commit. */
export async function load(
  writer: StoreWriter,
  store: TraceStore,
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
    for (const job of packetJobs(store, reply, o.chassis, at, r)) pending.push(writer.submit(job));
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
