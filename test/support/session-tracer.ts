// One agent's real trace-session service and tracer (its real trace queue and token bucket) on a
// real migrated SQLite file, for specs of what the tracer does for a session's selection (maxTraces,
// includeExisting, the queue). Stand-ins: the poller (the installed flows the test gives, its cycles
// emitted by the test), the replicas (sessionAgentsOnOneFile's), and what each spec gives:
// ofproto/trace, the path recorder and the tracer's metrics.
import { EventEmitter } from 'node:events';
import type { DatapathPorts } from '../../src/collectors/datapath-ports';
import type { LiveFlow } from '../../src/collectors/datapath-diff';
import type { FlowTracer } from '../../src/collectors/flow-tracer';
import type { PollerService } from '../../src/collectors/poller.service';
import type { TracerMetrics } from '../../src/collectors/tracer-metrics';
import type { LivetraceConfig } from '../../src/config/config.schema';
import type { StoreService } from '../../src/storage/store.service';
import { TracerService } from '../../src/collectors/tracer.service';
import { parseDumpLine } from '../../src/ovs/dump-flows';
import type { PathRecorder } from '../../src/paths';
import { emptyStats, type TraceSessionJson } from '../../src/trace-sessions/trace-session-store';
import { sessionAgentsOnOneFile } from './session-agents';

/** An installed ICMP echo flow from vif1 as the poller holds it: UFID, ICMP code and row id from `i`. */
export function installedFlow(i: number): LiveFlow {
  const line = `ufid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}, recirc_id(0),in_port(vif1),eth(src=50:54:00:00:00:01,dst=50:54:00:00:00:02),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=${i}), packets:1, bytes:98, used:0.1s, actions:2`;
  const d = parseDumpLine(line)!;
  const at = new Date().toISOString();
  return { ufid: d.ufid!, dbId: i + 1, firstSeen: at, lastSeen: at, inPort: 'vif1', recircId: 0, key: '', actions: '2', packets: 1, bytes: 98, used: at, recircTargets: [], flow: d };
}

export interface TracerParts {
  /** Or made from the config and the poller stand-in (a real FlowTracer over them). */
  flowTracer: FlowTracer | ((cfg: LivetraceConfig, poller: PollerService) => FlowTracer);
  paths: PathRecorder;
  /** Counted nowhere unless given; or made from the store (TracerMetrics reads the shipper's count). */
  metrics?: TracerMetrics | ((store: StoreService) => TracerMetrics);
  /** More settings (LIVETRACE_TRACE_METHOD). */
  env?: Record<string, string>;
}

/**
 * hv1's session service and tracer on a new SQLite file in a folder named from `prefix`, the
 * tracer started (LIVETRACE_TRACE_RATE high enough that the rate never waits); the sessions are
 * not taken up until the spec says (sessions.onApplicationBootstrap). close: the tracer stopped,
 * then the agent and the store.
 */
export async function sessionTracer(prefix: string, installed: LiveFlow[], parts: TracerParts) {
  const { cfg, store, sessions: sessionStore, agents: [sessions], close: closeAgents } = await sessionAgentsOnOneFile(prefix, ['hv1'], { LIVETRACE_TRACE_RATE: '100000', ...parts.env });
  const poller = Object.assign(new EventEmitter(), {
    table: { parentsOf: () => [], childrenOf: () => [], live: new Map<string, LiveFlow>() },
    liveFlows: () => installed,
    whenSeeded: async () => undefined,
    addBusy: () => undefined,
    chassis: 'hv1',
  });
  const metrics =
    typeof parts.metrics === 'function' ? parts.metrics(store) : (parts.metrics ?? ({ queueDepth: () => undefined, count: () => undefined, stored: () => undefined } as unknown as TracerMetrics));
  const noPorts = { names: () => undefined } as unknown as DatapathPorts;
  const flowTracer = typeof parts.flowTracer === 'function' ? parts.flowTracer(cfg, poller as unknown as PollerService) : parts.flowTracer;
  const tracer = new TracerService(cfg, poller as unknown as PollerService, sessions, flowTracer, parts.paths, noPorts, metrics, store);
  tracer.onApplicationBootstrap();
  const close = async (): Promise<void> => {
    await tracer.beforeApplicationShutdown();
    await closeAgents();
  };
  /** An active session of hv1 on br-int selecting icmp, stored; `over`, what differs. Its id. */
  const newSession = (over: Partial<Pick<TraceSessionJson, 'maxTraces' | 'includeExisting' | 'expiresAt'>>): Promise<number> =>
    store.writer.submit((tx) =>
      sessionStore.insert(tx, {
        chassis: 'hv1', createdAt: new Date().toISOString(), bridge: 'br-int', filter: 'icmp', logicalPort: null, maxTraces: null, durationSeconds: null,
        includeExisting: false, crossCheck: false, expiresAt: null, onChassis: null, state: 'active', endedAt: null, stats: emptyStats(), perChassis: {}, ...over,
      }),
    );
  return { cfg, store, sessions, tracer, poller, newSession, close };
}
