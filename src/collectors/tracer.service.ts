// Turns new datapath flows into annotated, stored traces. For each flow an active session wants,
// it asks ovs-vswitchd for the OpenFlow rules behind it (flow-tracer.ts: ofproto/detrace or
// ofproto/trace of the flow's own key, as LIVETRACE_TRACE_METHOD and the daemon allow; every trace
// records which method made it and why), then chains it into its packet's path and stores it.
// A token bucket protects ovs-vswitchd's main thread, the queue is bounded, and every trace
// skipped, dropped or failed is counted, never silent.
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { Counter, Gauge } from 'prom-client';
import type { AnnotatedTrace, TracePort } from '../correlation/types';
import { LIVETRACE_CONFIG } from '../config/config.module';
import { LivetraceConfig } from '../config/config.schema';
import { MetricsService } from '../metrics/metrics.service';
import { ReplicasService } from '../replicas/replicas.service';
import { StoreService } from '../storage/store.service';
import type { WriteContext } from '../storage/writer';
import { ActiveSession, TraceSessionsService } from '../trace-sessions/trace-sessions.service';
import { TraceStore } from '../traces/trace-store';
import { FlowEvent, LiveFlow } from './datapath-diff';
import { FlowTracer, TraceFlowResult } from './flow-tracer';
import { PollerService } from './poller.service';
import { TokenBucket } from './token-bucket';
import { VswitchdService } from './vswitchd.service';
import { PassSummary, pathVerdictOf, PathState, summarise } from './path-state';

/**
 * LIVETRACE_TRACE_METHOD=detrace: when the ukey has no translation cache yet, ask again after these
 * delays (ms) before tracing the key; the flow waits aside, the queue goes on. A cache appears only
 * after the flow carried more packets and a revalidation round followed: measured, continuing
 * flows had one 0.5 s after first sight in 42-100 % of cases (runs differ) and after 1 s in all, one-packet flows
 * never (bench/live/RESULTS-methods.md). One retry at 1 s gets the former; more only delay the latter.
 */
const DETRACE_RETRY_MS = [1000];
const MAX_STORES_IN_FLIGHT = 256;

interface Job {
  flow: LiveFlow;
  sessions: Array<{ session: ActiveSession; how: 'store' | 'decide' }>;
  enqueuedAt: number;
  /** Earlier ofproto/detrace attempts that found no cache (LIVETRACE_TRACE_METHOD=detrace). */
  detraceTries?: number;
}

export interface TraceOutcome {
  traceId?: number;
  trace?: AnnotatedTrace;
  consistent: boolean | null;
  reason?: string;
}

export interface PathUpdate {
  pathId: number;
  traceId: number;
  sessionIds: number[];
  /** Every recirculation the passes queued has its pass, and the packet's fate is known. */
  complete: boolean;
}

@Injectable()
export class TracerService extends EventEmitter<{ pathUpdated: [PathUpdate] }> implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Tracer');
  private readonly queue: Job[] = [];
  private readonly bucket: TokenBucket;
  private working = false;
  private stopped = false;
  private wake: NodeJS.Timeout | undefined;
  /** Datapath flow lifetime (dbId) → its trace and path, for chaining recirculations. */
  private readonly traced = new Map<number, { traceId: number; pathId: number; recircId: number; trace: PassSummary }>();
  private readonly paths = new Map<number, PathState>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly m: { traces: Counter; queue: Gauge; latency: Gauge };
  private readonly flowTracer: FlowTracer;

  constructor(
    @Inject(LIVETRACE_CONFIG) private readonly config: LivetraceConfig,
    private readonly vswitchd: VswitchdService,
    private readonly poller: PollerService,
    private readonly sessions: TraceSessionsService,
    private readonly replicas: ReplicasService,
    private readonly traces: TraceStore,
    private readonly store: StoreService,
    metrics: MetricsService,
  ) {
    super();
    this.bucket = new TokenBucket(config.LIVETRACE_TRACE_RATE);
    const registers = [metrics.registry];
    this.m = {
      traces: new Counter({ name: 'livetrace_traces_total', help: 'Datapath flows handled by the tracer, by outcome', labelNames: ['outcome'], registers }),
      queue: new Gauge({ name: 'livetrace_trace_queue_depth', help: 'Datapath flows waiting to be traced', registers }),
      latency: new Gauge({ name: 'livetrace_trace_latency_seconds', help: 'Time from a flow being seen to its trace being stored (last)', registers }),
    };
    this.flowTracer = new FlowTracer(config.LIVETRACE_TRACE_METHOD, vswitchd, poller, replicas, (outcome) => this.m.traces.inc({ outcome }));
  }

  onApplicationBootstrap(): void {
    this.poller.scope = () => this.sessions.inPortScope();
    this.poller.on('cycle', (events) => this.onCycle(events));
    this.sessions.on('created', (s) => {
      if (s.json.includeExisting) void this.includeExisting(s);
    });
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.wake) clearTimeout(this.wake);
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  private onCycle(events: FlowEvent[]): void {
    // Parents before their recirculations (recirc ids grow along a packet's passes), so a
    // session that selects a packet's first pass selects the others with it.
    const ordered = [...events].sort((a, b) => a.flow.recircId - b.flow.recircId);
    for (const e of ordered) {
      if (e.type === 'ukey_removed' && e.flow.dbId !== undefined) {
        // Keep chaining info a little: children of a removed parent may still be traced.
        const dbId = e.flow.dbId;
        setTimeout(() => this.traced.delete(dbId), 60_000).unref();
      }
      if (e.type !== 'ukey_created') continue;
      this.consider(e.flow);
    }
  }

  private consider(flow: LiveFlow, only?: ActiveSession): void {
    if (!this.sessions.active.size) return;
    const parents = this.poller.table.parentsOf(flow);
    let picked = this.sessions.select(flow, parents, this.flowTracer.portNamesCache);
    if (only) picked = picked.filter((p) => p.session === only);
    if (!picked.length) return;
    for (const p of picked) {
      this.sessions.count(p.session, 'selected');
      if (flow.dbId !== undefined) p.session.selectedFlows.add(flow.dbId);
    }
    if (this.queue.length >= this.config.LIVETRACE_TRACE_QUEUE) {
      this.m.traces.inc({ outcome: 'dropped_queue_full' });
      for (const p of picked) this.sessions.count(p.session, 'dropped');
      return;
    }
    this.queue.push({ flow, sessions: picked, enqueuedAt: Date.now() });
    this.m.queue.set(this.queue.length);
    this.kick();
  }

  private async includeExisting(s: ActiveSession): Promise<void> {
    // Parents first, so their recirculations are selected with them.
    const flows = this.poller.liveFlows().sort((a, b) => a.recircId - b.recircId);
    for (let i = 0; i < flows.length; i++) {
      this.consider(flows[i], s);
      // Tens of thousands of installed flows: let the API and the poller breathe.
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
  }

  private kick(): void {
    if (this.working || this.stopped) return;
    this.working = true;
    void this.work().finally(() => (this.working = false));
  }

  private async work(): Promise<void> {
    while (this.queue.length && !this.stopped) {
      const wait = this.bucket.take();
      if (wait > 0) {
        await new Promise((r) => (this.wake = setTimeout(r, wait)));
        continue;
      }
      const job = this.queue.shift()!;
      this.m.queue.set(this.queue.length);
      const live = job.sessions.filter((s) => s.session.json.state === 'active');
      if (!live.length) {
        this.m.traces.inc({ outcome: 'skipped_session_ended' });
        continue;
      }
      try {
        await this.traceJob({ ...job, sessions: live });
      } catch (err) {
        this.log.warn(`trace of ${job.flow.ufid} failed: ${(err as Error).message}`);
        this.m.traces.inc({ outcome: 'failed_error' });
        for (const s of live) this.sessions.fail(s.session, 'error');
      }
    }
  }

  private async traceJob(job: Job): Promise<void> {
    const { flow } = job;
    const tries = job.detraceTries ?? 0;
    const mayWait = this.config.LIVETRACE_TRACE_METHOD === 'detrace' && tries < DETRACE_RETRY_MS.length;
    const result = await this.traceFlow(flow, { waitForCache: mayWait, detraceTries: tries });
    if (result.kind === 'cache_pending') {
      // Aside, not in the queue: the flows behind it are not held up while its cache is built.
      this.m.traces.inc({ outcome: 'detrace_cache_wait' });
      const again = { ...job, detraceTries: tries + 1 };
      setTimeout(() => {
        if (this.stopped) return;
        this.queue.push(again);
        this.m.queue.set(this.queue.length);
        this.kick();
      }, DETRACE_RETRY_MS[tries]).unref();
      return;
    }
    if (result.kind === 'failed') {
      this.m.traces.inc({ outcome: `failed_${result.reason}` });
      for (const s of job.sessions) this.sessions.fail(s.session, result.reason);
      return;
    }
    for (const s of job.sessions) this.sessions.count(s.session, 'traced');
    const wanted = job.sessions.filter(
      (s) => s.how === 'store' || result.trace.ports.some((p) => p.logicalPort === s.session.json.logicalPort),
    );
    for (const s of job.sessions) if (!wanted.includes(s)) this.sessions.count(s.session, 'notSelected');
    if (!wanted.length) {
      this.m.traces.inc({ outcome: 'not_selected' });
      return;
    }
    for (const s of wanted) if (flow.dbId !== undefined) s.session.selectedFlows.add(flow.dbId);
    // The next ofproto/trace does not wait for this commit: the writer batches many traces per
    // transaction. Stores stay in order (one writer queue), and their number in flight is bounded.
    const stored = this.storeFlowTrace(flow, result.trace, result.consistent, result.reason, wanted[0].session.json.id, wanted.map((w) => w.session.json.id), result.methodReason).then(
      () => {
        for (const s of wanted) this.sessions.count(s.session, 'stored');
        this.m.traces.inc({ outcome: 'stored' });
        this.m.latency.set((Date.now() - job.enqueuedAt) / 1000);
      },
      (err: Error) => {
        this.log.warn(`storing the trace of ${flow.ufid} failed: ${err.message}`);
        this.m.traces.inc({ outcome: 'failed_store' });
        for (const s of wanted) this.sessions.fail(s.session, 'store');
      },
    );
    this.inflight.add(stored);
    void stored.finally(() => this.inflight.delete(stored));
    if (this.inflight.size >= MAX_STORES_IN_FLIGHT) await Promise.race(this.inflight);
  }

  /** Resolves when every trace handed to the writer is committed (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  /** The rules behind an installed flow, annotated, with the method used and why (flow-tracer.ts). */
  traceFlow(flow: LiveFlow, opts: { waitForCache?: boolean; detraceTries?: number } = {}): Promise<TraceFlowResult> {
    return this.flowTracer.traceFlow(flow, opts);
  }

  /** Stores a flow's trace, chaining it into its packet's path by the recirculation edges. */
  async storeFlowTrace(
    flow: LiveFlow,
    trace: AnnotatedTrace,
    consistent: boolean | null,
    reason: string | undefined,
    sessionId: number | null,
    sessionIds: number[] = sessionId === null ? [] : [sessionId],
    methodReason: string | null = null,
  ): Promise<number> {
    const neighbours = [...this.poller.table.parentsOf(flow), ...this.poller.table.childrenOf(flow)]
      .map((f) => f.dbId)
      .filter((id): id is number => id !== undefined);
    const ancestors = this.ancestorsOf(flow);
    const portUuids = this.portUuids(trace.ports);
    const chassis = this.poller.chassis;
    const now = new Date().toISOString();
    const { traceId, pathId } = await this.store.writer.submit((tx) => {
      // Passes are traced in any order (recirculation ids are reused, so they cannot order them):
      // a pass that links two paths already stored merges them into one.
      // A path is one packet: it never holds two passes with the same recirc id. A megaflow
      // shared by several packets' passes (its children) stays in the first packet's path.
      const linked = [...new Set(neighbours.map((id) => this.traced.get(id)?.pathId).filter((id): id is number => id !== undefined))]
        .filter((id) => !this.paths.get(id)?.hasRecirc(flow.recircId))
        .sort((a, b) => a - b);
      let pathId = linked[0];
      if (pathId === undefined) {
        pathId = Number(
          tx.stmt('INSERT INTO path (chassis, created_at, updated_at, verdict) VALUES (?, ?, ?, ?)').run(chassis, now, now, '{}').lastInsertRowid,
        );
        // Earlier passes this packet shares with others (megaflows) stay in the first packet's
        // path, but they are this packet's passes too: its path sees their ports and verdicts.
        const state = new PathState();
        for (const a of ancestors) {
          const t = this.traced.get(a);
          if (t) state.add(t.traceId, t.recircId, t.trace);
        }
        this.paths.set(pathId, state);
      }
      const sharedWith: number[] = [];
      for (const other of linked.slice(1)) {
        const a = this.paths.get(pathId)?.recircIds() ?? new Set<number>();
        const b = this.paths.get(other)?.recircIds() ?? new Set<number>();
        if (![...b].some((r) => a.has(r))) this.mergePaths(tx, pathId, other);
        else sharedWith.push(other);
      }
      const id = this.traces.insert(tx, {
        trace,
        chassis,
        createdAt: now,
        ufid: flow.ufid,
        datapathFlowId: flow.dbId ?? null,
        sessionId,
        pathId,
        consistent,
        consistentReason: reason ?? null,
        methodReason,
        portUuids,
      });
      if (flow.dbId !== undefined) this.traced.set(flow.dbId, { traceId: id, pathId, recircId: flow.recircId, trace: summarise(trace) });
      this.addToPath(tx, pathId, id, flow, trace, portUuids, now);
      // A pass shared by several packets (a megaflow after their recirculation, e.g. the backend's
      // output flow of a load-balanced connection's packets) is stored in one packet's path; the
      // other packets' paths see it too, as they see shared ancestors, or they stay incomplete.
      for (const other of sharedWith) {
        const st = this.paths.get(other);
        if (!st || st.hasRecirc(flow.recircId)) continue;
        st.add(id, flow.recircId, trace);
        tx.stmt('UPDATE path SET verdict = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(pathVerdictOf(st)), now, other);
      }
      return { traceId: id, pathId };
    });
    const state = this.paths.get(pathId);
    if (state) {
      const v = pathVerdictOf(state);
      this.emit('pathUpdated', { pathId, traceId, sessionIds, complete: !v.incomplete && !(v.kinds.length === 1 && v.kinds[0] === 'recirculate') });
    }
    return traceId;
  }

  /** The earlier passes of this flow's packet (one parent per level, nearest first), by dbId. */
  private ancestorsOf(flow: LiveFlow): number[] {
    const out: number[] = [];
    const seen = new Set<LiveFlow>([flow]);
    let cur = flow;
    for (let depth = 0; depth < 16; depth++) {
      const parent = this.poller.table.parentsOf(cur).find((p) => !seen.has(p));
      if (!parent) break;
      seen.add(parent);
      if (parent.dbId !== undefined) out.push(parent.dbId);
      cur = parent;
    }
    return out;
  }

  /** Moves every pass of path `from` into path `into` (same packet, found out late). */
  private mergePaths(tx: WriteContext, into: number, from: number): void {
    tx.stmt('UPDATE trace SET path_id = ? WHERE path_id = ?').run(into, from);
    tx.stmt('DELETE FROM path WHERE id = ?').run(from);
    const target = this.paths.get(into) ?? new PathState();
    const source = this.paths.get(from);
    if (source) target.absorb(source);
    this.paths.set(into, target);
    this.paths.delete(from);
    for (const [dbId, t] of this.traced) if (t.pathId === from) this.traced.set(dbId, { ...t, pathId: into });
  }

  private addToPath(tx: WriteContext, pathId: number, traceId: number, flow: LiveFlow, trace: AnnotatedTrace, uuids: Map<string, string>, now: string): void {
    let p = this.paths.get(pathId);
    if (!p) this.paths.set(pathId, (p = new PathState()));
    p.add(traceId, flow.recircId, trace);
    // Every pass of the packet carries the ports of the whole path (scope 'path').
    const all = p.ports();
    const known = new Map([...this.portUuids(all), ...uuids]);
    const ports = all.map((x) => ({ name: x.logicalPort, uuid: known.get(x.logicalPort) ?? null, bindingUuid: x.portBindingUuid, datapath: x.datapath, role: x.role }));
    for (const id of p.traceIds) this.traces.addPathPorts(tx, id, ports);
    tx.stmt('UPDATE path SET verdict = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(pathVerdictOf(p)), now, pathId);
    if (this.paths.size > 50_000) this.paths.delete(this.paths.keys().next().value!);
  }

  private portUuids(ports: readonly TracePort[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const p of ports) {
      const row = this.replicas.nb.find('Logical_Switch_Port', 'name', p.logicalPort)[0] ?? this.replicas.nb.find('Logical_Router_Port', 'name', p.logicalPort)[0];
      if (row) out.set(p.logicalPort, row._uuid);
    }
    return out;
  }

  /** On demand: trace one installed flow now (still rate-limited) and store it. */
  async traceNow(flow: LiveFlow): Promise<TraceOutcome> {
    const wait = this.bucket.take();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const r = await this.traceFlow(flow);
    if (r.kind !== 'ok') {
      this.m.traces.inc({ outcome: `failed_${r.kind === 'failed' ? r.reason : 'cache_pending'}` });
      return { consistent: null, reason: r.message };
    }
    const traceId = await this.storeFlowTrace(flow, r.trace, r.consistent, r.reason, null, [], r.methodReason);
    this.m.traces.inc({ outcome: 'stored' });
    return { traceId, trace: r.trace, consistent: r.consistent, reason: r.reason };
  }
}
