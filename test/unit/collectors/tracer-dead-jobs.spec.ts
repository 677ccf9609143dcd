// The trace queue's jobs whose sessions want nothing more (ended, or maxTraces reached by what is
// stored and on its way) must not spend the token bucket that protects ovs-vswitchd
// (LIVETRACE_TRACE_RATE): includeExisting over the installed flows queues one job a flow, and a
// session with a small maxTraces leaves nearly all of them dead. Each took a token before it was
// found dead, so at the configured 200/s and 10,000 installed flows another session's new flows
// waited ~50 s behind them (and were dropped once the queue was full). The real session service,
// trace queue and token bucket (its take() counted, not replaced) on a real migrated SQLite store;
// stand-ins for the poller's installed flows, ofproto/trace (an answer at once) and the path
// recorder (a store that commits at once).
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { TokenBucket } from '../../../src/common/token-bucket';
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

describe('trace jobs no session wants any more', () => {
  let ds: DataSource;
  let store: StoreService;
  let sessions: TraceSessionsService;
  let tracer: TracerService;
  afterEach(async () => {
    jest.restoreAllMocks();
    await tracer?.beforeApplicationShutdown();
    await sessions?.beforeApplicationShutdown();
    await store.beforeApplicationShutdown();
    await store.onApplicationShutdown();
    await ds.destroy();
  });

  it('take no token of the rate that protects ovs-vswitchd', async () => {
    const installed = Array.from({ length: 20 }, (_, i) => flow(i));
    const take = jest.spyOn(TokenBucket.prototype, 'take');
    const file = join(mkdtempSync(join(tmpdir(), 'livetrace-dead-jobs-')), 'db.sqlite');
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
    const flowTracer = { traceFlow: async () => (traced++, { kind: 'ok', trace: { ports: [] }, consistent: true, methodReason: 'trace' }) } as unknown as FlowTracer;
    let stored = 0;
    const paths = { record: async () => ({ traceId: ++stored, pathId: 1, complete: null }), forgetLater: () => undefined } as unknown as PathRecorder;
    const skipped: string[] = [];
    const metrics = { queueDepth: () => undefined, count: (what: string) => skipped.push(what), stored: () => undefined } as unknown as TracerMetrics;
    tracer = new TracerService(cfg, poller, sessions, flowTracer, paths, { names: () => undefined } as unknown as DatapathPorts, metrics, store);
    tracer.onApplicationBootstrap();
    const id = await store.writer.submit((tx) =>
      sessionStore.insert(tx, {
        chassis: 'hv1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: 'icmp', logicalPort: null, maxTraces: 1, durationSeconds: null,
        includeExisting: true, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null, stats: emptyStats(), perChassis: {},
      }),
    );
    take.mockClear();
    await sessions.onApplicationBootstrap(); // takes the session up: includeExisting queues the 20 flows
    await waitFor('the queue drained', async () => (tracer.queueDepth === 0 ? true : undefined), 10_000);
    await (tracer as unknown as { queue: { stop(): Promise<void> } }).queue.stop();
    await waitFor('the session completed', async () => ((await sessions.get(id)).state === 'completed' ? true : undefined), 10_000);

    expect(traced).toBe(1);
    expect(stored).toBe(1);
    expect(skipped.filter((s) => s === 'skipped_session_ended')).toHaveLength(19);
    // One token for the one pass traced; the 19 dead jobs none.
    expect(take.mock.results.filter((r) => r.value === 0)).toHaveLength(1);
  });
});
