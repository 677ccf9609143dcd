// A session's maxTraces bounds what it stores, and what it remembers of the flows it selected ends
// with them, on a real migrated SQLite store with the real
// session service and trace queue. The tracer does not wait for a pass's store before tracing the
// next (the writer batches), and a session ended only when a store had committed: every pass
// traced while the first maxTraces stores were in flight (up to 256) was stored too. Reproduced
// with includeExisting over 10 installed flows and maxTraces 2: 10 stored. Stand-ins: the poller
// (its installed flows), ofproto/trace (an answer at once) and the path recorder, whose stores
// commit only when the test says (a writer behind other jobs).
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import type { DatapathPorts } from '../../../src/collectors/datapath-ports';
import type { FlowTracer } from '../../../src/collectors/flow-tracer';
import type { PollerService } from '../../../src/collectors/poller.service';
import type { TracerMetrics } from '../../../src/collectors/tracer-metrics';
import { TracerService } from '../../../src/collectors/tracer.service';
import { parseDumpLine } from '../../../src/ovs/dump-flows';
import type { PathRecorder } from '../../../src/paths';
import type { ReplicasService } from '../../../src/replicas/replicas.service';
import { dataSourceOptions } from '../../../src/storage/data-source.options';
import { StoreService } from '../../../src/storage/store.service';
import { emptyStats, TraceSessionStore } from '../../../src/trace-sessions/trace-session-store';
import { TraceSessionsService } from '../../../src/trace-sessions/trace-sessions.service';
import { testConfig } from '../../support/app';
import { waitFor } from '../../support/wait';

const flow = (i: number) => {
  const line = `ufid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}, recirc_id(0),in_port(vif1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=${i}), packets:1, bytes:98, used:0.1s, actions:2`;
  const d = parseDumpLine(line)!;
  const at = new Date().toISOString();
  return { ufid: d.ufid!, dbId: i + 1, firstSeen: at, lastSeen: at, inPort: 'vif1', recircId: 0, key: '', actions: '2', packets: 1, bytes: 98, used: at, recircTargets: [], flow: d };
};

describe('a session’s maxTraces', () => {
  let ds: DataSource;
  let store: StoreService;
  let sessions: TraceSessionsService;
  let tracer: TracerService;

  afterEach(async () => {
    await tracer?.beforeApplicationShutdown();
    await sessions?.beforeApplicationShutdown();
    await store.beforeApplicationShutdown();
    await store.onApplicationShutdown();
    await ds.destroy();
  });

  /** The real session service and tracer over a migrated SQLite file; `installed`: the poller's flows. */
  async function harness(installed: ReturnType<typeof flow>[], traceGate?: Promise<void>) {
    const file = join(mkdtempSync(join(tmpdir(), 'livetrace-maxtraces-')), 'db.sqlite');
    ds = new DataSource({ ...dataSourceOptions(file), logging: false });
    await ds.initialize();
    await ds.runMigrations();
    const cfg = testConfig({ LIVETRACE_DB: file, LIVETRACE_TRACE_RATE: '100000' });
    store = new StoreService(ds, null, cfg);
    const sessionStore = new TraceSessionStore(store);
    const replicas = { chassisName: () => 'hv1', status: () => ({ synced: true }), model: { generation: 1 } } as unknown as ReplicasService;
    sessions = new TraceSessionsService(cfg, store, sessionStore, replicas);

    const poller = Object.assign(new EventEmitter(), {
      table: { parentsOf: () => [], childrenOf: () => [], live: new Map() },
      liveFlows: () => installed,
      whenSeeded: async () => undefined,
      chassis: 'hv1',
    }) as unknown as PollerService;
    let traced = 0;
    const flowTracer = {
      traceFlow: async () => {
        await traceGate;
        traced++;
        return { kind: 'ok', trace: { ports: [] }, consistent: true, methodReason: 'trace' };
      },
    } as unknown as FlowTracer;
    const commits: Array<() => void> = [];
    const paths = {
      record: () => new Promise((resolve) => commits.push(() => resolve({ traceId: commits.length, pathId: 1, complete: null }))),
      forgetLater: () => undefined,
    } as unknown as PathRecorder;
    const metrics = { queueDepth: () => undefined, count: () => undefined, stored: () => undefined } as unknown as TracerMetrics;
    tracer = new TracerService(cfg, poller, sessions, flowTracer, paths, { names: () => undefined } as unknown as DatapathPorts, metrics, store);
    tracer.onApplicationBootstrap();

    const poller2 = poller as unknown as EventEmitter;
    return { sessionStore, poller: poller2, commits, traced: () => traced };
  }

  const newSession = (sessionStore: TraceSessionStore, over: { maxTraces?: number | null; includeExisting?: boolean }) =>
    store.writer.submit((tx) =>
      sessionStore.insert(tx, {
        chassis: 'hv1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: 'icmp', logicalPort: null, maxTraces: null, durationSeconds: null,
        includeExisting: false, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null, stats: emptyStats(), perChassis: {}, ...over,
      }),
    );

  it('stores no more passes than maxTraces, though the stores commit after the next traces', async () => {
    const { sessionStore, commits, traced } = await harness(Array.from({ length: 10 }, (_, i) => flow(i)));
    const id = await newSession(sessionStore, { maxTraces: 2, includeExisting: true });
    await sessions.onApplicationBootstrap(); // takes the session up: includeExisting queues the 10 flows
    await waitFor('the queue drained', async () => tracer.queueDepth === 0, 10_000);
    await (tracer as unknown as { queue: { stop(): Promise<void> } }).queue.stop();

    // Every store the tracer started commits now.
    expect(commits.length).toBeGreaterThan(0);
    for (const c of commits) c();
    await waitFor('the session ended', async () => ((await sessions.get(id)).state === 'completed' ? true : undefined), 10_000);
    const s = await sessions.get(id);
    expect(s.stats.stored).toBe(2);
    expect(commits.length).toBe(2);
    expect(traced()).toBeGreaterThanOrEqual(2);
  });

  // A session keeps the lifetimes it selected so their recirculations are selected too; it kept
  // every one for as long as it ran, so a long session (no duration, no maxTraces) on a busy port
  // grew the agent's memory with every flow it ever saw.
  it('forgets the flows it selected once they are removed from the datapath', async () => {
    const installed = Array.from({ length: 5 }, (_, i) => flow(i));
    const { sessionStore, poller, commits } = await harness([]);
    const id = await newSession(sessionStore, {});
    await sessions.onApplicationBootstrap();
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_created', flow: f })));
    await waitFor('every flow stored', async () => (commits.length === 5 ? true : undefined), 10_000);
    for (const c of commits) c();
    const s = sessions.active.get(id)!;
    expect(s.selectedFlows.size).toBe(5);
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_removed', flow: f, at: new Date().toISOString(), reason: 'idle' })));
    expect(s.selectedFlows.size).toBe(0);
  });

  // The trace runs after the selection (the queue, ofproto/trace): a flow removed meanwhile was
  // forgotten at its removal, then remembered again once its trace was stored, for good.
  it('forgets a flow removed while its trace waited', async () => {
    const installed = Array.from({ length: 5 }, (_, i) => flow(i));
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { sessionStore, poller, commits } = await harness([], gate);
    const id = await newSession(sessionStore, {});
    await sessions.onApplicationBootstrap();
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_created', flow: f })));
    poller.emit('cycle', installed.map((f) => ({ type: 'ukey_removed', flow: f, at: new Date().toISOString(), reason: 'idle' })));
    open();
    await waitFor('every flow stored', async () => (commits.length === 5 ? true : undefined), 10_000);
    for (const c of commits) c();
    expect(sessions.active.get(id)!.selectedFlows.size).toBe(0);
  });
});
